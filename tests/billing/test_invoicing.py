"""Invoicing through the local fake Stripe: what is sent, and that retries never invoice twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.models import AuditEvent
from billing import invoicing, services, tasks
from billing.models import RenewalOrder, StripeCustomer
from core.errors import InvalidTransition
from tests.factories import AllocationFactory, ProgramFactory

pytestmark = pytest.mark.django_db
State = RenewalOrder.State
INVOICES = r"/v1/invoices"
ITEMS = r"/v1/invoiceitems"
FINALIZE = r"/v1/invoices/[^/]+/finalize"
SEND = r"/v1/invoices/[^/]+/send"


@pytest.fixture
def approve(gsa_admin, django_capture_on_commit_callbacks):
    def run(order):
        with django_capture_on_commit_callbacks(execute=True):
            services.renewal_approve(order=order, actor=gsa_admin)
        order.refresh_from_db()
        return order

    return run


class TestTheInvoice:
    def test_invoice_is_sent_net_30_with_po_and_line_of_accounting(self, invoiced_order, fake_stripe):
        invoice = fake_stripe.invoice_for(str(invoiced_order.uuid))

        assert invoice["collection_method"] == "send_invoice"
        assert invoice["days_until_due"] == 30
        assert invoice["custom_fields"] == [
            {"name": "PO number", "value": "PO-2026-0042"},
            {"name": "Line of accounting", "value": "070-X-0100-000-25-26"},
        ]
        assert invoice["metadata"]["renewal_order"] == str(invoiced_order.uuid)
        assert invoice["total"] == 100 + 250 * 12 == invoiced_order.amount_cents
        assert sorted(line["metadata"]["renewal_line"] for line in invoice["lines"]["data"]) == [
            "agency",
            "seats",
        ]
        assert fake_stripe.sent == [invoice["id"]]

        assert invoiced_order.stripe_invoice_id == invoice["id"]
        assert invoiced_order.stripe_invoice_number == invoice["number"]
        assert invoiced_order.hosted_invoice_url == invoice["hosted_invoice_url"]
        assert invoiced_order.invoice_due_at is not None

    def test_the_customer_carries_the_agency_code(self, invoiced_order, fake_stripe, department):
        (customer,) = fake_stripe.customers.values()
        assert customer["metadata"] == {"agency_code": department.slug, "agency_slug": department.slug}
        assert customer["email"] == "finance@examples.gov"
        assert StripeCustomer.objects.get(agency=department).stripe_customer_id == customer["id"]

    def test_opm_code_is_the_agency_code_when_known(
        self, fake_stripe, paid_pool, department, request_renewal, approve
    ):
        type(department).objects.filter(pk=department.pk).update(opm_code="EX00")
        approve(request_renewal(paid_pool))
        (customer,) = fake_stripe.customers.values()
        assert customer["metadata"]["agency_code"] == "EX00"

    def test_every_post_carries_a_key_derived_from_the_order(self, invoiced_order, fake_stripe):
        posts = [r for r in fake_stripe.requests if r.method == "POST"]
        assert posts and all(r.idempotency_key for r in posts)
        assert all(r.idempotency_key.startswith(f"seats-renewal-{invoiced_order.uuid}-g0-") for r in posts)
        assert len({r.idempotency_key for r in posts}) == len(posts)

    def test_audit_follows_the_invoice(self, invoiced_order):
        verbs = list(
            AuditEvent.objects.filter(target_type="billing.renewalorder", target_id=str(invoiced_order.pk))
            .order_by("id")
            .values_list("verb", flat=True)
        )
        assert verbs == [
            "renewal.request",
            "renewal.quote",
            "renewal.approve",
            "renewal.invoice_draft",
            "renewal.invoice",
        ]

    def test_a_second_renewal_reuses_the_customer_and_updates_its_email(
        self, invoiced_order, fake_stripe, department, request_renewal, approve
    ):
        other_pool = AllocationFactory(
            program=ProgramFactory(price_per_agency=5), agency=department, quantity=3
        )
        approve(request_renewal(other_pool, seats=3, billing_email="ap@examples.gov"))

        assert len(fake_stripe.customers) == 1
        assert next(iter(fake_stripe.customers.values()))["email"] == "ap@examples.gov"
        assert StripeCustomer.objects.get(agency=department).email == "ap@examples.gov"
        assert len(fake_stripe.invoices) == 2


class TestFailuresNeverDoubleInvoice:
    @pytest.mark.parametrize("mode", ["unavailable", "drop", "server_error"])
    @pytest.mark.parametrize(
        ("path", "posts_when_all_goes_well"), [(INVOICES, 1), (ITEMS, 2), (FINALIZE, 1), (SEND, 1)]
    )
    def test_a_failed_call_is_retried_and_makes_exactly_one_invoice(
        self, fake_stripe, paid_pool, request_renewal, approve, mode, path, posts_when_all_goes_well
    ):
        fake_stripe.fail("POST", path, mode)
        order = approve(request_renewal(paid_pool))

        assert order.state == State.INVOICED, order.last_error
        invoice = fake_stripe.invoice_for(str(order.uuid))
        assert len(fake_stripe.invoices) == 1
        assert len(invoice["lines"]["data"]) == 2 and invoice["total"] == order.amount_cents
        assert invoice["status"] == "open" and invoice["number"] == "SEATS-0001"
        assert order.stripe_invoice_id == invoice["id"]
        # At most the failed call is repeated; after a lost answer the retry usually finds the
        # work done (the invoice by its metadata, the line by its key, the finalized status).
        assert (
            posts_when_all_goes_well <= len(fake_stripe.calls("POST", path)) <= posts_when_all_goes_well + 1
        )
        # Stripe's saved 500 leaves unknown whether its e-mail went out; sending again is the
        # safe side of that doubt (a second copy of one invoice, never a second invoice).
        expected_sends = 2 if (path, mode) == (SEND, "server_error") else 1
        assert fake_stripe.sent == [invoice["id"]] * expected_sends

    def test_a_lost_answer_is_retried_with_the_same_key(
        self, fake_stripe, paid_pool, request_renewal, approve
    ):
        fake_stripe.fail("POST", SEND, "drop")
        approve(request_renewal(paid_pool))

        first, second = fake_stripe.calls("POST", SEND)
        assert first.idempotency_key == second.idempotency_key
        assert len(fake_stripe.sent) == 1  # the retry got Stripe's saved answer, not a second send

    def test_after_a_saved_500_the_next_attempt_finds_the_invoice_instead_of_making_one(
        self, fake_stripe, paid_pool, request_renewal, approve
    ):
        fake_stripe.fail("POST", INVOICES, "server_error")
        order = approve(request_renewal(paid_pool))

        assert order.stripe_key_generation == 1
        assert len(fake_stripe.calls("POST", INVOICES)) == 1  # the retry found it by its metadata
        assert len(fake_stripe.invoices) == 1

    def test_repeated_failures_give_up_quietly_and_the_sweep_finishes_later(
        self, fake_stripe, paid_pool, request_renewal, approve
    ):
        fake_stripe.fail("POST", FINALIZE, "unavailable", times=10_000)
        tasks.renewal_invoice.max_retries, saved = 2, tasks.renewal_invoice.max_retries
        try:
            order = approve(request_renewal(paid_pool))
        finally:
            tasks.renewal_invoice.max_retries = saved
        assert order.state == State.APPROVED
        assert "Stripe did not answer" in order.last_error
        assert len(fake_stripe.calls("POST", FINALIZE)) == 3

        fake_stripe.failures.clear()
        assert tasks.invoice_waiting_renewals() == 0  # the last attempt is too recent
        RenewalOrder.objects.filter(pk=order.pk).update(
            invoice_attempted_at=order.approved_at - timedelta(hours=1)
        )
        assert tasks.invoice_waiting_renewals() == 1
        order.refresh_from_db()
        assert order.state == State.INVOICED
        assert len(fake_stripe.invoices) == 1 and len(fake_stripe.sent) == 1

    def test_running_the_invoicing_task_again_changes_nothing(self, invoiced_order, fake_stripe):
        requests_before = len(fake_stripe.requests)
        assert tasks.renewal_invoice(invoiced_order.pk) == "nothing to invoice"
        assert len(fake_stripe.requests) == requests_before

    def test_a_draft_that_does_not_add_up_is_not_finalized(
        self, fake_stripe, paid_pool, request_renewal, approve, gsa_admin
    ):
        order = request_renewal(paid_pool)
        fake_stripe.fail("POST", FINALIZE, "unavailable", times=10_000)
        tasks.renewal_invoice.max_retries, saved = 0, tasks.renewal_invoice.max_retries
        try:
            approve(order)
        finally:
            tasks.renewal_invoice.max_retries = saved
        # Someone adds a line by hand in the Stripe dashboard; the platform must not send it.
        invoice = fake_stripe.invoice_for(str(order.uuid))
        invoice["lines"]["data"].append({"amount": 999, "metadata": {}})
        invoice["total"] += 999
        fake_stripe.failures.clear()

        assert invoicing.renewal_invoice_issue(order_id=order.pk) == "failed"
        order.refresh_from_db()
        assert order.state == State.APPROVED
        assert "totals 40.99 but the renewal costs 31.00" in order.last_error
        assert fake_stripe.sent == []

    def test_stripe_not_configured_is_recorded_not_retried(
        self, paid_pool, request_renewal, approve, settings
    ):
        settings.STRIPE_SECRET_KEY = ""
        order = approve(request_renewal(paid_pool))
        assert order.state == State.APPROVED
        assert "STRIPE_SECRET_KEY" in order.last_error


class TestVoid:
    def test_gsa_voids_an_open_invoice_and_the_renewal_is_cancelled(
        self, invoiced_order, fake_stripe, gsa_admin, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.renewal_cancel(order=invoiced_order, actor=gsa_admin, reason="agency withdrew")
        invoiced_order.refresh_from_db()
        assert fake_stripe.invoices[invoiced_order.stripe_invoice_id]["status"] == "void"
        assert invoiced_order.state == State.CANCELLED
        assert invoiced_order.decision_reason == "agency withdrew"

    def test_only_gsa_voids(self, invoiced_order, agency_admin):
        from core.errors import NotPermitted

        with pytest.raises(NotPermitted):
            services.renewal_cancel(order=invoiced_order, actor=agency_admin)

    def test_a_draft_is_deleted_instead(
        self, fake_stripe, paid_pool, request_renewal, approve, gsa_admin, django_capture_on_commit_callbacks
    ):
        fake_stripe.fail("POST", FINALIZE, "unavailable", times=10_000)
        tasks.renewal_invoice.max_retries, saved = 0, tasks.renewal_invoice.max_retries
        try:
            approve(request_renewal(paid_pool))
        finally:
            tasks.renewal_invoice.max_retries = saved
        order = RenewalOrder.objects.get()
        assert order.state == State.APPROVED and order.stripe_invoice_id

        with django_capture_on_commit_callbacks(execute=True):
            services.renewal_cancel(order=order, actor=gsa_admin, reason="wrong seat count")
        order.refresh_from_db()
        assert order.state == State.CANCELLED
        assert fake_stripe.invoices == {}

    def test_an_approved_order_without_invoice_is_cancelled_at_once(
        self, paid_pool, request_renewal, gsa_admin
    ):
        order = request_renewal(paid_pool)
        services.renewal_approve(order=order, actor=gsa_admin)  # the invoice task never ran
        order = services.renewal_cancel(order=order, actor=gsa_admin, reason="duplicate")
        assert order.state == State.CANCELLED
        with pytest.raises(InvalidTransition):
            services.renewal_cancel(order=order, actor=gsa_admin, reason="again")
