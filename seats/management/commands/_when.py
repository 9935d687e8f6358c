"""Shared option parsing for the lifecycle commands: ``--now`` to run as of another moment."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def parse_now(value: str | None) -> datetime:
    if not value:
        return timezone.now()
    moment = parse_datetime(value)
    if moment is None:
        raise CommandError(
            f"--now {value!r} is not a date and time; use ISO 8601, e.g. 2026-10-01T00:00:00Z."
        )
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)
