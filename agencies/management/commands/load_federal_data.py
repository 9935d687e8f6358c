"""Load agencies, sub-agencies, headcounts and .gov domains from the CSVs shipped in
``agencies/data`` (sources in ``agencies/data/SOURCES.md``). Safe to run again: a second run
changes nothing and says so."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from agencies.loader import load_federal_data


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        result = load_federal_data(stdout=self.stdout)
        self.stdout.write("")
        for line in result.summary_lines():
            self.stdout.write(f"  {line}")
        if result.changed:
            self.stdout.write(self.style.SUCCESS("Federal data loaded."))
        else:
            self.stdout.write(self.style.SUCCESS("Nothing to change: the federal data is already loaded."))
