"""Writes to the provisioning outbox. Always inside the transaction of the seat change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from provisioning.dispatch import dispatch_after_commit
from provisioning.models import ProvisioningJob


@transaction.atomic(savepoint=False)
def job_enqueue(*, seat_id: int, action: str, at: datetime | None = None) -> ProvisioningJob:
    """Owe the vendor one call for a seat; delivery is dispatched to Celery after commit."""
    job = ProvisioningJob.objects.create(seat_id=seat_id, action=action, next_attempt_at=at or timezone.now())
    dispatch_after_commit([job.pk])
    return job


@transaction.atomic(savepoint=False)
def jobs_enqueue_many(*, seat_ids: Iterable[int], action: str, at: datetime | None = None) -> int:
    when = at or timezone.now()
    jobs = [ProvisioningJob(seat_id=seat_id, action=action, next_attempt_at=when) for seat_id in seat_ids]
    ProvisioningJob.objects.bulk_create(jobs, batch_size=5000)
    dispatch_after_commit([job.pk for job in jobs])
    return len(jobs)


@transaction.atomic(savepoint=False)
def jobs_cancel_queued(*, seat_id: int, action: str) -> int:
    """A create that has not gone out yet is moot once the seat ends."""
    return ProvisioningJob.objects.filter(
        seat_id=seat_id, action=action, state=ProvisioningJob.State.QUEUED
    ).update(state=ProvisioningJob.State.CANCELLED, finished_at=timezone.now())
