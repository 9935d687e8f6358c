"""Hand queued jobs to Celery once the transaction that wrote them has committed.

Publishing is best effort: if the broker is down the rows are still in the outbox, due, and the
sweeper (``provisioning.sweep_outbox`` on beat) delivers them when it is back. Nothing is lost
between the commit and the worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

from core.queue import publish


def dispatch_after_commit(job_ids: Sequence[int]) -> None:
    ids = [int(pk) for pk in job_ids]
    if ids:
        transaction.on_commit(lambda: dispatch_now(ids))


def dispatch_now(job_ids: Sequence[int]) -> int:
    """Publish delivery tasks for these jobs, in chunks; returns the number of messages sent."""
    from provisioning.tasks import deliver_jobs

    size = max(1, settings.PROVISIONING_DISPATCH_CHUNK)
    sent = 0
    for start in range(0, len(job_ids), size):
        chunk = list(job_ids[start : start + size])
        sent += publish(deliver_jobs, (chunk,), what=f"{len(chunk)} provisioning jobs")
    return sent
