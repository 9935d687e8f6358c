"""Reads for the renewal pages and the sweeps, each a fixed number of queries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from agencies.models import Agency, RoleAssignment
from agencies.selectors import Scope, user_scope
from billing.models import RenewalOrder, StripeEvent
from seats.models import Allocation

State = RenewalOrder.State
BILLING_ROLES = (RoleAssignment.Role.GSA_ADMIN, RoleAssignment.Role.AGENCY_ADMIN)


def billing_scope(user) -> Scope:  # type: ignore[no-untyped-def]
    """The agencies whose renewals a user may see: GSA everything, agency administrators subtrees.

    Onboarding staff and employees see none (an employee's own agency does not count here).
    """
    scope = user_scope(user, roles=BILLING_ROLES)
    return Scope(is_global=scope.is_global, paths=scope.paths)


def is_gsa_admin(user) -> bool:  # type: ignore[no-untyped-def]
    return billing_scope(user).is_global


def agency_for_billing(user, slug: str) -> Agency | None:  # type: ignore[no-untyped-def]
    """The agency with this slug if the user administers it; None otherwise (the page is a 404)."""
    scope = billing_scope(user)
    if scope.is_empty:
        return None
    return scope.filter_agencies(Agency.objects.all()).select_related("parent").filter(slug=slug).first()


def agency_renewal_history(agency: Agency) -> QuerySet[RenewalOrder]:
    """Every renewal of the agency and its bureaus, newest first, with what the table shows."""
    return RenewalOrder.objects.filter(agency__path__startswith=agency.path).select_related(
        "program", "agency", "allocation"
    )


def renewable_pools(agency: Agency) -> QuerySet[Allocation]:
    """The agency's own top-level pools, each marked with whether a renewal is already open."""
    open_order = RenewalOrder.objects.open().filter(allocation=OuterRef("pk"))
    return (
        Allocation.objects.filter(agency=agency, parent__isnull=True)
        .select_related("program")
        .annotate(has_open_renewal=Exists(open_order))
        .order_by("program__name")
    )


def order_for_agency(agency: Agency, order_uuid: UUID) -> RenewalOrder | None:
    return agency_renewal_history(agency).filter(uuid=order_uuid).first()


def order_for_gsa(order_uuid: UUID) -> RenewalOrder | None:
    orders = RenewalOrder.objects.select_related("program", "agency", "allocation")
    return orders.filter(uuid=order_uuid).first()


def renewals_pending_decision() -> QuerySet[RenewalOrder]:
    return (
        RenewalOrder.objects.filter(state__in=RenewalOrder.UNDECIDED_STATES)
        .select_related("program", "agency", "allocation")
        .order_by("requested_at", "pk")
    )


def renewals_in_billing() -> QuerySet[RenewalOrder]:
    """Approved, invoiced and paid renewals: money GSA is waiting for, or work still to finish."""
    return (
        RenewalOrder.objects.filter(state__in=(State.APPROVED, State.INVOICED, State.PAID))
        .select_related("program", "agency", "allocation")
        .order_by("invoice_due_at", "approved_at", "pk")
    )


def renewal_revenue() -> list[dict]:
    """Per program and currency: collected, outstanding on open invoices, and the order counts."""
    zero = Decimal("0")
    rows = (
        RenewalOrder.objects.values("program__name", "currency")
        .annotate(
            collected=Sum("amount_paid", filter=Q(paid_at__isnull=False)),
            outstanding=Sum("amount", filter=Q(state=State.INVOICED)),
            paid_orders=Count("pk", filter=Q(paid_at__isnull=False)),
            free_renewals=Count("pk", filter=Q(state=State.FULFILLED, amount=0)),
            open_invoices=Count("pk", filter=Q(state=State.INVOICED)),
        )
        .order_by("program__name", "currency")
    )
    return [
        {**row, "collected": row["collected"] or zero, "outstanding": row["outstanding"] or zero}
        for row in rows
    ]


def order_for_stripe_invoice(*, invoice_id: str, order_uuid: str) -> RenewalOrder | None:
    """The renewal an invoice belongs to: by its stored id, else by the order named in its metadata."""
    if invoice_id:
        order = RenewalOrder.objects.filter(stripe_invoice_id=invoice_id).first()
        if order is not None:
            return order
    try:
        parsed = UUID(order_uuid)
    except (TypeError, ValueError):
        return None
    return RenewalOrder.objects.filter(uuid=parsed).first()


def orders_waiting_for_invoice(*, attempted_before: datetime) -> list[int]:
    return list(
        RenewalOrder.objects.filter(state=State.APPROVED, void_requested_at__isnull=True)
        # A fresh approval's own task is on its way; only stale ones get another.
        .filter(
            Q(invoice_attempted_at__isnull=True, approved_at__lt=attempted_before)
            | Q(invoice_attempted_at__lt=attempted_before)
        )
        .values_list("pk", flat=True)
    )


def orders_due_for_invoice_check(*, checked_before: datetime) -> list[int]:
    return list(
        RenewalOrder.objects.filter(state=State.INVOICED)
        .filter(Q(invoice_checked_at__isnull=True) | Q(invoice_checked_at__lt=checked_before))
        .values_list("pk", flat=True)
    )


def stripe_event_seen(event_id: str) -> bool:
    return StripeEvent.objects.filter(event_id=event_id).exists()
