"""``create_api_token <username> --name <name> [--scope read|read_write] [--days N]``: prints a token once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.actors import Actor
from core.api_tokens import MAX_LIFETIME_DAYS, api_token_create
from core.errors import DomainError
from core.models import ApiToken


class Command(BaseCommand):
    help = "Make a personal API token for a user and print it once (only its hash is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What will use the token, e.g. 'HR sync job'.")
        parser.add_argument("--scope", choices=ApiToken.Scope.values, default=ApiToken.Scope.READ)
        parser.add_argument("--days", type=int, default=90, help=f"Lifetime, 1 to {MAX_LIFETIME_DAYS} days.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['username']!r}.")
        try:
            issued = api_token_create(
                user=user,
                name=options["name"],
                scope=options["scope"],
                expires_in_days=options["days"],
                actor=Actor.system("create_api_token"),
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        token = issued.token
        self.stderr.write(
            f"Token {token.prefix}… for {user.get_username()} ({token.scope}), "
            f"expires {token.expires_at:%Y-%m-%d}. It is shown once; store it now."
        )
        self.stdout.write(issued.secret)
