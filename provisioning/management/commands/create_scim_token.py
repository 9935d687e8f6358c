"""create_scim_token <agency-slug> --name <name>: make a SCIM token and print it, once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agencies.models import Agency
from audit.actors import Actor
from core.errors import DomainError
from provisioning.scim.tokens import scim_token_create


class Command(BaseCommand):
    help = (
        "Create a SCIM bearer token for an agency's identity provider and print it (it is shown only once)."
    )

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("agency", help="the agency's short name (slug), e.g. hhs")
        parser.add_argument("--name", required=True, help="what will use it, e.g. 'Entra ID production'")
        parser.add_argument(
            "--rate-limit", type=int, default=None, help="requests a minute (default from settings)"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(
                f"No agency has the short name {options['agency']!r}; see the admin's agency list."
            )
        try:
            issued = scim_token_create(
                agency=agency,
                name=options["name"],
                actor=Actor.system("create_scim_token"),
                rate_limit_per_minute=options["rate_limit"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"Token “{issued.token.name}” for {agency.name}. Copy it now: "
            "it is not stored and cannot be shown again."
        )
        self.stdout.write(issued.secret)
