"""Import a roster CSV for an agency: check every line, print the problems, then import in batches
with a progress bar. The same services as the portal's upload, run in this process."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from agencies.models import Agency, RosterImport
from agencies.services import (
    roster_import_cancel,
    roster_import_check,
    roster_import_create,
    roster_import_run,
    roster_import_start,
)
from audit.actors import Actor
from core.errors import DomainError
from core.progress import Progress


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("agency", help="The agency's short name (slug), such as hhs.")
        parser.add_argument("csv", type=Path, help="The roster file.")
        parser.add_argument("--dry-run", action="store_true", help="Check every line; change nothing.")
        parser.add_argument("--batch-size", type=int, default=settings.ROSTER_IMPORT_BATCH_SIZE)
        parser.add_argument("--show", type=int, default=20, help="How many problem lines to print.")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency has the short name {options['agency']!r}.")
        path: Path = options["csv"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        actor = Actor.system("import_roster")
        batch_size = max(1, options["batch_size"])
        try:
            with path.open("rb") as stream:
                roster_import = roster_import_create(
                    agency=agency, upload=File(stream, name=path.name), actor=actor, background=False
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc

        progress = Progress("checking", roster_import.total_rows, stream=self.stdout)
        roster_import = roster_import_check(
            roster_import=roster_import, batch_size=batch_size, on_batch=progress.advance
        )
        progress.finish()
        if roster_import.state == RosterImport.State.FAILED:
            raise CommandError(roster_import.error)
        self.stdout.write(
            f"{roster_import.will_create:,} new, {roster_import.will_update:,} to update, "
            f"{roster_import.will_keep:,} already up to date, {roster_import.invalid_rows:,} with problems."
        )
        for issue in roster_import.issues.order_by("line")[: options["show"]]:
            self.stdout.write(f"  line {issue.line}: {issue.message}")
        if options["dry_run"]:
            roster_import_cancel(roster_import=roster_import, actor=actor)
            self.stdout.write("Dry run: nothing was changed.")
            return

        roster_import_start(roster_import=roster_import, actor=actor, background=False)
        progress = Progress("importing", roster_import.total_rows, stream=self.stdout)
        roster_import = roster_import_run(
            roster_import=roster_import, batch_size=batch_size, on_batch=progress.advance
        )
        progress.finish()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported: {roster_import.created_rows:,} added, {roster_import.updated_rows:,} updated, "
                f"{roster_import.kept_rows:,} already up to date, {roster_import.skipped_rows:,} skipped."
            )
        )
