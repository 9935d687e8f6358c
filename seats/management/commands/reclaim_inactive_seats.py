from __future__ import annotations

from django.core.management.base import BaseCommand

from seats.lifecycle import seats_reclaim_inactive
from seats.management.commands._when import parse_now


class Command(BaseCommand):
    help = (
        "Apply each agency's inactivity policy: notice, grace period, then revoke (the waitlist is served)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Run as of this moment (ISO 8601); default: now.")

    def handle(self, *args, **options):
        counts = seats_reclaim_inactive(now=parse_now(options["now"]))
        self.stdout.write(
            f"Sent {counts['noticed']:,} reclaim notices, revoked {counts['revoked']:,} seats, "
            f"kept {counts['kept']:,} whose holders came back."
        )
