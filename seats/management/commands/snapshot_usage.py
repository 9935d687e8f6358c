from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date

from seats.lifecycle import usage_snapshot_take


class Command(BaseCommand):
    help = "Record today's seat counts per pool (taking it again the same day replaces them)."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="Label the snapshot with this date (YYYY-MM-DD); default: today.")

    def handle(self, *args, **options):
        day = parse_date(options["day"]) if options["day"] else None
        if options["day"] and day is None:
            raise CommandError(f"--day {options['day']!r} is not a date; use YYYY-MM-DD.")
        self.stdout.write(f"Recorded usage of {usage_snapshot_take(day=day):,} pools.")
