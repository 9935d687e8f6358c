"""What to do when the shared cache (Redis in production) cannot be reached.

The cache speeds things up and keeps counts; it never decides who gets in. So when it is down,
sign-in, SCIM and the API go on: limits counted in the cache are skipped (SCIM counts in the
database instead), and what would have waited in the cache waits in the database. Each outage is
logged, so operations see it, without failing the person in front of the screen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.cache import cache, caches
from redis.exceptions import RedisError

logger = logging.getLogger("core.shared_cache")

# What a cache call raises when Redis is down, refusing, timing out or dropping the connection.
UNREACHABLE: tuple[type[BaseException], ...] = (RedisError, OSError)


def is_shared() -> bool:
    """Whether the configured cache is one every process shares (Redis), not each process's own
    memory: a count or a parked value in a per-process cache is invisible to the other workers."""
    from django.conf import settings

    backend = str(settings.CACHES.get("default", {}).get("BACKEND", ""))
    return not backend.endswith(("LocMemCache", "DummyCache"))


def note_unreachable(doing: str, exc: BaseException) -> None:
    """Log one failed cache call: what was being done, what happened, and what was done instead."""
    logger.warning("shared cache unreachable while %s (%s: %s)", doing, exc.__class__.__name__, exc)


def fixed_window(now: datetime, seconds: int) -> tuple[int, int]:
    """(start of the window ``now`` falls in, seconds until the next one starts), in epoch seconds."""
    epoch = int(now.timestamp())
    start = epoch - epoch % seconds
    return start, start + seconds - epoch


def count_in_window(key: str, *, timeout: int) -> int:
    """Add one to a fixed window's counter in the cache and return the new count (1 opens it).

    ``key`` names the window (its start is part of it); ``timeout`` outlives the window. Two
    processes opening the same window at once both count: ``add`` lets one in, the other adds.
    """
    try:
        return cache.incr(key)
    except ValueError:
        if cache.add(key, 1, timeout=timeout):
            return 1
        return cache.incr(key)  # another process opened the window a moment ago


FALLBACK_ALIAS = "fallback"
# After a failed call, how long the shared cache is passed over (per cache backend instance, which
# Django keeps per thread), so that a Redis that times out rather than refusing costs one timeout,
# not one per call.
PASS_OVER_SECONDS = 10.0


class CacheOrDatabase:
    """A stand-in for ``django.core.cache.cache`` in code we do not own that reads the cache itself
    (allauth's sign-in limits, its marks of used authenticator codes).

    Calls go to the shared cache while it answers and to the database cache
    (``CACHES["fallback"]``) while it does not. So during an outage a staff sign-in neither fails
    nor goes unguarded: failed passwords are still counted and a used code is still refused. What
    was kept in one place is not seen in the other when Redis comes and goes: a limit's count
    starts again, which is the same as a window ending.
    """

    def __init__(self, doing: str) -> None:
        self.doing = doing

    def __getattr__(self, name: str) -> Any:
        primary = caches["default"]
        method = getattr(primary, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if getattr(primary, "_passed_over_until", 0.0) > time.monotonic():
                return self._fallback(name)(*args, **kwargs)
            try:
                return method(*args, **kwargs)
            except UNREACHABLE as exc:
                primary._passed_over_until = time.monotonic() + PASS_OVER_SECONDS  # type: ignore[attr-defined]
                note_unreachable(f"{self.doing} (kept in the database instead)", exc)
                return self._fallback(name)(*args, **kwargs)

        return call

    @staticmethod
    def _fallback(name: str) -> Callable[..., Any]:
        return getattr(caches[FALLBACK_ALIAS], name)
