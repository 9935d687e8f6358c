"""The one door to Stripe: a client built from settings and the few calls the platform makes.

Every POST carries an idempotency key chosen by the caller, so a retried call is the same call.
The client itself never retries (``max_network_retries=0``): retries and backoff live on the
Celery tasks, where they are visible and bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from stripe.params import InvoiceItemCreateParams

from core.errors import BillingUnavailable

log = logging.getLogger(__name__)

# Worth another try later: the network, Stripe's own 5xx and 409 (a concurrent request with the
# same key), rate limits. Everything else is a mistake that a retry would only repeat.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    stripe.APIConnectionError,
    stripe.APIError,
    stripe.RateLimitError,
)


def is_saved_server_error(exc: Exception) -> bool:
    """A 500 that Stripe stored under the idempotency key and will replay for that key."""
    return isinstance(exc, stripe.APIError) and getattr(exc, "http_status", None) == 500


@dataclass(frozen=True)
class InvoiceSnapshot:
    """What the platform needs to know about a Stripe invoice, as Stripe reports it now."""

    id: str
    status: str  # draft | open | paid | uncollectible | void
    customer: str
    order_uuid: str
    currency: str
    total: int
    amount_due: int
    amount_paid: int
    due_date: datetime | None
    number: str
    hosted_invoice_url: str
    line_keys: frozenset[str]

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any]) -> InvoiceSnapshot:
        metadata = obj.get("metadata") or {}
        lines = (obj.get("lines") or {}).get("data") or []
        due = obj.get("due_date")
        return cls(
            id=str(obj["id"]),
            status=str(obj.get("status") or ""),
            customer=str(_id_of(obj.get("customer"))),
            order_uuid=str(metadata.get("renewal_order", "")),
            currency=str(obj.get("currency") or ""),
            total=int(obj.get("total") or 0),
            amount_due=int(obj.get("amount_due") or 0),
            amount_paid=int(obj.get("amount_paid") or 0),
            due_date=datetime.fromtimestamp(int(due), tz=UTC) if due else None,
            number=str(obj.get("number") or ""),
            hosted_invoice_url=str(obj.get("hosted_invoice_url") or ""),
            line_keys=frozenset(
                str((line.get("metadata") or {}).get("renewal_line", ""))
                for line in lines
                if (line.get("metadata") or {}).get("renewal_line")
            ),
        )

    @property
    def amount_paid_decimal(self) -> Decimal:
        return Decimal(self.amount_paid) / 100


@dataclass(frozen=True)
class InvoiceLine:
    """One line of a renewal invoice: a flat charge (``amount``) or ``quantity`` x ``unit_amount``."""

    key: str
    description: str
    amount: int = 0
    quantity: int = 0
    unit_amount: int = 0


def _id_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("id", ""))
    return str(value or "")


def _plain(obj: Any) -> dict[str, Any]:
    """Stripe objects as plain dicts, so the rest of the code never depends on the SDK's types."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def client() -> stripe.StripeClient:
    """A client configured from settings; ``STRIPE_API_BASE`` points it at a test double."""
    api_key = settings.STRIPE_SECRET_KEY
    if not api_key:
        raise BillingUnavailable(
            "Stripe is not configured: set STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY_FILE) and restart "
            "the workers; approved renewals are invoiced on the next sweep."
        )
    base = (settings.STRIPE_API_BASE or "").rstrip("/")
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": base} if base else None,
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


# --- customers ------------------------------------------------------------------------------------
def customer_find(*, email: str, agency_code: str) -> str | None:
    """The customer already made for this agency and e-mail, if a lost response hid it from us."""
    if not email:
        return None
    found = _plain(client().v1.customers.list(params={"email": email, "limit": 100}))
    for customer in found.get("data") or []:
        if (customer.get("metadata") or {}).get("agency_code") == agency_code:
            return str(customer["id"])
    return None


def customer_create(
    *, name: str, email: str, agency_code: str, agency_slug: str, idempotency_key: str
) -> str:
    customer = _plain(
        client().v1.customers.create(
            params={
                "name": name,
                "email": email,
                "description": f"Federal agency {name} (AI Seats renewals)",
                "metadata": {"agency_code": agency_code, "agency_slug": agency_slug},
            },
            options={"idempotency_key": idempotency_key},
        )
    )
    return str(customer["id"])


def customer_set_email(*, customer_id: str, email: str, idempotency_key: str) -> None:
    client().v1.customers.update(
        customer_id, params={"email": email}, options={"idempotency_key": idempotency_key}
    )


# --- invoices -------------------------------------------------------------------------------------
def invoice_retrieve(invoice_id: str) -> InvoiceSnapshot:
    return InvoiceSnapshot.from_stripe(_plain(client().v1.invoices.retrieve(invoice_id)))


def invoice_find_for_order(*, customer_id: str, order_uuid: str) -> InvoiceSnapshot | None:
    """The invoice Stripe already holds for this order, made by an attempt whose answer was lost."""
    found = _plain(client().v1.invoices.list(params={"customer": customer_id, "limit": 100}))
    for invoice in found.get("data") or []:
        if (invoice.get("metadata") or {}).get("renewal_order") == order_uuid:
            return InvoiceSnapshot.from_stripe(invoice)
    return None


def invoice_create(
    *,
    customer_id: str,
    currency: str,
    description: str,
    custom_fields: list[tuple[str, str]],
    metadata: dict[str, str],
    idempotency_key: str,
) -> InvoiceSnapshot:
    """A draft invoice the government way: sent for payment by transfer, due in 30 days."""
    invoice = client().v1.invoices.create(
        params={
            "customer": customer_id,
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "currency": currency,
            # Drafts stay drafts until the lines are in; the platform finalizes and sends.
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": description,
            "custom_fields": [{"name": name, "value": value} for name, value in custom_fields],
            "metadata": metadata,
        },
        options={"idempotency_key": idempotency_key},
    )
    return InvoiceSnapshot.from_stripe(_plain(invoice))


def invoice_line_add(
    *, customer_id: str, invoice_id: str, currency: str, line: InvoiceLine, idempotency_key: str
) -> None:
    params: InvoiceItemCreateParams = {
        "customer": customer_id,
        "invoice": invoice_id,
        "currency": currency,
        "description": line.description,
        "metadata": {"renewal_line": line.key},
    }
    if line.quantity:
        params["quantity"] = line.quantity
        params["unit_amount_decimal"] = Decimal(line.unit_amount)
    else:
        params["amount"] = line.amount
    client().v1.invoice_items.create(params=params, options={"idempotency_key": idempotency_key})


def invoice_finalize(invoice_id: str, *, idempotency_key: str) -> InvoiceSnapshot:
    invoice = client().v1.invoices.finalize_invoice(
        invoice_id, params={"auto_advance": False}, options={"idempotency_key": idempotency_key}
    )
    return InvoiceSnapshot.from_stripe(_plain(invoice))


def invoice_send(invoice_id: str, *, idempotency_key: str) -> InvoiceSnapshot:
    invoice = client().v1.invoices.send_invoice(invoice_id, options={"idempotency_key": idempotency_key})
    return InvoiceSnapshot.from_stripe(_plain(invoice))


def invoice_void(invoice_id: str, *, idempotency_key: str) -> InvoiceSnapshot:
    invoice = client().v1.invoices.void_invoice(invoice_id, options={"idempotency_key": idempotency_key})
    return InvoiceSnapshot.from_stripe(_plain(invoice))


def invoice_delete_draft(invoice_id: str) -> None:
    """Drop a draft that never went out (deleting is itself idempotent: a second try finds none)."""
    try:
        client().v1.invoices.delete(invoice_id)
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "http_status", None) != 404:
            raise


# --- webhooks -------------------------------------------------------------------------------------
def webhook_secrets() -> list[str]:
    """Every secret currently accepted: during rotation both the old and the new one."""
    return [s.strip() for s in (settings.STRIPE_WEBHOOK_SECRET or "").split(",") if s.strip()]


def webhook_verify(*, payload: bytes, header: str) -> bool:
    """True when ``header`` signs the raw ``payload`` with one of the secrets, recently enough."""
    if not header:
        return False
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    for secret in webhook_secrets():
        try:
            stripe.WebhookSignature.verify_header(text, header, secret, tolerance)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False
