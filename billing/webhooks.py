"""Stripe's webhook: check the signature on the raw body, then record and apply the event once.

Answers: 400 for anything unsigned, badly signed, stale or unreadable (Stripe gives up on it);
503 when the platform cannot decide right now (no secret configured, Stripe unreachable for the
re-read), so Stripe delivers again later; 200 for everything handled, duplicates included.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import stripe
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import payments, selectors, stripe_api
from core.errors import BillingUnavailable

log = logging.getLogger(__name__)


def _answer(status: int, **body: Any) -> JsonResponse:
    return JsonResponse(body, status=status)


def _created(event: dict) -> datetime | None:
    created = event.get("created")
    return datetime.fromtimestamp(created, tz=UTC) if isinstance(created, int) else None


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if not stripe_api.webhook_secrets():
        log.error("Stripe webhook received but STRIPE_WEBHOOK_SECRET is not set; answering 503")
        return _answer(503, error="webhook secret not configured")
    payload = request.body
    if not stripe_api.webhook_verify(payload=payload, header=request.headers.get("Stripe-Signature", "")):
        return _answer(400, error="invalid or stale signature")
    try:
        event = json.loads(payload)
        event_id, event_type = event["id"], event["type"]
        obj = event.get("data", {}).get("object", {}) or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return _answer(400, error="not a Stripe event")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(obj, dict):
        return _answer(400, error="not a Stripe event")

    invoice_id, order, invoice = "", None, None
    if event_type in payments.INVOICE_EVENTS and obj.get("object") == "invoice":
        invoice_id = str(obj.get("id") or "")
        metadata = obj.get("metadata") or {}
        order = selectors.order_for_stripe_invoice(
            invoice_id=invoice_id, order_uuid=str(metadata.get("renewal_order", ""))
        )
        if order is not None:
            if selectors.stripe_event_seen(event_id):
                return _answer(200, received=True, duplicate=True)
            # The event says what happened once; the invoice says where things stand now.
            try:
                invoice = stripe_api.invoice_retrieve(invoice_id)
            except (stripe.StripeError, BillingUnavailable) as exc:
                log.warning("Stripe event %s: could not re-read invoice %s: %s", event_id, invoice_id, exc)
                return _answer(503, error="could not re-read the invoice; deliver again later")

    handled, first_time = payments.stripe_event_handle(
        event_id=event_id,
        event_type=event_type,
        livemode=bool(event.get("livemode")),
        created=_created(event),
        invoice_id=invoice_id,
        order=order,
        invoice=invoice,
    )
    if not first_time:
        return _answer(200, received=True, duplicate=True)
    return _answer(200, received=True, result=handled.result, detail=handled.detail)
