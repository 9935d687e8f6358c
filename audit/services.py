"""Writes to the audit trail. Call these inside the transaction of the change they record."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from audit.actors import Actor, ActorLike, as_actor
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
    batch = list(rows)
    if len(batch) >= COPY_FROM and connection.vendor == "postgresql":
        return _copy_events(who, verb, target_type, batch, when, request_id)
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
        for target_id, agency_id, label, before, after in batch
    ]
    AuditEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(events)


# From this many rows on, PostgreSQL gets them with COPY: a roster import's thousand audit rows
# cost one round trip and no model instances (the same columns bulk_create would write).
COPY_FROM = 100
COPY_COLUMNS = (
    "occurred_at",
    "actor_id",
    "actor_label",
    "actor_kind",
    "agency_id",
    "verb",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "request_id",
)


def _json(value: dict[str, Any] | None) -> str | None:
    # As the JSONField would store it (no encoder): SQL NULL for None.
    return None if value is None else json.dumps(value)


def _copy_events(
    who: Actor,
    verb: str,
    target_type: str,
    rows: list[tuple[str, int | None, str, dict[str, Any] | None, dict[str, Any] | None]],
    when: datetime,
    request_id: str,
) -> int:
    label = who.label[:255]
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        with raw.copy(f"COPY audit_auditevent ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for target_id, agency_id, target_label, before, after in rows:
                copy.write_row(
                    (
                        when,
                        who.user_id,
                        label,
                        who.kind,
                        agency_id,
                        verb,
                        target_type,
                        target_id,
                        target_label[:255],
                        _json(before),
                        _json(after),
                        request_id,
                    )
                )
    return len(rows)
