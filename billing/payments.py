"""Writes driven by Stripe: customers, invoice bookkeeping, and what an invoice means for an order.

Decisions never trust the order in which Stripe's events arrive. Callers re-read the invoice from
Stripe and pass what it says *now* (``InvoiceSnapshot``); ``renewal_apply_invoice`` turns that
status into the order's next state, so a late ``invoice.payment_failed`` after the payment went
through, or a redelivered ``invoice.paid``, changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from agencies.models import Agency
from audit.actors import Actor, ActorLike
from audit.services import audit_record
from billing import queue
from billing.models import RenewalOrder, StripeCustomer, StripeEvent
from billing.orders import audit_order, lock, set_fields, snapshot
from billing.services import fulfil
from billing.stripe_api import InvoiceSnapshot
from core.db import constraint_violated
from core.errors import DomainError

State = RenewalOrder.State
Result = StripeEvent.Result
STRIPE = Actor.system("stripe")
INVOICER = Actor.system("billing")

# Event types whose invoice decides something; every other type is recorded and ignored.
INVOICE_EVENTS = frozenset(
    {
        "invoice.finalized",
        "invoice.sent",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.overdue",
        "invoice.voided",
        "invoice.marked_uncollectible",
    }
)


# --- customers ----------------------------------------------------------------------------------
def stripe_customer_record(
    *, agency: Agency, stripe_customer_id: str, email: str, actor: ActorLike = INVOICER
) -> StripeCustomer:
    """Remember the agency's Stripe customer; a second writer finds the first one's row."""
    try:
        with transaction.atomic():
            customer = StripeCustomer.objects.create(
                agency=agency, stripe_customer_id=stripe_customer_id, email=email
            )
            audit_record(
                actor=actor,
                verb="billing.customer_create",
                target=customer,
                agency_id=agency.pk,
                after={"stripe_customer_id": stripe_customer_id, "email": email},
            )
    except IntegrityError as exc:
        if constraint_violated(
            exc, "billing_stripecustomer_one_per_agency", "billing_stripecustomer.agency_id"
        ):
            return StripeCustomer.objects.get(agency=agency)
        raise
    return customer


def stripe_customer_set_email(
    *, customer: StripeCustomer, email: str, actor: ActorLike = INVOICER
) -> StripeCustomer:
    with transaction.atomic():
        before = StripeCustomer.objects.select_for_update().get(pk=customer.pk).email
        if before == email:
            return customer
        StripeCustomer.objects.filter(pk=customer.pk).update(email=email)
        customer.email = email
        audit_record(
            actor=actor,
            verb="billing.customer_email",
            target=customer,
            agency_id=customer.agency_id,
            before={"email": before},
            after={"email": email},
        )
    return customer


# --- invoicing bookkeeping ----------------------------------------------------------------------
def invoice_attempt_started(*, order: RenewalOrder) -> None:
    """Stamp the attempt so the sweep leaves a fresh one alone."""
    RenewalOrder.objects.filter(pk=order.pk).update(invoice_attempted_at=timezone.now())


def invoice_attempt_failed(*, order: RenewalOrder, error: str, new_keys: bool) -> RenewalOrder:
    """Keep the reason for GSA's page; ``new_keys`` after a 500 Stripe would otherwise replay."""
    with transaction.atomic():
        order = lock(order)
        values: dict = {"last_error": error[:4000]}
        if new_keys:
            values["stripe_key_generation"] = order.stripe_key_generation + 1
        set_fields(order, **values)
    return order


def invoice_draft_record(
    *, order: RenewalOrder, invoice: InvoiceSnapshot, actor: ActorLike = INVOICER
) -> RenewalOrder:
    """Tie the draft invoice to the order before anything else, so no retry makes a second one."""
    with transaction.atomic():
        order = lock(order)
        if order.stripe_invoice_id:
            return order
        set_fields(order, stripe_invoice_id=invoice.id)
        audit_record(
            actor=actor,
            verb="renewal.invoice_draft",
            target=order,
            agency_id=order.agency_id,
            after={"invoice": invoice.id, "status": invoice.status},
        )
    return order


@transaction.atomic(savepoint=False)
def _mark_invoiced(
    *, order: RenewalOrder, invoice: InvoiceSnapshot, actor: ActorLike, now: datetime
) -> RenewalOrder:
    before = snapshot(order)
    set_fields(
        order,
        state=State.INVOICED,
        invoiced_at=now,
        stripe_invoice_id=invoice.id,
        stripe_invoice_number=invoice.number,
        hosted_invoice_url=invoice.hosted_invoice_url,
        invoice_due_at=invoice.due_date,
        last_error="",
    )
    audit_order(order, "renewal.invoice", actor, before, now)
    return order


def renewal_mark_invoiced(
    *, order: RenewalOrder, invoice: InvoiceSnapshot, actor: ActorLike = INVOICER
) -> RenewalOrder:
    """Stripe has sent the invoice; the agency has 30 days to pay it."""
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state == State.APPROVED:
            _mark_invoiced(order=order, invoice=invoice, actor=actor, now=now)
    return order


# --- what an invoice's status means -------------------------------------------------------------
@transaction.atomic(savepoint=False)
def renewal_apply_invoice(
    *,
    order: RenewalOrder,
    invoice: InvoiceSnapshot,
    actor: ActorLike = STRIPE,
    event_type: str = "",
    now: datetime | None = None,
) -> tuple[str, str]:
    """Bring the order in line with the invoice as Stripe reports it now; returns (result, detail)."""
    now = now or timezone.now()
    order = lock(order)
    if order.stripe_invoice_id and order.stripe_invoice_id != invoice.id:
        return Result.IGNORED, f"{invoice.id} is not this renewal's invoice ({order.stripe_invoice_id})"
    if invoice.order_uuid and invoice.order_uuid != str(order.uuid):
        return Result.IGNORED, f"{invoice.id} was issued for another renewal"
    set_fields(order, invoice_checked_at=now)

    if invoice.status == "paid":
        if order.state not in (State.APPROVED, State.INVOICED, State.LAPSED):
            return Result.NO_CHANGE, f"already {order.state}"
        before = snapshot(order)
        set_fields(
            order,
            state=State.PAID,
            paid_at=now,
            amount_paid=invoice.amount_paid_decimal,
            stripe_invoice_id=invoice.id,
            stripe_invoice_number=invoice.number or order.stripe_invoice_number,
            hosted_invoice_url=invoice.hosted_invoice_url or order.hosted_invoice_url,
        )
        audit_order(order, "renewal.pay", actor, before, now)
        try:
            with transaction.atomic():
                fulfil(order=order, actor=actor, now=now)
        except DomainError as exc:
            # Paid stays paid: the money is in. GSA's page shows why the term did not move.
            set_fields(order, last_error=f"Paid, but the pool was not renewed: {exc}")
            return Result.REFUSED, str(exc)[:255]
        return Result.APPLIED, "paid and renewed"

    if invoice.status == "void":
        if order.state not in (State.APPROVED, State.INVOICED):
            return Result.NO_CHANGE, f"already {order.state}"
        before = snapshot(order)
        set_fields(
            order,
            state=State.CANCELLED,
            closed_at=now,
            decision_reason=order.decision_reason or "the invoice was voided in Stripe",
        )
        audit_order(order, "renewal.cancel", actor, before, now)
        return Result.APPLIED, "invoice voided; renewal cancelled"

    if invoice.status == "uncollectible":
        if order.state != State.INVOICED:
            return Result.NO_CHANGE, f"already {order.state}"
        before = snapshot(order)
        set_fields(
            order,
            state=State.LAPSED,
            closed_at=now,
            decision_reason="the invoice was marked uncollectible in Stripe",
        )
        audit_order(order, "renewal.lapse", actor, before, now)
        return Result.APPLIED, "invoice uncollectible; renewal lapsed"

    if invoice.status == "open":
        if order.state == State.APPROVED:
            _mark_invoiced(order=order, invoice=invoice, actor=actor, now=now)
            return Result.APPLIED, "invoice issued"
        if order.state != State.INVOICED:
            return Result.NO_CHANGE, f"already {order.state}"
        if event_type == "invoice.payment_failed":
            set_fields(order, payment_failed_at=now)
            _notice(order, "payment_failed", actor, now)
            return Result.APPLIED, "payment failed; agency administrators told"
        past_due = invoice.due_date is not None and invoice.due_date <= now
        if (event_type == "invoice.overdue" or past_due) and order.overdue_notified_at is None:
            due = invoice.due_date or order.invoice_due_at
            set_fields(order, overdue_notified_at=now, invoice_due_at=due)
            _notice(order, "invoice_overdue", actor, now)
            return Result.APPLIED, "invoice overdue; agency administrators told"
    return Result.NO_CHANGE, f"invoice {invoice.status}; order {order.state}"


def _notice(order: RenewalOrder, kind: str, actor: ActorLike, now: datetime) -> None:
    audit_record(
        actor=actor,
        verb="renewal.notice",
        target=order,
        agency_id=order.agency_id,
        after={"notice": kind, "invoice": order.stripe_invoice_id},
        at=now,
    )
    queue.after_commit("renewal_notice", order.pk, kind)


def renewal_reconcile(
    *, order: RenewalOrder, invoice: InvoiceSnapshot, actor: ActorLike = INVOICER
) -> tuple[str, str]:
    """Apply an invoice re-read by a task (a missed webhook, an overdue check, a void)."""
    with transaction.atomic(durable=True):
        return renewal_apply_invoice(order=order, invoice=invoice, actor=actor)


def renewal_void_finished(*, order: RenewalOrder, actor: ActorLike = INVOICER) -> RenewalOrder:
    """A draft that never went out was deleted at Stripe: the order simply ends."""
    now = timezone.now()
    with transaction.atomic():
        order = lock(order)
        if order.state != State.APPROVED:
            return order
        before = snapshot(order)
        set_fields(order, state=State.CANCELLED, closed_at=now)
        audit_order(order, "renewal.cancel", actor, before, now)
    return order


# --- webhook events -----------------------------------------------------------------------------
def stripe_event_handle(
    *,
    event_id: str,
    event_type: str,
    livemode: bool,
    created: datetime | None,
    invoice_id: str = "",
    order: RenewalOrder | None = None,
    invoice: InvoiceSnapshot | None = None,
    actor: ActorLike = STRIPE,
) -> tuple[StripeEvent, bool]:
    """Record the event and apply it in one transaction; (event, False) when seen before.

    The event row goes in first: a second delivery of the same event blocks on the unique index
    until the first commits, then fails it and applies nothing.
    """
    now = timezone.now()
    try:
        with transaction.atomic(durable=True):
            event = StripeEvent.objects.create(
                event_id=event_id,
                type=event_type[:100],
                livemode=livemode,
                stripe_created_at=created,
                received_at=now,
                invoice_id=invoice_id[:255],
                order=order,
                result=Result.IGNORED,
            )
            result: str
            if event_type not in INVOICE_EVENTS:
                result, detail = Result.IGNORED, "event type not used"
            elif order is None or invoice is None:
                result, detail = Result.IGNORED, "not a renewal invoice"
            else:
                result, detail = renewal_apply_invoice(
                    order=order, invoice=invoice, actor=actor, event_type=event_type, now=now
                )
            StripeEvent.objects.filter(pk=event.pk).update(result=result, detail=detail[:255])
            event.result, event.detail = Result(result), detail[:255]
            return event, True
    except IntegrityError as exc:
        if constraint_violated(exc, "billing_stripeevent_unique_event_id", "billing_stripeevent.event_id"):
            return StripeEvent.objects.get(event_id=event_id), False
        raise
