"""Thin Celery tasks: take ids, call one function, retry Stripe's passing failures with backoff."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from billing import invoicing, notices, services
from billing.selectors import orders_due_for_invoice_check, orders_waiting_for_invoice
from billing.stripe_api import TRANSIENT_ERRORS

# Stripe's passing failures: back off from 30 s to an hour, for about two days in all. Idempotency
# keys make every retry the same request, so retrying never invoices twice.
STRIPE_RETRY = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 50,
}


@shared_task(name="billing.renewal_invoice", **STRIPE_RETRY)
def renewal_invoice(order_id: int) -> str:
    return invoicing.renewal_invoice_issue(order_id=order_id)


@shared_task(name="billing.renewal_void_invoice", **STRIPE_RETRY)
def renewal_void_invoice(order_id: int) -> str:
    return invoicing.renewal_invoice_void(order_id=order_id)


@shared_task(name="billing.renewal_check_invoice", **STRIPE_RETRY)
def renewal_check_invoice(order_id: int) -> str:
    return invoicing.renewal_invoice_check(order_id=order_id)


@shared_task(
    name="billing.renewal_notice",
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    max_retries=10,
)
def renewal_notice(order_id: int, kind: str) -> int:
    return notices.renewal_notice_send(order_id=order_id, kind=kind)


# --- beat ---------------------------------------------------------------------------------------
@shared_task(name="billing.invoice_waiting_renewals")
def invoice_waiting_renewals() -> int:
    """Approved renewals whose invoicing task was lost or gave up get another one."""
    ids = orders_waiting_for_invoice(attempted_before=timezone.now() - timedelta(minutes=30))
    for order_id in ids:
        renewal_invoice.delay(order_id)
    return len(ids)


@shared_task(name="billing.check_open_invoices")
def check_open_invoices() -> int:
    """Re-read every issued invoice once a day: overdue notices, and payments a webhook missed."""
    ids = orders_due_for_invoice_check(checked_before=timezone.now() - timedelta(hours=20))
    for order_id in ids:
        renewal_check_invoice.delay(order_id)
    return len(ids)


@shared_task(name="billing.lapse_undecided_renewals")
def lapse_undecided_renewals() -> int:
    return services.renewals_lapse_undecided()
