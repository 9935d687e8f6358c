"""The Stripe webhook: signatures, exactly-once effects, and decisions that ignore event order."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from billing import services, tasks
from billing.models import RenewalOrder, StripeEvent
from core.errors import RenewalNotAllowed
from seats.models import Allocation
from tests.billing.conftest import WEBHOOK_URL, sign

pytestmark = pytest.mark.django_db
State = RenewalOrder.State


def audit_count(order: RenewalOrder, verb: str) -> int:
    return AuditEvent.objects.filter(
        verb=verb, target_type="billing.renewalorder", target_id=str(order.pk)
    ).count()


class TestSignature:
    @pytest.fixture
    def event(self, fake_stripe, invoiced_order):
        fake_stripe.pay(invoiced_order.stripe_invoice_id)
        return fake_stripe.event("invoice.paid", invoiced_order.stripe_invoice_id)

    def assert_refused(self, response) -> None:
        assert response.status_code == 400, response.content
        assert not StripeEvent.objects.exists()
        assert not RenewalOrder.objects.filter(state=State.FULFILLED).exists()

    def test_a_valid_signature_is_accepted(self, deliver, event):
        response = deliver(event)
        assert response.status_code == 200, response.content
        assert response.json()["result"] == "applied"
        assert StripeEvent.objects.get().event_id == event["id"]

    def test_a_tampered_body_is_refused(self, deliver, event):
        payload = json.dumps(event)
        header = sign(payload)
        tampered = payload.replace('"livemode": false', '"livemode": true')
        assert tampered != payload
        self.assert_refused(deliver(tampered, header=header))

    def test_re_serialised_json_is_refused(self, deliver, event):
        payload = json.dumps(event)
        header = sign(payload)
        same_data = json.dumps(json.loads(payload), indent=2, sort_keys=True)
        assert json.loads(same_data) == json.loads(payload)
        self.assert_refused(deliver(same_data, header=header))

    def test_a_wrong_secret_is_refused(self, deliver, event):
        self.assert_refused(deliver(event, secret="whsec_someone_else"))

    def test_a_stale_timestamp_is_refused(self, deliver, event, settings):
        stale = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS - 5
        self.assert_refused(deliver(event, timestamp=stale))

    def test_a_recent_timestamp_within_tolerance_is_accepted(self, deliver, event):
        assert deliver(event, timestamp=int(time.time()) - 60).status_code == 200

    def test_a_missing_header_is_refused(self, deliver, event):
        self.assert_refused(deliver(event, header=""))

    @pytest.mark.parametrize("header", ["garbage", "t=notanumber,v1=abc", "t=123", "v1=abc"])
    def test_a_malformed_header_is_refused(self, deliver, event, header):
        self.assert_refused(deliver(event, header=header))

    def test_a_body_that_is_not_utf8_is_refused(self, client):
        body = b"\xff\xfe{}"
        header = f"t={int(time.time())},v1=00"
        response = client.post(
            WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )
        assert response.status_code == 400

    def test_a_signed_body_that_is_not_an_event_is_refused(self, deliver):
        assert deliver("[1, 2, 3]").status_code == 400
        assert deliver('{"id": 5, "type": "invoice.paid"}').status_code == 400
        assert not StripeEvent.objects.exists()

    def test_during_rotation_old_and_new_secrets_are_accepted(self, deliver, event, fake_stripe, settings):
        settings.STRIPE_WEBHOOK_SECRET = "whsec_new, whsec_old"
        assert deliver(event, secret="whsec_old").status_code == 200
        second = fake_stripe.event("invoice.paid", event["data"]["object"]["id"])
        assert deliver(second, secret="whsec_new").status_code == 200
        assert StripeEvent.objects.count() == 2

    def test_a_header_signed_with_both_secrets_is_accepted(self, deliver, event, settings):
        settings.STRIPE_WEBHOOK_SECRET = "whsec_new"
        payload = json.dumps(event)
        now = int(time.time())
        old = sign(payload, secret="whsec_old", timestamp=now)
        new = sign(payload, secret="whsec_new", timestamp=now)
        header = f"{old},v1={new.split('v1=')[1]}"
        assert deliver(payload, header=header).status_code == 200

    def test_a_retired_secret_is_refused(self, deliver, event, settings):
        settings.STRIPE_WEBHOOK_SECRET = "whsec_new"
        self.assert_refused(deliver(event, secret="whsec_old"))

    def test_without_a_configured_secret_stripe_is_asked_to_come_back(self, deliver, event, settings):
        settings.STRIPE_WEBHOOK_SECRET = " , "
        assert deliver(event).status_code == 503
        assert not StripeEvent.objects.exists()

    def test_only_post_is_allowed(self, client):
        assert client.get(WEBHOOK_URL).status_code == 405

    def test_no_csrf_token_is_needed(self, deliver, event, settings):
        from django.test import Client

        strict = Client(enforce_csrf_checks=True)
        payload = json.dumps(event)
        response = strict.post(
            WEBHOOK_URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
        )
        assert response.status_code == 200


class TestEffects:
    def test_invoice_paid_renews_the_pool_and_its_seats(self, deliver, fake_stripe, invoiced_order):
        fake_stripe.pay(invoiced_order.stripe_invoice_id)

        response = deliver(fake_stripe.event("invoice.paid", invoiced_order.stripe_invoice_id))

        assert response.status_code == 200
        order = RenewalOrder.objects.get(pk=invoiced_order.pk)
        assert order.state == State.FULFILLED
        assert order.amount_paid == order.amount
        pool = Allocation.objects.get(pk=order.allocation_id)
        assert pool.term_ends_at == order.term_ends_at and pool.quantity == 12
        event = StripeEvent.objects.get()
        assert (event.result, event.order_id, event.invoice_id) == (
            "applied",
            order.pk,
            order.stripe_invoice_id,
        )

    def test_a_payment_marked_paid_out_of_band_renews_too(self, deliver, fake_stripe, invoiced_order):
        fake_stripe.pay(invoiced_order.stripe_invoice_id, out_of_band=True)
        deliver(fake_stripe.event("invoice.paid", invoiced_order.stripe_invoice_id))
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.FULFILLED

    @pytest.mark.parametrize(
        ("event_type", "prepare", "expected_state", "expected_verb", "mails"),
        [
            ("invoice.paid", "pay", State.FULFILLED, "allocation.renew", 0),
            ("invoice.payment_succeeded", "pay", State.FULFILLED, "allocation.renew", 0),
            ("invoice.payment_failed", None, State.INVOICED, "renewal.notice", 1),
            ("invoice.overdue", "past_due", State.INVOICED, "renewal.notice", 1),
            ("invoice.voided", "void", State.CANCELLED, "renewal.cancel", 0),
            ("invoice.marked_uncollectible", "uncollectible", State.LAPSED, "renewal.lapse", 0),
        ],
    )
    def test_each_event_delivered_five_times_has_exactly_one_effect(
        self,
        deliver,
        fake_stripe,
        invoiced_order,
        mailoutbox,
        django_capture_on_commit_callbacks,
        event_type,
        prepare,
        expected_state,
        expected_verb,
        mails,
    ):
        invoice_id = invoiced_order.stripe_invoice_id
        {
            "pay": lambda: fake_stripe.pay(invoice_id),
            "past_due": lambda: fake_stripe.make_past_due(invoice_id),
            "void": lambda: fake_stripe.set_status(invoice_id, "void"),
            "uncollectible": lambda: fake_stripe.set_status(invoice_id, "uncollectible"),
            None: lambda: None,
        }[prepare]()
        event = fake_stripe.event(event_type, invoice_id)
        audit_before = AuditEvent.objects.count()

        with django_capture_on_commit_callbacks(execute=True):
            responses = [deliver(event) for _ in range(5)]

        assert [r.status_code for r in responses] == [200] * 5
        assert [r.json().get("duplicate", False) for r in responses] == [False, True, True, True, True]
        order = RenewalOrder.objects.get(pk=invoiced_order.pk)
        assert order.state == expected_state
        assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
        target = order.allocation_id if expected_verb.startswith("allocation") else order.pk
        assert AuditEvent.objects.filter(verb=expected_verb, target_id=str(target)).count() == 1
        assert AuditEvent.objects.count() > audit_before
        assert len(mailoutbox) == mails

    def test_the_same_payment_told_by_two_different_events_renews_once(
        self, deliver, fake_stripe, invoiced_order
    ):
        fake_stripe.pay(invoiced_order.stripe_invoice_id)
        deliver(fake_stripe.event("invoice.payment_succeeded", invoiced_order.stripe_invoice_id))
        response = deliver(fake_stripe.event("invoice.paid", invoiced_order.stripe_invoice_id))

        assert response.json()["result"] == "no_change"
        assert AuditEvent.objects.filter(verb="allocation.renew").count() == 1
        assert StripeEvent.objects.count() == 2

    def test_an_unknown_event_type_is_recorded_and_ignored(self, deliver, fake_stripe, invoiced_order):
        event = {
            "id": "evt_unknown_1",
            "type": "customer.tax_id.created",
            "created": 1,
            "data": {"object": {}},
        }
        requests_before = len(fake_stripe.requests)

        responses = [deliver(event) for _ in range(5)]

        assert [r.status_code for r in responses] == [200] * 5
        recorded = StripeEvent.objects.get()
        assert (recorded.type, recorded.result) == ("customer.tax_id.created", "ignored")
        assert len(fake_stripe.requests) == requests_before
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.INVOICED

    def test_an_invoice_that_is_not_a_renewal_is_ignored_without_asking_stripe(
        self, deliver, fake_stripe, db
    ):
        event = {
            "id": "evt_other_1",
            "type": "invoice.paid",
            "data": {
                "object": {"object": "invoice", "id": "in_elsewhere", "metadata": {"renewal_order": "x"}}
            },
        }
        response = deliver(event)
        assert response.json()["result"] == "ignored"
        assert fake_stripe.requests == []

    def test_when_stripe_cannot_be_asked_nothing_is_recorded_and_stripe_retries(
        self, deliver, fake_stripe, invoiced_order
    ):
        fake_stripe.pay(invoiced_order.stripe_invoice_id)
        event = fake_stripe.event("invoice.paid", invoiced_order.stripe_invoice_id)
        fake_stripe.fail("GET", r"/v1/invoices/.*", "unavailable")

        assert deliver(event).status_code == 503
        assert not StripeEvent.objects.exists()
        assert deliver(event).status_code == 200
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.FULFILLED


class TestOrderIndependence:
    def test_a_late_payment_failure_after_the_payment_went_through_changes_nothing(
        self, deliver, fake_stripe, invoiced_order, mailoutbox, django_capture_on_commit_callbacks
    ):
        invoice_id = invoiced_order.stripe_invoice_id
        failed = fake_stripe.event("invoice.payment_failed", invoice_id)  # happened first...
        fake_stripe.pay(invoice_id)
        paid = fake_stripe.event("invoice.paid", invoice_id)

        with django_capture_on_commit_callbacks(execute=True):
            deliver(paid)
            response = deliver(failed)  # ...but arrives last

        assert response.json()["result"] == "no_change"
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.FULFILLED
        assert mailoutbox == []

    def test_a_paid_event_for_an_invoice_stripe_reports_open_does_not_renew(
        self, deliver, fake_stripe, invoiced_order
    ):
        invoice_id = invoiced_order.stripe_invoice_id
        event = fake_stripe.event("invoice.paid", invoice_id)
        event["data"]["object"]["status"] = "paid"  # what the event claims; Stripe says "open"

        response = deliver(event)

        assert response.json()["result"] == "no_change"
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.INVOICED
        assert not AuditEvent.objects.filter(verb="allocation.renew").exists()

    def test_payment_reported_before_the_invoicing_task_recorded_the_invoice(
        self, deliver, fake_stripe, paid_pool, request_renewal, gsa_admin, django_capture_on_commit_callbacks
    ):
        order = request_renewal(paid_pool)
        with django_capture_on_commit_callbacks(execute=True):
            services.renewal_approve(order=order, actor=gsa_admin)
        invoice = fake_stripe.invoice_for(str(order.uuid))
        # Pretend the task had not written its results yet: only Stripe knows the invoice.
        RenewalOrder.objects.filter(pk=order.pk).update(state=State.APPROVED, stripe_invoice_id="")
        fake_stripe.pay(invoice["id"])

        deliver(fake_stripe.event("invoice.paid", invoice["id"]))

        order.refresh_from_db()
        assert order.state == State.FULFILLED and order.stripe_invoice_id == invoice["id"]

    def test_an_uncollectible_invoice_paid_later_still_renews(self, deliver, fake_stripe, invoiced_order):
        invoice_id = invoiced_order.stripe_invoice_id
        fake_stripe.set_status(invoice_id, "uncollectible")
        deliver(fake_stripe.event("invoice.marked_uncollectible", invoice_id))
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.LAPSED

        fake_stripe.pay(invoice_id)
        deliver(fake_stripe.event("invoice.paid", invoice_id))
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.FULFILLED

    def test_a_payment_that_cannot_renew_stays_paid_and_says_why(
        self, deliver, fake_stripe, invoiced_order, gsa_admin
    ):
        past = timezone.now() - timedelta(days=10)
        RenewalOrder.objects.filter(pk=invoiced_order.pk).update(
            term_starts_at=past - timedelta(days=365), term_ends_at=past
        )
        Allocation.objects.filter(pk=invoiced_order.allocation_id).update(
            term_starts_at=past - timedelta(days=730), term_ends_at=past - timedelta(days=365)
        )
        fake_stripe.pay(invoiced_order.stripe_invoice_id)

        response = deliver(fake_stripe.event("invoice.paid", invoiced_order.stripe_invoice_id))

        assert response.json()["result"] == "refused"
        order = RenewalOrder.objects.get(pk=invoiced_order.pk)
        assert order.state == State.PAID
        assert "before it could take effect. Refund the payment in Stripe" in order.last_error
        with pytest.raises(RenewalNotAllowed):
            services.renewal_fulfil(order=order, actor=gsa_admin)


class TestDailyCheck:
    def test_overdue_invoices_notify_the_agency_once(
        self, fake_stripe, invoiced_order, mailoutbox, django_capture_on_commit_callbacks, agency_admin
    ):
        fake_stripe.make_past_due(invoiced_order.stripe_invoice_id)

        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.check_open_invoices() == 1
        RenewalOrder.objects.filter(pk=invoiced_order.pk).update(invoice_checked_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.check_open_invoices() == 1

        (mail,) = mailoutbox
        assert mail.subject.startswith("Invoice overdue")
        assert invoiced_order.purchase_order in mail.body
        assert "/agencies/doe-x/renewals/" in mail.body
        assert set(mail.to) == {agency_admin.email, "finance@examples.gov"}
        assert audit_count(invoiced_order, "renewal.notice") == 1

    def test_a_payment_whose_webhook_never_came_is_found(self, fake_stripe, invoiced_order):
        fake_stripe.pay(invoiced_order.stripe_invoice_id)
        assert tasks.check_open_invoices() == 1
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).state == State.FULFILLED

    def test_invoices_checked_recently_are_left_alone(self, fake_stripe, invoiced_order):
        tasks.check_open_invoices()
        assert tasks.check_open_invoices() == 0

    def test_payment_failure_mail_says_what_to_do(
        self, deliver, fake_stripe, invoiced_order, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            deliver(fake_stripe.event("invoice.payment_failed", invoiced_order.stripe_invoice_id))
        (mail,) = mailoutbox
        assert mail.subject == "Payment failed: Claude Enterprise (OneGov) renewal for Department of Examples"
        assert "pay it again" in mail.body and "https://invoice.stripe.test/i/" in mail.body
        assert RenewalOrder.objects.get(pk=invoiced_order.pk).payment_failed_at is not None
