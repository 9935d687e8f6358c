"""Generate a deterministic synthetic workforce sized by the real March 2025 OPM headcounts
(2,289,472 people at --scale 1), with addresses on each agency's own .gov domain.

Needs the federal data (run load_federal_data first). Uses COPY on PostgreSQL."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from agencies import workforce
from agencies.models import Agency
from core.progress import Progress


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--scale", type=float, default=1.0, help="Fraction of the real headcount (default 1.0 = 2.29M)."
        )
        parser.add_argument("--seed", type=int, default=2025, help="Random seed (same seed, same people).")
        parser.add_argument(
            "--replace", action="store_true", help="Delete an earlier run's synthetic people first."
        )
        parser.add_argument(
            "--seats",
            type=float,
            default=0.0,
            metavar="RATE",
            help="Also give this share of the people seats in a 'Scale test program' (e.g. 0.6).",
        )

    def handle(self, *args, scale: float, seed: int, replace: bool, seats: float, **options) -> None:
        if not 0 < scale <= 1:
            raise CommandError("--scale must be more than 0 and at most 1.")
        if not Agency.objects.exists():
            raise CommandError("No agencies yet: run `manage.py load_federal_data` first.")
        if not 0 <= seats <= 1:
            raise CommandError("--seats must be between 0 and 1.")
        existing = workforce.existing_synthetic()
        if existing and not replace and seats:
            self._seats(seats, seed)
            return
        if existing and not replace:
            raise CommandError(
                f"{existing:,} synthetic employees exist already. Run with --replace to generate them again."
            )
        if existing:
            self.stdout.write(
                f"Deleting {workforce.delete_synthetic():,} synthetic employees from the last run…"
            )
        quotas = workforce.plan_quotas(scale)
        total = sum(q.count for q in quotas)
        fallback = sum(q.count for q in quotas if not q.real_domain)
        self.stdout.write(
            f"Generating {total:,} employees in {len(quotas)} agencies (seed {seed}, scale {scale})."
        )
        progress = Progress("employees", total, self.stdout)
        started = time.monotonic()
        written = workforce.write(workforce.synthetic_rows(quotas, seed, timezone.now()), total, progress)
        progress.finish()
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {written:,} employees in {elapsed:.1f}s ({written / max(elapsed, 1e-9):,.0f}/s)."
            )
        )
        if fallback:
            self.stdout.write(
                f"  {fallback:,} of them work for agencies with no federal-executive .gov domain in the "
                "registry (the Smithsonian, USAID, GPO...); their addresses use <agency-slug>.example."
            )
        if seats:
            self._seats(seats, seed)

    def _seats(self, rate: float, seed: int) -> None:
        from seats.scale import generate_seats

        started = time.monotonic()
        count = generate_seats(rate, seed, lambda total: Progress("seats", total, self.stdout))
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {count:,} seats in {time.monotonic() - started:.1f}s (Scale test program)."
            )
        )
