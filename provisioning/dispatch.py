"""Hand queued jobs to Celery once the transaction that wrote them has committed.

Publishing is best effort: if the broker is down the rows are still in the outbox, due, and the
sweeper (``provisioning.sweep_outbox`` on beat) delivers them when it is back. Nothing is lost
between the commit and the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Fail fast when the broker is away: the sweeper is the retry, not the web request.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


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
        try:
            deliver_jobs.apply_async(args=(chunk,), retry_policy=PUBLISH_RETRY)
            sent += 1
        except Exception:
            logger.warning(
                "broker unreachable: %d provisioning jobs stay queued for the sweeper",
                len(chunk),
                exc_info=True,
            )
    return sent
