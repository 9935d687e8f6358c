"""Races on PostgreSQL, one connection per thread: simultaneous deliveries renew exactly once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from audit.actors import Actor
from audit.models import AuditEvent
from billing import services
from billing.models import RenewalOrder, StripeEvent
from seats.models import Allocation
from tests.billing.conftest import WEBHOOK_URL, sign
from tests.factories import AgencyFactory, AllocationFactory, ProgramFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = range(5)


def race(workers: int, work: Callable[[int], object]) -> list[object]:
    """Start ``workers`` threads at the same instant; each returns a result or the exception."""
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


@pytest.fixture
def invoiced(fake_stripe):
    agency = AgencyFactory(slug="race-agency")
    program = ProgramFactory(price_per_agency=1, price_per_seat=2)
    pool = AllocationFactory(program=program, agency=agency, quantity=5)
    order = services.renewal_request(
        allocation=pool,
        seats=5,
        actor=Actor.system("test"),
        purchase_order="PO-RACE",
        billing_email="race@examples.gov",
    )
    # Transactional test: on_commit runs for real, and the eager task invoices at once.
    services.renewal_approve(order=order, actor=Actor.system("test"))
    order.refresh_from_db()
    assert order.state == RenewalOrder.State.INVOICED, order.last_error
    fake_stripe.pay(order.stripe_invoice_id)
    return order


def post_signed(event: dict) -> int:
    payload = json.dumps(event)
    response = Client().post(
        WEBHOOK_URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    return response.status_code


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_deliveries_of_the_same_invoice_paid_at_once_renew_once(invoiced, fake_stripe, round_):
    event = fake_stripe.event("invoice.paid", invoiced.stripe_invoice_id)

    results = race(2, lambda _: post_signed(event))

    assert results == [200, 200]
    order = RenewalOrder.objects.get(pk=invoiced.pk)
    assert order.state == RenewalOrder.State.FULFILLED
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert AuditEvent.objects.filter(verb="allocation.renew").count() == 1
    assert AuditEvent.objects.filter(verb="renewal.pay").count() == 1
    assert Allocation.objects.get(pk=order.allocation_id).term_ends_at == order.term_ends_at


@pytest.mark.parametrize("round_", ROUNDS)
def test_paid_and_payment_succeeded_at_once_renew_once(invoiced, fake_stripe, round_):
    events = [
        fake_stripe.event("invoice.paid", invoiced.stripe_invoice_id),
        fake_stripe.event("invoice.payment_succeeded", invoiced.stripe_invoice_id),
    ]

    results = race(2, lambda i: post_signed(events[i]))

    assert results == [200, 200]
    assert StripeEvent.objects.count() == 2
    assert sorted(StripeEvent.objects.values_list("result", flat=True)) == ["applied", "no_change"]
    assert AuditEvent.objects.filter(verb="allocation.renew").count() == 1


@pytest.mark.parametrize("round_", ROUNDS)
def test_two_admins_requesting_the_same_renewal_at_once_make_one_order(round_):
    agency = AgencyFactory(slug=f"race-request-{round_}")
    pool = AllocationFactory(program=ProgramFactory(), agency=agency)

    results = race(
        4, lambda _: services.renewal_request(allocation=pool, seats=10, actor=Actor.system("test"))
    )

    assert Counter(type(r).__name__ for r in results) == Counter({"RenewalOrder": 1, "RenewalExists": 3})
    assert RenewalOrder.objects.filter(allocation=pool).count() == 1
