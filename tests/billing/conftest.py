"""Billing fixtures: a local fake Stripe, eager Celery, signed webhook deliveries, priced programs."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import stripe

from agencies.models import RoleAssignment
from billing import services
from tests.billing.fake_stripe import FakeStripe
from tests.factories import AllocationFactory, ProgramFactory, RoleAssignmentFactory, UserFactory

WEBHOOK_SECRET = "whsec_test_current"
WEBHOOK_URL = "/billing/stripe/webhook/"


@pytest.fixture(autouse=True)
def no_real_stripe(settings):
    """Without the fake, Stripe calls fail fast on a closed local port: never the network."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks queued after commit run in-process, retries included (countdowns are skipped).

    Celery re-runs an eager task's retry only when errors do not propagate; tests therefore
    assert what a task left behind, never that it raised.
    """
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def fake_stripe(settings):
    server = FakeStripe().start()
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_SECRET_KEY = "sk_test_fake_key"
    yield server
    server.stop()


def sign(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)


@pytest.fixture
def deliver(client):
    """POST an event to the webhook as Stripe does: the exact bytes, signed."""

    def post(event: dict | str, *, header: str | None = None, **sign_kwargs):
        payload = event if isinstance(event, str) else json.dumps(event)
        headers = {} if header == "" else {"HTTP_STRIPE_SIGNATURE": header or sign(payload, **sign_kwargs)}
        return client.post(WEBHOOK_URL, data=payload, content_type="application/json", **headers)

    return post


@pytest.fixture
def paid_program(db):
    """A program at $1 per agency plus $2.50 per seat."""
    return ProgramFactory(
        name="Claude Enterprise (OneGov)",
        slug="claude-onegov",
        price_per_agency=Decimal("1.00"),
        price_per_seat=Decimal("2.50"),
    )


@pytest.fixture
def paid_pool(paid_program, department):
    return AllocationFactory(program=paid_program, agency=department, quantity=10)


@pytest.fixture
def other_admin(other_department):
    user = UserFactory(username="elsewhere-admin", email="admin@elsewhere.gov")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=other_department)
    return user


@pytest.fixture
def request_renewal(agency_admin):
    def make(pool, seats: int = 12, **kwargs):
        values = {
            "purchase_order": "PO-2026-0042",
            "line_of_accounting": "070-X-0100-000-25-26",
            "billing_email": "finance@examples.gov",
            **kwargs,
        }
        return services.renewal_request(allocation=pool, seats=seats, actor=agency_admin, **values)

    return make


@pytest.fixture
def invoiced_order(fake_stripe, paid_pool, request_renewal, gsa_admin, django_capture_on_commit_callbacks):
    """A paid renewal approved by GSA and invoiced through the fake Stripe."""
    order = request_renewal(paid_pool)
    with django_capture_on_commit_callbacks(execute=True):
        services.renewal_approve(order=order, actor=gsa_admin)
    order.refresh_from_db()
    assert order.state == order.State.INVOICED, order.last_error
    return order
