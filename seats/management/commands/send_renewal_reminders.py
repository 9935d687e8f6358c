from __future__ import annotations

from django.core.management.base import BaseCommand

from seats.lifecycle import renewal_reminders_send
from seats.management.commands._when import parse_now


class Command(BaseCommand):
    help = (
        "Remind agency administrators 60, 30, 7 and 1 days before a pool's term ends and seat holders "
        "7 days before; each reminder is sent once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Run as of this moment (ISO 8601); default: now.")

    def handle(self, *args, **options):
        counts = renewal_reminders_send(now=parse_now(options["now"]))
        self.stdout.write(
            f"Recorded {counts['admin']:,} reminders to administrators and {counts['employee']:,} to seat "
            "holders; they are sent after commit."
        )
