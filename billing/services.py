"""Every write to renewal orders, made by people: request, quote, approve, decline, cancel.

An order moves requested -> quoted -> approved -> invoiced -> paid -> fulfilled, or ends
declined, cancelled or lapsed. Each move locks the order row and re-checks its state in the same
transaction, and records one audit row. A free renewal is fulfilled in the approval's own
transaction; a paid one is invoiced by a Celery task after commit and fulfilled when Stripe says
the invoice is paid (``billing.payments``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agencies.models import Agency, RoleAssignment
from audit.actors import Actor, ActorLike, as_actor
from audit.services import audit_record
from billing import queue
from billing.models import CUSTOM_FIELD_MAX, RenewalOrder
from billing.orders import audit_order, lock, refuse, set_fields, snapshot
from core.db import constraint_violated
from core.errors import (
    DomainError,
    InvalidInput,
    NotPermitted,
    PurchaseOrderRequired,
    RenewalExists,
    RenewalNotAllowed,
)
from seats.models import Allocation
from seats.services import add_months, allocation_renew, allocation_resize

State = RenewalOrder.State
SWEEP = Actor.system("billing")


# --- who may act ------------------------------------------------------------------------------
def _require_gsa(actor: ActorLike, doing: str) -> None:
    """GSA decides prices and approvals; the platform's own jobs act with its authority."""
    who = as_actor(actor)
    if who.kind == "system":
        return
    if (
        who.kind == "user"
        and who.user_id is not None
        and RoleAssignment.objects.filter(user_id=who.user_id, role=RoleAssignment.Role.GSA_ADMIN).exists()
    ):
        return
    raise NotPermitted(f"Only GSA administrators can {doing}; ask GSA to do it.")


def _require_admin_of(actor: ActorLike, agency: Agency, doing: str) -> None:
    """An administrator of the agency (or an ancestor), or a GSA administrator."""
    who = as_actor(actor)
    if who.kind == "system":
        return
    if who.kind == "user" and who.user_id is not None:
        held = RoleAssignment.objects.filter(
            user_id=who.user_id,
            role__in=[RoleAssignment.Role.GSA_ADMIN, RoleAssignment.Role.AGENCY_ADMIN],
        ).values_list("role", "agency__path")
        for role, path in held:
            if role == RoleAssignment.Role.GSA_ADMIN or (path and agency.path.startswith(path)):
                return
    raise NotPermitted(f"Only administrators of {agency.name} or GSA can {doing}; ask one of them to do it.")


# --- helpers ----------------------------------------------------------------------------------
def _next_term(allocation: Allocation, term_months: int, now: datetime) -> tuple[datetime, datetime]:
    """The term a renewal buys: from the end of the current term, or from now if it has lapsed."""
    start = max(allocation.term_ends_at, now)
    return start, add_months(start, term_months)


def _clean_text(value: str, label: str) -> str:
    value = (value or "").strip()
    if len(value) > CUSTOM_FIELD_MAX:
        raise InvalidInput(
            f"The {label} is {len(value)} characters long; Stripe prints at most {CUSTOM_FIELD_MAX} on "
            "an invoice. Shorten it."
        )
    return value


def _quote_values(order: RenewalOrder, *, waive: bool, now: datetime) -> dict[str, Any]:
    program = order.program
    if waive:
        per_agency, per_seat = Decimal("0"), Decimal("0")
    else:
        per_agency, per_seat = program.price_per_agency, program.price_per_seat
    return {
        "price_per_agency": per_agency,
        "price_per_seat": per_seat,
        "amount": per_agency + per_seat * order.seats,
        "currency": program.currency.lower(),
        "waived": waive,
        "quoted_at": now,
    }


# --- request and the agency's own changes -----------------------------------------------------
def renewal_request(
    *,
    allocation: Allocation,
    seats: int,
    actor: ActorLike,
    purchase_order: str = "",
    line_of_accounting: str = "",
    billing_email: str = "",
) -> RenewalOrder:
    """An agency administrator (or GSA) asks to renew a pool for the next term."""
    # Counters move under other requests: judge the pool as it is now, not as the caller saw it.
    allocation = Allocation.objects.select_related("agency", "program").get(pk=allocation.pk)
    agency = allocation.agency
    program = allocation.program
    if allocation.parent_id is not None:
        raise RenewalNotAllowed(
            f"{agency.name}'s pool follows its department's term; ask the department's administrators "
            "to renew the department's pool."
        )
    _require_admin_of(actor, agency, "request a renewal")
    if seats < 1:
        raise InvalidInput("Ask for at least one seat.")
    in_use = allocation.assigned + allocation.reserved_for_children
    if seats < in_use:
        raise InvalidInput(
            f"{in_use:,} seats of this pool are in use or passed to bureau pools; ask for at least "
            f"{in_use:,} seats, or revoke seats first."
        )
    if not program.is_active:
        raise RenewalNotAllowed(f"{program.name} has closed; GSA is not renewing its pools.")
    now = timezone.now()
    term_starts_at, term_ends_at = _next_term(allocation, program.term_months, now)
    if program.ends_at is not None and program.ends_at <= term_starts_at:
        raise RenewalNotAllowed(
            f"{program.name} ends on {program.ends_at:%Y-%m-%d}, before the next term would start; "
            "there is no term left to renew."
        )
    who = as_actor(actor)
    values = {
        "purchase_order": _clean_text(purchase_order, "purchase order number"),
        "line_of_accounting": _clean_text(line_of_accounting, "line of accounting"),
        "billing_email": (billing_email or "").strip().lower(),
    }
    existing = RenewalOrder.objects.open().filter(allocation=allocation).first()
    if existing is not None:
        raise _exists(existing)
    try:
        with transaction.atomic():
            order = RenewalOrder.objects.create(
                agency=agency,
                program=program,
                allocation=allocation,
                seats=seats,
                term_starts_at=term_starts_at,
                term_ends_at=term_ends_at,
                currency=program.currency.lower(),
                requested_by_id=who.user_id,
                requested_at=now,
                **values,
            )
            audit_order(order, "renewal.request", actor, None, now)
    except IntegrityError as exc:
        if constraint_violated(
            exc, "billing_renewalorder_one_open_per_allocation", "billing_renewalorder.allocation_id"
        ):
            raise _exists(RenewalOrder.objects.open().filter(allocation=allocation).first()) from exc
        raise
    return order


def _exists(order: RenewalOrder | None) -> RenewalExists:
    state = State(order.state).label.lower() if order else "in progress"
    return RenewalExists(
        f"A renewal of this pool is already {state}. Follow it on the renewals page, or cancel it "
        "before asking again."
    )


def renewal_update_purchase_order(
    *,
    order: RenewalOrder,
    actor: ActorLike,
    purchase_order: str,
    line_of_accounting: str,
    billing_email: str,
) -> RenewalOrder:
    """The agency adds or corrects how it pays; only before the invoice is made from it."""
    _require_admin_of(actor, order.agency, "change how a renewal is paid")
    values = {
        "purchase_order": _clean_text(purchase_order, "purchase order number"),
        "line_of_accounting": _clean_text(line_of_accounting, "line of accounting"),
        "billing_email": (billing_email or "").strip().lower(),
    }
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state not in RenewalOrder.UNDECIDED_STATES:
            raise refuse(order, "changed (the invoice is made from it once GSA approves)")
        before = {key: getattr(order, key) for key in values}
        set_fields(order, **values)
        audit_record(
            actor=actor,
            verb="renewal.purchase_order",
            target=order,
            agency_id=order.agency_id,
            before=before,
            after=values,
            at=now,
        )
    return order


# --- GSA's decisions --------------------------------------------------------------------------
def renewal_quote(*, order: RenewalOrder, actor: ActorLike, waive: bool = False) -> RenewalOrder:
    """Price a request from the program's prices, or at zero when GSA renews it free."""
    _require_gsa(actor, "quote renewals")
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state not in RenewalOrder.UNDECIDED_STATES:
            raise refuse(order, "quoted")
        before = snapshot(order)
        set_fields(order, state=State.QUOTED, **_quote_values(order, waive=waive, now=now))
        audit_order(order, "renewal.quote", actor, before, now)
    return order


def renewal_approve(*, order: RenewalOrder, actor: ActorLike, waive: bool | None = None) -> RenewalOrder:
    """GSA approves: a free renewal takes effect now; a paid one is invoiced after commit.

    ``waive=None`` keeps the quote (or quotes at the program's prices); ``True`` renews free.
    """
    _require_gsa(actor, "approve renewals")
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state not in RenewalOrder.UNDECIDED_STATES:
            raise refuse(order, "approved")
        before = snapshot(order)
        if order.state == State.REQUESTED or waive is not None:
            set_fields(order, **_quote_values(order, waive=bool(waive), now=now))
            audit_order(order, "renewal.quote", actor, before, now)
            before = snapshot(order)
        term_starts_at, term_ends_at = _next_term(
            Allocation.objects.get(pk=order.allocation_id), order.program.term_months, now
        )
        if order.amount:
            if not order.purchase_order:
                raise PurchaseOrderRequired(
                    f"A paid renewal needs {order.agency.name}'s purchase order number before approval: "
                    "ask the agency to add it on its renewals page, or approve free of charge."
                )
            if not order.billing_email:
                raise PurchaseOrderRequired(
                    f"Stripe needs an e-mail address to send {order.agency.name}'s invoice to: ask the "
                    "agency to add a billing e-mail on its renewals page."
                )
        set_fields(
            order,
            state=State.APPROVED,
            approved_at=now,
            term_starts_at=term_starts_at,
            term_ends_at=term_ends_at,
            last_error="",
        )
        audit_order(order, "renewal.approve", actor, before, now)
        if order.amount:
            queue.after_commit("renewal_invoice", order.pk)
        else:
            fulfil(order=order, actor=actor, now=now)
    return order


def renewal_decline(*, order: RenewalOrder, actor: ActorLike, reason: str) -> RenewalOrder:
    """GSA says no: the pool expires when its term ends, as it would have anyway."""
    _require_gsa(actor, "decline renewals")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the renewal is declined; the agency's administrators are told.")
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        undecided = order.state in RenewalOrder.UNDECIDED_STATES
        approved_without_invoice = order.state == State.APPROVED and not order.stripe_invoice_id
        if not (undecided or approved_without_invoice):
            raise refuse(order, "declined (cancel its invoice instead)")
        before = snapshot(order)
        set_fields(order, state=State.DECLINED, closed_at=now, decision_reason=reason[:255])
        audit_order(order, "renewal.decline", actor, before, now)
        queue.after_commit("renewal_notice", order.pk, "renewal_declined")
    return order


def renewal_cancel(*, order: RenewalOrder, actor: ActorLike, reason: str = "") -> RenewalOrder:
    """Withdraw a renewal. An issued invoice is voided at Stripe first; the void then cancels it."""
    reason = (reason or "").strip() or "cancelled"
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state in RenewalOrder.UNDECIDED_STATES:
            _require_admin_of(actor, order.agency, "cancel this renewal")
        elif order.state == State.APPROVED and not order.stripe_invoice_id:
            _require_gsa(actor, "cancel an approved renewal")
        elif order.state in (State.APPROVED, State.INVOICED):
            _require_gsa(actor, "void a renewal's invoice")
            if order.void_requested_at is None:
                set_fields(order, void_requested_at=now, decision_reason=reason[:255])
                audit_record(
                    actor=actor,
                    verb="renewal.void_request",
                    target=order,
                    agency_id=order.agency_id,
                    after={"invoice": order.stripe_invoice_id, "reason": reason},
                    at=now,
                )
                queue.after_commit("renewal_void_invoice", order.pk)
            return order
        else:
            raise refuse(order, "cancelled (a paid renewal is refunded in Stripe)")
        before = snapshot(order)
        set_fields(order, state=State.CANCELLED, closed_at=now, decision_reason=reason[:255])
        audit_order(order, "renewal.cancel", actor, before, now)
    return order


def renewal_fulfil(*, order: RenewalOrder, actor: ActorLike) -> RenewalOrder:
    """Try again to renew a paid order whose renewal was refused (for example, a pool to shrink)."""
    _require_gsa(actor, "complete paid renewals")
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state != State.PAID:
            raise refuse(order, "completed again")
        fulfil(order=order, actor=actor, now=now)
    return order


# --- fulfilment (shared with the payment side) ------------------------------------------------
@transaction.atomic(savepoint=False)
def fulfil(*, order: RenewalOrder, actor: ActorLike, now: datetime) -> RenewalOrder:
    """Move the pool's term and seats to what the order bought; the order must be locked.

    ``allocation_renew`` is idempotent by its target date, so a second fulfilment of the same
    order changes nothing. A resize that the pool's use forbids does not undo a paid renewal: the
    term moves and the order says what an administrator must still do.
    """
    if order.term_ends_at <= now:
        raise RenewalNotAllowed(
            f"The term this renewal bought ended on {order.term_ends_at:%Y-%m-%d}, before it could take "
            "effect. Refund the payment in Stripe, or agree a new term with the agency and renew that."
        )
    allocation = Allocation.objects.get(pk=order.allocation_id)
    note = ""
    if allocation.term_ends_at < order.term_ends_at:
        allocation = allocation_renew(allocation=allocation, term_ends_at=order.term_ends_at, actor=actor)
    elif allocation.term_ends_at > order.term_ends_at:
        note = (
            f"The pool already ran to {allocation.term_ends_at:%Y-%m-%d}, past this renewal's "
            f"{order.term_ends_at:%Y-%m-%d}; its term was left as it was."
        )
    if order.seats != allocation.quantity:
        try:
            with transaction.atomic():
                allocation_resize(allocation=allocation, quantity=order.seats, actor=actor)
        except DomainError as exc:
            note = (
                f"The term was renewed but the pool stays at {allocation.quantity:,} seats: {exc} "
                f"Then resize the pool to {order.seats:,}."
            )
    before = snapshot(order)
    set_fields(order, state=State.FULFILLED, fulfilled_at=now, last_error=note)
    audit_order(order, "renewal.fulfil", actor, before, now)
    return order


# --- the sweep --------------------------------------------------------------------------------
def renewals_lapse_undecided(*, now: datetime | None = None, actor: ActorLike = SWEEP) -> int:
    """Requests GSA never decided lapse some days after their term would have started."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.BILLING_DECISION_DAYS)
    lapsed = 0
    stale = RenewalOrder.objects.filter(
        state__in=RenewalOrder.UNDECIDED_STATES, term_starts_at__lte=cutoff
    ).values_list("pk", flat=True)
    for pk in list(stale):
        with transaction.atomic(durable=True):
            order = RenewalOrder.objects.select_for_update().get(pk=pk)
            if order.state not in RenewalOrder.UNDECIDED_STATES:
                continue
            before = snapshot(order)
            set_fields(
                order,
                state=State.LAPSED,
                closed_at=now,
                decision_reason="not decided before the term it would renew had begun",
            )
            audit_order(order, "renewal.lapse", actor, before, now)
            lapsed += 1
    return lapsed
