"""The renewal pages: who sees what (404 outside scope), what they can do, and fixed query counts."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from agencies.models import RoleAssignment
from billing import services
from billing.models import RenewalOrder
from tests.conftest import complete_mfa
from tests.factories import (
    AllocationFactory,
    EmployeeFactory,
    ProgramFactory,
    RenewalOrderFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
State = RenewalOrder.State


def agency_url(slug: str) -> str:
    return reverse("billing:agency_renewals", kwargs={"slug": slug})


GSA_URL = "/gsa/renewals/"


@pytest.fixture
def staff(department):
    user = UserFactory(username="onboarding")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.ONBOARDING_STAFF, agency=department)
    return user


@pytest.fixture
def employee_user(department):
    user = UserFactory(username="employee", email="worker@examples.gov")
    EmployeeFactory(agency=department, email="worker@examples.gov", user=user)
    return user


@pytest.fixture
def bureau_admin(bureau):
    user = UserFactory(username="bureau-admin")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=bureau)
    return user


class TestWhoSeesWhat:
    def test_the_urls_are_where_the_design_says(self):
        assert agency_url("doe-x") == "/agencies/doe-x/renewals/"
        assert reverse("billing:gsa_renewals") == GSA_URL
        assert reverse("billing:stripe_webhook") == "/billing/stripe/webhook/"

    @pytest.mark.parametrize("url", ["/agencies/doe-x/renewals/", GSA_URL])
    def test_anonymous_visitors_are_sent_to_sign_in(self, client, department, url):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    @pytest.mark.parametrize(
        ("who", "slug", "status"),
        [
            ("agency_admin", "doe-x", 200),
            ("agency_admin", "bos", 200),  # a bureau inside the admin's subtree
            ("gsa_admin", "doe-x", 200),
            ("gsa_admin", "elsewhere", 200),
            ("gsa_admin", "no-such-agency", 404),
            ("other_admin", "doe-x", 404),
            ("bureau_admin", "doe-x", 404),
            ("bureau_admin", "bos", 200),
            ("staff", "doe-x", 404),
            ("employee_user", "doe-x", 404),
        ],
    )
    def test_agency_page_permission_matrix(
        self, client, request, bureau, other_department, who, slug, status
    ):
        complete_mfa(client, request.getfixturevalue(who))
        assert client.get(agency_url(slug)).status_code == status

    @pytest.mark.parametrize(
        ("who", "status"),
        [("gsa_admin", 200), ("agency_admin", 404), ("staff", 404), ("employee_user", 404)],
    )
    def test_gsa_page_permission_matrix(self, client, request, who, status):
        complete_mfa(client, request.getfixturevalue(who))
        assert client.get(GSA_URL).status_code == status

    def test_an_order_of_another_agency_is_not_found(self, client, pool, other_admin, other_department):
        order = RenewalOrderFactory(allocation=pool)
        complete_mfa(client, other_admin)
        url = reverse("billing:agency_renewal_cancel", kwargs={"slug": "elsewhere", "order": order.uuid})
        assert client.post(url).status_code == 404
        order.refresh_from_db()
        assert order.state == State.REQUESTED

    def test_gsa_actions_are_not_found_for_agency_admins(self, client, pool, agency_admin):
        order = RenewalOrderFactory(allocation=pool)
        complete_mfa(client, agency_admin)
        url = reverse("billing:gsa_renewal_action", kwargs={"order": order.uuid, "action": "approve"})
        assert client.post(url).status_code == 404
        order.refresh_from_db()
        assert order.state == State.REQUESTED

    def test_orders_visible_to_each_role(
        self, pool, bureau, agency_admin, bureau_admin, gsa_admin, other_admin
    ):
        order = RenewalOrderFactory(allocation=pool)
        assert list(RenewalOrder.objects.visible_to(agency_admin)) == [order]
        assert list(RenewalOrder.objects.visible_to(gsa_admin)) == [order]
        assert list(RenewalOrder.objects.visible_to(other_admin)) == []
        assert list(RenewalOrder.objects.visible_to(bureau_admin)) == []  # the department's order

    def test_unknown_orders_and_actions_are_not_found(self, client, pool, gsa_admin):
        order = RenewalOrderFactory(allocation=pool)
        complete_mfa(client, gsa_admin)
        for order_id, action in [(uuid.uuid4(), "approve"), (order.uuid, "refund")]:
            url = reverse("billing:gsa_renewal_action", kwargs={"order": order_id, "action": action})
            assert client.post(url).status_code == 404


class TestAgencyPage:
    def test_shows_pools_history_and_the_request_form(
        self, client, pool, agency_admin, paid_program, department
    ):
        other_pool = AllocationFactory(program=paid_program, agency=department)
        RenewalOrderFactory(
            allocation=other_pool,
            state=State.INVOICED,
            amount=Decimal("31.00"),
            stripe_invoice_id="in_1",
            stripe_invoice_number="SEATS-0001",
            hosted_invoice_url="https://invoice.stripe.test/i/in_1",
            purchase_order="PO-9",
        )
        complete_mfa(client, agency_admin)

        html = client.get(agency_url("doe-x")).content.decode()

        assert "Request a renewal" in html and 'class="usa-form' in html
        assert "ChatGPT Enterprise (OneGov)" in html  # the pool without an open renewal is offered
        assert "SEATS-0001" in html and "PO-9" in html and "Invoiced" in html
        assert 'class="usa-table' in html

    def test_requesting_a_renewal(self, client, pool, agency_admin):
        complete_mfa(client, agency_admin)
        response = client.post(
            agency_url("doe-x"),
            {
                "pool": str(pool.uuid),
                "seats": "25",
                "purchase_order": "PO-1",
                "line_of_accounting": "",
                "billing_email": "ap@examples.gov",
            },
        )
        assert response.status_code == 302
        order = RenewalOrder.objects.get()
        assert (order.seats, order.purchase_order, order.requested_by) == (25, "PO-1", agency_admin)
        follow = client.get(response["Location"]).content.decode()
        assert "Renewal requested" in follow and "Requested" in follow

    def test_a_refused_request_shows_the_reason(self, client, pool, agency_admin, make_employee):
        from audit.actors import Actor
        from seats.services import seat_claim

        for _ in range(3):
            seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=Actor.system())
        complete_mfa(client, agency_admin)
        response = client.post(agency_url("doe-x"), {"pool": str(pool.uuid), "seats": "2"})
        assert response.status_code == 400
        assert "3 seats of this pool are in use" in response.content.decode()
        assert not RenewalOrder.objects.exists()

    def test_a_bureau_page_points_to_the_department(self, client, bureau, agency_admin):
        complete_mfa(client, agency_admin)
        html = client.get(agency_url("bos")).content.decode()
        assert "follow the term of Department of Examples" in html
        assert "Request a renewal" not in html

    def test_the_agency_adds_its_purchase_order_and_withdraws(self, client, pool, agency_admin):
        order = services.renewal_request(allocation=pool, seats=10, actor=agency_admin)
        complete_mfa(client, agency_admin)
        kwargs = {"slug": "doe-x", "order": order.uuid}

        client.post(
            reverse("billing:agency_renewal_purchase_order", kwargs=kwargs),
            {"purchase_order": "PO-5", "line_of_accounting": "LOA-5", "billing_email": "ap@examples.gov"},
        )
        order.refresh_from_db()
        assert (order.purchase_order, order.line_of_accounting) == ("PO-5", "LOA-5")

        client.post(reverse("billing:agency_renewal_cancel", kwargs=kwargs))
        order.refresh_from_db()
        assert order.state == State.CANCELLED

    def test_the_page_takes_the_same_queries_for_one_order_or_many(
        self, client, agency_admin, department, django_assert_num_queries
    ):
        complete_mfa(client, agency_admin)
        programs = [ProgramFactory() for _ in range(6)]
        pools = [AllocationFactory(program=program, agency=department) for program in programs]
        RenewalOrderFactory(allocation=pools[0])
        client.get(agency_url("doe-x"))  # warm the session and the user

        with django_assert_num_queries(10) as one:  # two: the staff second-factor check; one: the menu
            client.get(agency_url("doe-x"))
        for pool in pools[1:]:
            RenewalOrderFactory(allocation=pool, state=State.FULFILLED, amount=Decimal("3.00"))
        with django_assert_num_queries(len(one.captured_queries)):
            client.get(agency_url("doe-x"))


class TestGsaPage:
    def test_lists_pending_renewals_invoices_and_revenue(self, client, gsa_admin, pool, paid_pool):
        RenewalOrderFactory(allocation=pool)
        RenewalOrderFactory(
            allocation=paid_pool,
            state=State.FULFILLED,
            amount=Decimal("31.00"),
            amount_paid=Decimal("31.00"),
            paid_at=pool.term_starts_at,
            currency="usd",
        )
        complete_mfa(client, gsa_admin)

        html = client.get(GSA_URL).content.decode()

        assert "Waiting for GSA" in html and "Approve free of charge" in html
        assert "Department of Examples" in html
        assert "Renewal revenue by program" in html and "31.00" in html

    def test_approving_a_paid_renewal_sends_the_invoice(
        self, client, gsa_admin, paid_pool, request_renewal, fake_stripe, django_capture_on_commit_callbacks
    ):
        order = request_renewal(paid_pool)
        complete_mfa(client, gsa_admin)
        url = reverse("billing:gsa_renewal_action", kwargs={"order": order.uuid, "action": "approve"})

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url)

        assert response.status_code == 302
        order.refresh_from_db()
        assert order.state == State.INVOICED
        assert len(fake_stripe.sent) == 1

    def test_a_refusal_is_shown_as_the_services_message(self, client, gsa_admin, paid_pool, request_renewal):
        order = request_renewal(paid_pool, purchase_order="")
        complete_mfa(client, gsa_admin)
        url = reverse("billing:gsa_renewal_action", kwargs={"order": order.uuid, "action": "approve"})
        page = client.post(url, follow=True).content.decode()
        assert "needs Department of Examples&#x27;s purchase order number" in page

    def test_declining_needs_a_reason(self, client, gsa_admin, pool, request_renewal):
        order = request_renewal(pool)
        complete_mfa(client, gsa_admin)
        url = reverse("billing:gsa_renewal_action", kwargs={"order": order.uuid, "action": "decline"})
        assert "Give a reason" in client.post(url, follow=True).content.decode()
        client.post(url, {"reason": "Out of budget"})
        order.refresh_from_db()
        assert (order.state, order.decision_reason) == (State.DECLINED, "Out of budget")

    def test_free_approval_from_the_page(self, client, gsa_admin, paid_pool, request_renewal):
        order = request_renewal(paid_pool, purchase_order="")
        complete_mfa(client, gsa_admin)
        url = reverse("billing:gsa_renewal_action", kwargs={"order": order.uuid, "action": "approve-free"})
        client.post(url)
        order.refresh_from_db()
        assert order.state == State.FULFILLED and order.waived

    def test_the_page_takes_the_same_queries_for_one_order_or_many(
        self, client, gsa_admin, django_assert_num_queries
    ):
        complete_mfa(client, gsa_admin)
        RenewalOrderFactory()
        client.get(GSA_URL)

        with django_assert_num_queries(8) as one:  # one: the menu
            client.get(GSA_URL)
        for state in [State.REQUESTED, State.QUOTED, State.APPROVED, State.PAID, State.FULFILLED]:
            RenewalOrderFactory(state=state, amount=Decimal("5.00"), stripe_invoice_id=f"in_{state}")
        with django_assert_num_queries(len(one.captured_queries)):
            client.get(GSA_URL)
