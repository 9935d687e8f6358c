from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from core.errors import DomainError
from provisioning.reconcile import program_reconcile
from provisioning.vendor import VendorError
from seats.models import Program


class Command(BaseCommand):
    help = (
        "Compare a program's vendor users with its live seats; report drift both ways, repair with --repair."
    )

    def add_arguments(self, parser):
        parser.add_argument("program", help="The program's slug.")
        parser.add_argument(
            "--repair", action="store_true", help="Queue the vendor calls that fix the drift."
        )
        parser.add_argument("--limit", type=int, default=50, help="Drift lines to print per kind.")

    def handle(self, *args, program, repair, limit, **options):
        found = Program.objects.filter(slug=program).first()
        if found is None:
            slugs = ", ".join(Program.objects.values_list("slug", flat=True)[:20]) or "none yet"
            raise CommandError(f"No program {program!r}. Programs: {slugs}.")
        try:
            report = program_reconcile(program=found, repair=repair, actor=Actor.system("reconcile command"))
        except (DomainError, VendorError) as exc:
            raise CommandError(str(exc)) from exc
        counts = report.counts()
        self.stdout.write(
            f"{found.name}: {counts['vendor_users']:,} users at the vendor, "
            f"{counts['live_seats']:,} live seats."
        )
        labels = {
            "missing": "seats active here but missing or inactive at the vendor",
            "unlinked": "seats whose vendor user we had not linked",
            "orphaned": "active vendor users with no live seat here",
        }
        for kind, label in labels.items():
            rows = report.of(kind)
            self.stdout.write(f"{len(rows):,} {label}")
            for drift in rows[:limit]:
                fix = f"  -> {drift.repaired}" if drift.repaired else ""
                seat, vendor = drift.seat_id or "-", drift.vendor_user_id or "-"
                self.stdout.write(f"  {drift.user_name} seat={seat} vendor={vendor}{fix}")
        if report.drift and not repair:
            self.stdout.write("Run again with --repair to fix the drift.")
        elif not report.drift:
            self.stdout.write(self.style.SUCCESS("No drift."))
