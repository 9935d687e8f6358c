"""Thin Celery tasks over the outbox services: ids in, re-read, one service call."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

# Retries further out than this are left to the sweeper instead of a countdown message: a broker
# that redelivers unacked messages after its visibility timeout would duplicate long countdowns.
COUNTDOWN_LIMIT = timedelta(minutes=10)
SWEEP_LIMIT = 5000


@shared_task(name="provisioning.deliver_jobs", ignore_result=True, acks_late=True)
def deliver_jobs(job_ids: list[int]) -> dict[str, int]:
    from provisioning.outbox import job_deliver

    tally: dict[str, int] = {}
    for job_id in job_ids:
        outcome = job_deliver(job_id=int(job_id))
        tally[outcome.state] = tally.get(outcome.state, 0) + 1
        if outcome.retry_at is not None and outcome.retry_at - timezone.now() <= COUNTDOWN_LIMIT:
            deliver_jobs.apply_async(args=([job_id],), eta=outcome.retry_at)
    return tally


@shared_task(name="provisioning.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Re-queue jobs that are due but nobody is delivering (lost message, dead worker, broker down)."""
    from provisioning.dispatch import dispatch_now
    from provisioning.selectors import jobs_due_ids

    grace = timedelta(seconds=settings.PROVISIONING_SWEEP_GRACE_SECONDS)
    ids = jobs_due_ids(now=timezone.now() - grace, limit=SWEEP_LIMIT)
    if ids:
        logger.info("sweeper re-queues %d due provisioning jobs", len(ids))
        dispatch_now(ids)
    return len(ids)


@shared_task(name="provisioning.reconcile_all", ignore_result=True)
def reconcile_all() -> dict[str, dict[str, int]]:
    """Daily: compare every SCIM program's vendor workspace with its seats and repair the drift."""
    from audit.actors import Actor
    from core.errors import DomainError
    from provisioning.reconcile import program_reconcile
    from provisioning.vendor import VendorError
    from seats.models import Program

    summary: dict[str, dict[str, int]] = {}
    for program in Program.objects.filter(connector=Program.Connector.SCIM, is_active=True):
        try:
            report = program_reconcile(program=program, repair=True, actor=Actor.system("reconcile"))
        except (DomainError, VendorError) as exc:
            logger.error("reconcile %s failed: %s", program.slug, exc)
            continue
        summary[program.slug] = report.counts()
    return summary


# --- group-based seats, for groups too large for the administrator's request ---------------------
@shared_task(name="provisioning.scim_group_pool_sync", ignore_result=True, acks_late=True)
def scim_group_pool_sync(mapping_id: int, label: str, kind: str, user_id: int | None) -> int:
    """Give every member of a mapped group their seat; run again, it changes nothing more."""
    from audit.actors import Actor
    from provisioning.scim import grants
    from provisioning.scim.models import ScimGroupPool

    mapping = ScimGroupPool.objects.filter(pk=mapping_id).first()
    if mapping is None:
        return 0  # unmapped before the worker got to it
    return grants.scim_group_pool_sync(mapping=mapping, actor=Actor(label=label, kind=kind, user_id=user_id))


@shared_task(name="provisioning.grants_retry_failed", ignore_result=True, acks_late=True)
def grants_retry_failed(agency_id: int, label: str, kind: str, user_id: int | None) -> int:
    from agencies.models import Agency
    from audit.actors import Actor
    from provisioning.scim import grants

    agency = Agency.objects.filter(pk=agency_id).first()
    if agency is None:
        return 0
    return grants.grants_retry_failed(agency=agency, actor=Actor(label=label, kind=kind, user_id=user_id))


@shared_task(name="provisioning.grants_on_join", ignore_result=True, acks_late=True)
def grants_on_join(group_id: int, label: str, kind: str, user_id: int | None, employee_ids: list[int]) -> int:
    """Seats for the many people one SCIM request added to a mapped group."""
    from audit.actors import Actor
    from provisioning.scim import grants
    from provisioning.scim.models import ScimGroup

    group = ScimGroup.objects.filter(pk=group_id).first()
    if group is None:
        return 0  # deleted meanwhile: its members' seats went with it
    actor = Actor(label=label, kind=kind, user_id=user_id)
    return grants.grants_on_join_later(group=group, employee_ids=[int(i) for i in employee_ids], actor=actor)


@shared_task(name="provisioning.sweep_group_grants", ignore_result=True)
def sweep_group_grants() -> int:
    """Give a grant to members of mapped groups who have none (their worker's message was lost)."""
    from provisioning.scim.grants import grants_sweep

    return grants_sweep()
