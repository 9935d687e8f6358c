"""Writes to the audit trail. Call these inside the transaction of the change they record."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from audit.actors import ActorLike, as_actor
from audit.models import AuditEvent
from core.middleware import current_request_id


def _target_type(target: models.Model) -> str:
    return target._meta.label_lower


def audit_record(
    *,
    actor: ActorLike,
    verb: str,
    target: models.Model,
    agency_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Record one change. Must run inside the transaction that makes the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    who = as_actor(actor)
    return AuditEvent.objects.create(
        occurred_at=at or timezone.now(),
        actor_id=who.user_id,
        actor_label=who.label[:255],
        actor_kind=who.kind,
        agency_id=agency_id,
        verb=verb,
        target_type=_target_type(target),
        target_id=str(target.pk),
        target_label=str(target)[:255],
        before=before,
        after=after,
        request_id=current_request_id(),
    )


def audit_record_many(
    *,
    actor: ActorLike,
    verb: str,
    target_type: str,
    rows: Iterable[tuple[str, int | None, str, dict[str, Any] | None, dict[str, Any] | None]],
    at: datetime | None = None,
    batch_size: int = 5000,
) -> int:
    """Record many changes of one kind at once: rows of (target_id, agency_id, label, before, after)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record_many must run inside the transaction it records")
    who = as_actor(actor)
    when = at or timezone.now()
    request_id = current_request_id()
    events = [
        AuditEvent(
            occurred_at=when,
            actor_id=who.user_id,
            actor_label=who.label[:255],
            actor_kind=who.kind,
            agency_id=agency_id,
            verb=verb,
            target_type=target_type,
            target_id=target_id,
            target_label=label[:255],
            before=before,
            after=after,
            request_id=request_id,
        )
        for target_id, agency_id, label, before, after in rows
    ]
    AuditEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(events)
