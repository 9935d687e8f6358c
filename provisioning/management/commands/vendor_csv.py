from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from core.errors import DomainError
from provisioning.outbox import jobs_mark_delivered
from provisioning.vendor.csvfile import csv_jobs, csv_read_keys, csv_write
from seats.models import Program


class Command(BaseCommand):
    help = (
        "For vendors that take files: write the queued seat changes of a program as the vendor's CSV "
        "(--output), then, once the vendor has loaded that file, confirm it (--confirm) to mark its "
        "jobs delivered and its new seats active."
    )

    def add_arguments(self, parser):
        parser.add_argument("program", help="The program's slug (its connector must be csv).")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--output", help="Write the file here ('-' for standard output).")
        group.add_argument("--confirm", help="A file written by --output that the vendor has loaded.")

    def handle(self, *args, program, output, confirm, **options):
        found = Program.objects.filter(slug=program).first()
        if found is None:
            raise CommandError(f"No program {program!r}.")
        if found.connector != Program.Connector.CSV:
            raise CommandError(f"{found.name} does not take files (connector: {found.connector}).")
        if output:
            if output == "-":
                rows = csv_write(csv_jobs(found), sys.stdout)
            else:
                with open(output, "w", newline="", encoding="utf-8") as out:
                    rows = csv_write(csv_jobs(found), out)
            self.stderr.write(
                f"Wrote {rows:,} rows. Send the file to {found.vendor}, then run --confirm with it."
            )
            return
        path = Path(confirm)
        if not path.is_file():
            raise CommandError(f"{confirm} is not a file.")
        try:
            with path.open(encoding="utf-8", newline="") as lines:
                keys = csv_read_keys(lines)
            done = jobs_mark_delivered(program=found, keys=keys, actor=Actor.system("vendor_csv command"))
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Marked {done:,} of the file's {len(keys):,} rows delivered.")
