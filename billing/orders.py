"""Small helpers every billing write shares: lock an order, change it, describe it, audit it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from audit.actors import ActorLike
from audit.services import audit_record
from billing.models import RenewalOrder
from core.errors import InvalidTransition


def lock(order: RenewalOrder) -> RenewalOrder:
    return RenewalOrder.objects.select_for_update().get(pk=order.pk)


def refuse(order: RenewalOrder, doing: str) -> InvalidTransition:
    label = RenewalOrder.State(order.state).label.lower()
    return InvalidTransition(
        f"This renewal is {label}; it cannot be {doing} any more. Reload the renewals page to see "
        "where it stands."
    )


def snapshot(order: RenewalOrder) -> dict[str, Any]:
    return {
        "state": order.state,
        "seats": order.seats,
        "amount": str(order.amount) if order.amount is not None else None,
        "currency": order.currency,
        "term_ends_at": order.term_ends_at.isoformat(),
    }


def audit_order(order: RenewalOrder, verb: str, actor: ActorLike, before: dict | None, now: datetime) -> None:
    audit_record(
        actor=actor,
        verb=verb,
        target=order,
        agency_id=order.agency_id,
        before=before,
        after=snapshot(order),
        at=now,
    )


def set_fields(order: RenewalOrder, **values: Any) -> RenewalOrder:
    """Write fields of a locked order and keep the instance in step."""
    RenewalOrder.objects.filter(pk=order.pk).update(**values, updated_at=timezone.now())
    for field, value in values.items():
        setattr(order, field, value)
    return order
