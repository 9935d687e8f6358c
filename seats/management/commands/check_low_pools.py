from __future__ import annotations

from django.core.management.base import BaseCommand

from seats.lifecycle import pools_check_low


class Command(BaseCommand):
    help = "Alert administrators of pools whose free seats fell under 10% (once per fall)."

    def handle(self, *args, **options):
        counts = pools_check_low()
        self.stdout.write(f"Opened {counts['opened']} low-pool alerts, closed {counts['closed']}.")
