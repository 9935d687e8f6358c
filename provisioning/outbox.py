"""Delivering the outbox: the services behind the Celery tasks.

A delivery runs in three short steps so no database transaction is held open across a network
call:

1. *Lease* the job: one conditional UPDATE moves ``next_attempt_at`` a lease ahead and counts the
   attempt. Only one worker can win it; a duplicate message (from the sweeper or a broker
   redelivery) finds nothing due and returns. If the worker dies mid-call the lease runs out and
   the sweeper hands the job out again.
2. *Call* the vendor, outside any transaction. Every call is idempotent (see ``ScimConnector``).
3. *Record* the outcome in one transaction with the seat row locked, so a revoke that raced with
   a create either sees the vendor id (and queues the deactivation) or has already cancelled the
   job (and then this step queues the deactivation): the vendor user never outlives the seat.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.actors import Actor, ActorLike
from audit.services import audit_record, audit_record_many
from core.errors import JobNotRetryable
from provisioning.dispatch import dispatch_after_commit
from provisioning.models import ProvisioningJob
from provisioning.services import job_enqueue
from provisioning.vendor import ScimConnector, VendorError, VendorUser, person_for, scim_connector_for
from seats.models import Program, Seat

logger = logging.getLogger(__name__)

OUTBOX = Actor.system("provisioning")
Job = ProvisioningJob
ENSURE_ACTIVE = (Job.Action.CREATE, Job.Action.REACTIVATE, Job.Action.UPDATE)


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery attempt."""

    state: str  # delivered | retry | failed | skipped
    retry_at: datetime | None = None
    detail: str = ""


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential with equal jitter, never sooner than Retry-After.

    Half the delay is fixed and half random, so a vendor outage does not end with every job
    retrying in the same second.
    """
    base = settings.PROVISIONING_BACKOFF_BASE_SECONDS
    ceiling = min(settings.PROVISIONING_BACKOFF_CAP_SECONDS, base * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.PROVISIONING_RETRY_AFTER_CAP_SECONDS))
    return delay


def _lease(job_id: int, now: datetime) -> bool:
    lease_until = now + timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)
    with transaction.atomic():
        return bool(
            Job.objects.filter(pk=job_id, state=Job.State.QUEUED, next_attempt_at__lte=now).update(
                attempts=F("attempts") + 1, next_attempt_at=lease_until, updated_at=now
            )
        )


def job_deliver(*, job_id: int, connector: ScimConnector | None = None) -> Outcome:
    """Try one queued job once. Returns quietly (``skipped``) if it is not due or not ours."""
    job = (
        Job.objects.select_related("seat__program", "seat__employee", "seat__allocation")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.state != Job.State.QUEUED:
        return Outcome("skipped", detail="no longer queued")
    if job.seat.program.connector != Program.Connector.SCIM:
        return Outcome("skipped", detail="this program's vendor takes files")
    now = timezone.now()
    if job.action in ENSURE_ACTIVE and not job.seat.is_live:
        _cancel(job, now=now, why="the seat ended before the vendor saw it")
        return Outcome("skipped", detail="seat ended")
    if not _lease(job.pk, now):
        return Outcome("skipped", detail="not due, or another worker has it")
    job.refresh_from_db(fields=["attempts", "next_attempt_at"])
    own = connector is None
    try:
        connector = connector or scim_connector_for(job.seat.program)
    except Exception as exc:
        return _record_failure(job, VendorError(str(exc), retryable=False))
    person = person_for(job.seat.employee)
    try:
        if job.action in ENSURE_ACTIVE:
            user: VendorUser | None = connector.ensure_active(person, job.seat.vendor_user_id)
        else:
            user = connector.deactivate(person, job.seat.vendor_user_id)
    except VendorError as exc:
        return _record_failure(job, exc)
    except Exception as exc:
        # A bug or an answer nobody foresaw: count the attempt like any failure so the job ends
        # failed after its retries instead of being leased again forever.
        logger.exception("job %s: unexpected error talking to the vendor", job.pk)
        return _record_failure(
            job, VendorError(f"unexpected error: {exc.__class__.__name__}: {exc}", retryable=True)
        )
    finally:
        if own:
            connector.close()
    return _record_success(job, user)


def _cancel(job: ProvisioningJob, *, now: datetime, why: str) -> None:
    with transaction.atomic():
        if Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.CANCELLED, finished_at=now, updated_at=now, last_error=why
        ):
            audit_record(
                actor=OUTBOX,
                verb="provisioning.cancel",
                target=job,
                agency_id=job.seat.allocation.agency_id,
                after={"action": job.action, "reason": why},
                at=now,
            )


def _record_success(job: ProvisioningJob, user: VendorUser | None) -> Outcome:
    from seats.services import seat_activate, seat_link_vendor_user

    now = timezone.now()
    with transaction.atomic():
        seat = Seat.objects.select_for_update().select_related("allocation").get(pk=job.seat_id)
        finished = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.DONE, finished_at=now, updated_at=now, last_error="", next_attempt_at=now
        )
        if job.action in ENSURE_ACTIVE and user is not None:
            if seat.state in (Seat.State.PENDING, Seat.State.FAILED):
                seat_activate(seat=seat, actor=OUTBOX, vendor_user_id=user.id)
            elif seat.vendor_user_id != user.id:
                seat_link_vendor_user(seat=seat, vendor_user_id=user.id, actor=OUTBOX)
            if not seat.is_live:
                # The seat ended while the create was on its way: the user must not outlive it.
                job_enqueue(seat_id=seat.pk, action=Job.Action.DEACTIVATE, at=now)
        if finished:
            audit_record(
                actor=OUTBOX,
                verb="provisioning.deliver",
                target=job,
                agency_id=seat.allocation.agency_id,
                after={
                    "action": job.action,
                    "vendor_user_id": user.id if user else "",
                    "attempts": job.attempts,
                },
                at=now,
            )
    return Outcome("delivered")


def _record_failure(job: ProvisioningJob, error: VendorError) -> Outcome:
    from seats.services import seat_mark_failed

    now = timezone.now()
    message = str(error)[:4000]
    if error.retryable and job.attempts < settings.PROVISIONING_MAX_ATTEMPTS:
        retry_at = now + timedelta(seconds=retry_delay(job.attempts, error.retry_after))
        # The outbox row is the record of each try (attempts, last_error); no audit row per retry.
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            next_attempt_at=retry_at, last_error=message, updated_at=now
        )
        logger.info("job %s attempt %s failed, retry at %s: %s", job.pk, job.attempts, retry_at, message)
        return Outcome("retry", retry_at=retry_at, detail=message)
    with transaction.atomic():
        seat = Seat.objects.select_for_update().select_related("allocation").get(pk=job.seat_id)
        failed = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.FAILED, finished_at=now, updated_at=now, last_error=message
        )
        if failed:
            audit_record(
                actor=OUTBOX,
                verb="provisioning.fail",
                target=job,
                agency_id=seat.allocation.agency_id,
                after={"action": job.action, "attempts": job.attempts, "error": message},
                at=now,
            )
            if job.action in ENSURE_ACTIVE and seat.state == Seat.State.PENDING:
                seat_mark_failed(seat=seat, actor=OUTBOX, error=message)
    logger.warning("job %s failed for good after %s attempts: %s", job.pk, job.attempts, message)
    return Outcome("failed", detail=message)


# --- administrators ------------------------------------------------------------------------------
def job_retry(*, job: ProvisioningJob, actor: ActorLike) -> ProvisioningJob:
    """Try a failed vendor call again from the start (a failed create: retry its seat instead)."""
    if job.action in ENSURE_ACTIVE and job.seat.state == Seat.State.FAILED:
        raise JobNotRetryable("This job's seat is marked failed: retry the seat, which queues a new create.")
    now = timezone.now()
    with transaction.atomic():
        moved = Job.objects.filter(pk=job.pk, state=Job.State.FAILED).update(
            state=Job.State.QUEUED, attempts=0, next_attempt_at=now, finished_at=None, updated_at=now
        )
        if not moved:
            raise JobNotRetryable("Only a job that failed after its retries can be retried.")
        audit_record(
            actor=actor,
            verb="provisioning.retry",
            target=job,
            agency_id=job.seat.allocation.agency_id,
            before={"state": Job.State.FAILED},
            after={"state": Job.State.QUEUED},
            at=now,
        )
        dispatch_after_commit([job.pk])
    job.refresh_from_db()
    return job


def jobs_mark_delivered(*, program: Program, keys: Iterable[str], actor: ActorLike) -> int:
    """The vendor loaded our CSV file: its jobs are done and their pending seats are active."""
    keys = list(dict.fromkeys(keys))
    now = timezone.now()
    with transaction.atomic():
        jobs = list(
            Job.objects.select_for_update()
            .filter(key__in=keys, seat__program=program, state=Job.State.QUEUED)
            .values_list("pk", "seat_id", "action", "seat__allocation__agency_id")
        )
        if not jobs:
            return 0
        Job.objects.filter(pk__in=[row[0] for row in jobs]).update(
            state=Job.State.DONE, finished_at=now, updated_at=now, last_error=""
        )
        created = [row[1] for row in jobs if row[2] in ENSURE_ACTIVE]
        activated = list(
            Seat.objects.filter(pk__in=created, state=Seat.State.PENDING).values_list(
                "pk", "allocation__agency_id"
            )
        )
        Seat.objects.filter(pk__in=[pk for pk, _ in activated], state=Seat.State.PENDING).update(
            state=Seat.State.ACTIVE, activated_at=now, updated_at=now, last_error=""
        )
        audit_record_many(
            actor=actor,
            verb="provisioning.deliver",
            target_type="provisioning.provisioningjob",
            rows=[
                (str(pk), agency, f"job {pk}", None, {"action": action, "via": "csv"})
                for pk, _, action, agency in jobs
            ],
            at=now,
        )
        audit_record_many(
            actor=actor,
            verb="seat.activate",
            target_type="seats.seat",
            rows=[
                (str(pk), agency, f"seat {pk}", {"state": Seat.State.PENDING}, {"state": Seat.State.ACTIVE})
                for pk, agency in activated
            ],
            at=now,
        )
    return len(jobs)
