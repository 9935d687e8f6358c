"""Handing committed work to Celery, best effort.

Everything the platform queues is already written down (an outbox row, an import in its state,
a group member without a grant), and a beat sweep finds what no worker took. So a web request
never fails because the broker is away: publishing retries once, quickly, then logs and leaves
the work to the sweep.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

# Fail fast when the broker is away: the sweep is the retry, not the web request.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def publish(task: Any, args: tuple, *, what: str) -> bool:
    """Publish one task message; False (and a warning naming ``what``) when the broker cannot take it."""
    try:
        task.apply_async(args=args, retry_policy=PUBLISH_RETRY)
    except Exception:
        logger.warning("broker unreachable: %s stay for the sweeper", what, exc_info=True)
        return False
    return True
