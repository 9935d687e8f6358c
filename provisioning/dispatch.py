"""Hand queued jobs to Celery once the transaction that wrote them has committed.

Publishing is best effort: if the broker is down the rows are still in the outbox, due, and the
sweeper (``provisioning.sweep_outbox`` on beat) delivers them when it is back. Nothing is lost
between the commit and the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Fail fast when the broker is away: the sweeper is the retry, not the web request.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def publish(task: Any, args: tuple, *, what: str) -> bool:
    """Publish one task message, failing fast; False (and a warning) when the broker cannot take
    it. Callers publish work that is already committed and swept for: the sweep is the retry."""
    try:
        task.apply_async(args=args, retry_policy=PUBLISH_RETRY)
    except Exception:
        logger.warning("broker unreachable: %s stay for the sweeper", what, exc_info=True)
        return False
    return True


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
