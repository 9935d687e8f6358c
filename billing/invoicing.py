"""A renewal's conversation with Stripe: issue its invoice, void it, re-read it.

These run in Celery tasks, after the approving transaction has committed, and never inside a
database transaction of their own: each Stripe call is followed by a short service call that
records what Stripe said. Every step first looks at what already exists (the stored invoice id,
the draft's lines, the invoice's status), and every POST carries an idempotency key derived
from the order, so a retry at any point finishes the job instead of repeating it.
"""

from __future__ import annotations

import logging

import stripe

from billing import payments, stripe_api
from billing.models import RenewalOrder, StripeCustomer
from billing.stripe_api import InvoiceLine, InvoiceSnapshot
from core.errors import BillingUnavailable

log = logging.getLogger(__name__)
State = RenewalOrder.State


class InvoiceMismatch(Exception):
    """The draft at Stripe does not add up to the renewal's price; a person must look at it."""


def idempotency_key(order: RenewalOrder, step: str) -> str:
    return f"seats-renewal-{order.uuid}-g{order.stripe_key_generation}-{step}"


def agency_code(order: RenewalOrder) -> str:
    return order.agency.opm_code or order.agency.slug


def invoice_lines(order: RenewalOrder) -> list[InvoiceLine]:
    """The price as invoice lines: the flat per-agency charge and the per-seat charge."""
    term = f"{order.term_starts_at:%Y-%m-%d} to {order.term_ends_at:%Y-%m-%d}"
    lines = []
    if order.price_per_agency:
        lines.append(
            InvoiceLine(
                key="agency",
                description=f"{order.program.name}: agency renewal, {term}",
                amount=int(order.price_per_agency * 100),
            )
        )
    if order.price_per_seat:
        lines.append(
            InvoiceLine(
                key="seats",
                description=f"{order.program.name}: {order.seats:,} seats, {term}",
                quantity=order.seats,
                unit_amount=int(order.price_per_seat * 100),
            )
        )
    return lines


def _customer_id(order: RenewalOrder) -> str:
    """The agency's Stripe customer, made on its first paid renewal."""
    existing = StripeCustomer.objects.filter(agency_id=order.agency_id).first()
    if existing is not None:
        if order.billing_email and existing.email != order.billing_email:
            stripe_api.customer_set_email(
                customer_id=existing.stripe_customer_id,
                email=order.billing_email,
                idempotency_key=idempotency_key(order, "customer-email"),
            )
            payments.stripe_customer_set_email(customer=existing, email=order.billing_email)
        return existing.stripe_customer_id
    code = agency_code(order)
    customer_id = stripe_api.customer_find(email=order.billing_email, agency_code=code)
    if customer_id is None:
        customer_id = stripe_api.customer_create(
            name=order.agency.name,
            email=order.billing_email,
            agency_code=code,
            agency_slug=order.agency.slug,
            idempotency_key=idempotency_key(order, "customer"),
        )
    agency = order.agency
    return payments.stripe_customer_record(
        agency=agency, stripe_customer_id=customer_id, email=order.billing_email
    ).stripe_customer_id


def _still_wanted(order: RenewalOrder) -> bool:
    return RenewalOrder.objects.filter(
        pk=order.pk, state=State.APPROVED, void_requested_at__isnull=True
    ).exists()


def _draft(order: RenewalOrder, customer_id: str) -> InvoiceSnapshot:
    if order.stripe_invoice_id:
        return stripe_api.invoice_retrieve(order.stripe_invoice_id)
    invoice = stripe_api.invoice_find_for_order(customer_id=customer_id, order_uuid=str(order.uuid))
    if invoice is None:
        fields = [("PO number", order.purchase_order)]
        if order.line_of_accounting:
            fields.append(("Line of accounting", order.line_of_accounting))
        invoice = stripe_api.invoice_create(
            customer_id=customer_id,
            currency=order.currency,
            description=(
                f"{order.program.name} renewal for {order.agency.name}: {order.seats:,} seats, "
                f"{order.term_starts_at:%Y-%m-%d} to {order.term_ends_at:%Y-%m-%d}"
            ),
            custom_fields=fields,
            metadata={
                "renewal_order": str(order.uuid),
                "agency_code": agency_code(order),
                "agency_slug": order.agency.slug,
                "program": order.program.slug,
            },
            idempotency_key=idempotency_key(order, "invoice"),
        )
    payments.invoice_draft_record(order=order, invoice=invoice)
    return invoice


def _issue(order: RenewalOrder) -> str:
    customer_id = _customer_id(order)
    invoice = _draft(order, customer_id)
    if invoice.status == "draft":
        missing = [line for line in invoice_lines(order) if line.key not in invoice.line_keys]
        for line in missing:
            stripe_api.invoice_line_add(
                customer_id=customer_id,
                invoice_id=invoice.id,
                currency=order.currency,
                line=line,
                idempotency_key=idempotency_key(order, f"line-{line.key}"),
            )
        if missing:
            invoice = stripe_api.invoice_retrieve(invoice.id)
        if invoice.total != order.amount_cents:
            raise InvoiceMismatch(
                f"The draft invoice {invoice.id} totals {invoice.total / 100:.2f} but the renewal costs "
                f"{order.amount_cents / 100:.2f}; correct or delete the draft in Stripe, then retry."
            )
        if not _still_wanted(order):
            return "renewal withdrawn while invoicing; the draft was left unsent"
        invoice = stripe_api.invoice_finalize(invoice.id, idempotency_key=idempotency_key(order, "finalize"))
    if invoice.status == "open":
        invoice = stripe_api.invoice_send(invoice.id, idempotency_key=idempotency_key(order, "send"))
        payments.renewal_mark_invoiced(order=order, invoice=invoice)
        return f"invoice {invoice.id} sent"
    return payments.renewal_reconcile(order=order, invoice=invoice)[1]


def renewal_invoice_issue(*, order_id: int) -> str:
    """Make, finalize and send the invoice of an approved renewal; safe to run again at any time.

    Transient Stripe errors are recorded on the order and raised for the task to retry. Errors a
    retry cannot fix are recorded for GSA's page and not raised.
    """
    order = RenewalOrder.objects.select_related("agency", "program").filter(pk=order_id).first()
    if order is None or order.state != State.APPROVED or order.void_requested_at is not None:
        return "nothing to invoice"
    payments.invoice_attempt_started(order=order)
    try:
        return _issue(order)
    except stripe_api.TRANSIENT_ERRORS as exc:
        payments.invoice_attempt_failed(
            order=order,
            error=f"Stripe did not answer ({exc.__class__.__name__}); retrying.",
            new_keys=stripe_api.is_saved_server_error(exc),
        )
        raise
    except (stripe.StripeError, BillingUnavailable, InvoiceMismatch) as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        log.error("invoicing renewal %s failed: %s", order.uuid, message)
        payments.invoice_attempt_failed(order=order, error=f"Invoicing failed: {message}", new_keys=False)
        return "failed"


def renewal_invoice_void(*, order_id: int) -> str:
    """Void the invoice GSA cancelled (or delete a draft that never went out)."""
    order = RenewalOrder.objects.select_related("agency", "program").filter(pk=order_id).first()
    if order is None or order.void_requested_at is None:
        return "nothing to void"
    if order.state not in (State.APPROVED, State.INVOICED):
        return f"already {order.state}"
    if not order.stripe_invoice_id:
        payments.renewal_void_finished(order=order)
        return "no invoice was made"
    invoice = stripe_api.invoice_retrieve(order.stripe_invoice_id)
    if invoice.status == "draft":
        stripe_api.invoice_delete_draft(invoice.id)
        payments.renewal_void_finished(order=order)
        return "draft deleted"
    if invoice.status in ("open", "uncollectible"):
        invoice = stripe_api.invoice_void(invoice.id, idempotency_key=idempotency_key(order, "void"))
    return payments.renewal_reconcile(order=order, invoice=invoice)[1]


def renewal_invoice_check(*, order_id: int) -> str:
    """Re-read an issued invoice: catches a missed webhook, and tells the agency when it is overdue."""
    order = RenewalOrder.objects.filter(pk=order_id).first()
    if order is None or order.state not in (State.APPROVED, State.INVOICED) or not order.stripe_invoice_id:
        return "nothing to check"
    invoice = stripe_api.invoice_retrieve(order.stripe_invoice_id)
    return payments.renewal_reconcile(order=order, invoice=invoice)[1]
