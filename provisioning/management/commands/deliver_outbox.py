from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from provisioning.outbox import job_deliver
from provisioning.selectors import jobs_due_ids


class Command(BaseCommand):
    help = "Deliver due vendor jobs in this process, without a Celery worker (operations and demos)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000)

    def handle(self, *args, limit, **options):
        tally: dict[str, int] = {}
        for job_id in jobs_due_ids(now=timezone.now(), limit=limit):
            outcome = job_deliver(job_id=job_id)
            tally[outcome.state] = tally.get(outcome.state, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(tally.items())) or "nothing due"
        self.stdout.write(f"Outbox: {summary}.")
