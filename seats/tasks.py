"""Thin Celery tasks for the seat lifecycle; the schedule is in config/celery.py."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(name="seats.expire_seats", ignore_result=True)
def expire_seats() -> int:
    from seats.services import seats_expire

    return seats_expire()


@shared_task(name="seats.send_renewal_reminders", ignore_result=True)
def send_renewal_reminders() -> dict[str, int]:
    from seats.lifecycle import renewal_reminders_send

    return renewal_reminders_send()


@shared_task(name="seats.reclaim_inactive_seats", ignore_result=True)
def reclaim_inactive_seats() -> dict[str, int]:
    from seats.lifecycle import seats_reclaim_inactive

    return seats_reclaim_inactive()


@shared_task(name="seats.check_low_pools", ignore_result=True)
def check_low_pools() -> dict[str, int]:
    from seats.lifecycle import pools_check_low

    return pools_check_low()


@shared_task(name="seats.snapshot_usage", ignore_result=True)
def snapshot_usage() -> int:
    from seats.lifecycle import usage_snapshot_take

    return usage_snapshot_take()


@shared_task(name="seats.compact_seat_counts", ignore_result=True)
def compact_seat_counts() -> tuple[int, int]:
    from seats.rollup import seat_counts_compact

    return seat_counts_compact()


@shared_task(name="seats.send_notices", ignore_result=True, acks_late=True)
def send_notices(notice_ids: list[int]) -> int:
    from seats.notices import notices_send

    return notices_send(notice_ids=notice_ids)


@shared_task(name="seats.resend_unsent_notices", ignore_result=True)
def resend_unsent_notices() -> int:
    from seats.notices import dispatch_notices, notices_unsent_ids

    ids = notices_unsent_ids(now=timezone.now())
    dispatch_notices(ids)
    return len(ids)
