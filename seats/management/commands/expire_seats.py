from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from audit.actors import Actor
from seats.management.commands._when import parse_now
from seats.services import seats_expire


class Command(BaseCommand):
    help = "End every live seat whose term is over (in batches; safe to run twice, even at once)."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Expire as of this moment (ISO 8601); default: now.")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--method", choices=["auto", "orm", "sql"], default="auto")

    def handle(self, *args, **options):
        started = time.monotonic()
        expired = seats_expire(
            now=parse_now(options["now"]),
            actor=Actor.system("expire_seats command"),
            batch_size=options["batch_size"],
            method=options["method"],
        )
        self.stdout.write(f"Expired {expired:,} seats in {time.monotonic() - started:.1f}s.")
