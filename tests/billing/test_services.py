"""Renewal orders through their services: every refusal, every move, one audit row each."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from agencies.models import RoleAssignment
from audit.actors import Actor
from audit.models import AuditEvent
from billing import services
from billing.models import RenewalOrder
from core.errors import (
    InvalidInput,
    InvalidTransition,
    NotPermitted,
    PurchaseOrderRequired,
    RenewalExists,
    RenewalNotAllowed,
)
from seats import services as seat_services
from seats.models import Allocation, Seat
from seats.services import add_months
from tests.factories import AllocationFactory, RenewalOrderFactory, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db
State = RenewalOrder.State


def verbs(order: RenewalOrder) -> list[str]:
    return list(
        AuditEvent.objects.filter(target_type="billing.renewalorder", target_id=str(order.pk))
        .order_by("id")
        .values_list("verb", flat=True)
    )


class TestRequest:
    def test_agency_admin_requests_the_next_term_of_their_pool(self, pool, request_renewal, agency_admin):
        order = request_renewal(pool, seats=12)

        assert order.state == State.REQUESTED
        assert order.seats == 12 and order.amount is None
        assert order.term_starts_at == pool.term_ends_at
        assert order.term_ends_at == add_months(pool.term_ends_at, pool.program.term_months)
        assert order.requested_by == agency_admin
        assert order.billing_email == "finance@examples.gov"
        assert verbs(order) == ["renewal.request"]

    def test_gsa_may_request_on_behalf_of_an_agency(self, pool, gsa_admin):
        order = services.renewal_request(allocation=pool, seats=10, actor=gsa_admin)
        assert order.state == State.REQUESTED

    def test_a_lapsed_pool_renews_from_now(self, program, department, request_renewal):
        lapsed = AllocationFactory(
            program=program,
            agency=department,
            term_starts_at=timezone.now() - timedelta(days=400),
            term_ends_at=timezone.now() - timedelta(days=35),
        )
        before = timezone.now()
        order = request_renewal(lapsed)
        assert order.term_starts_at >= before

    def test_a_second_open_request_for_the_same_pool_is_refused(self, pool, request_renewal):
        request_renewal(pool)
        with pytest.raises(RenewalExists, match="already requested"):
            request_renewal(pool)

    def test_the_database_refuses_two_open_orders_for_one_pool(self, pool):
        RenewalOrderFactory(allocation=pool)
        with pytest.raises(IntegrityError, match=r"billing_renewalorder|UNIQUE"), transaction.atomic():
            RenewalOrderFactory(allocation=pool, state=State.QUOTED)

    def test_a_closed_order_lets_the_agency_ask_again(self, pool, request_renewal, agency_admin):
        first = request_renewal(pool)
        services.renewal_cancel(order=first, actor=agency_admin)
        second = request_renewal(pool)
        assert second.pk != first.pk

    def test_bureau_pools_are_renewed_through_their_department(self, pool, bureau, agency_admin):
        bureau_pool = seat_services.allocation_split(
            parent=pool, agency=bureau, quantity=2, actor=agency_admin
        )
        with pytest.raises(RenewalNotAllowed, match="department"):
            services.renewal_request(allocation=bureau_pool, seats=2, actor=agency_admin)

    def test_fewer_seats_than_in_use_are_refused(self, pool, make_employee, department, request_renewal):
        for _ in range(3):
            seat_services.seat_claim(
                allocation=pool, employee=make_employee(department), actor=Actor.system()
            )
        with pytest.raises(InvalidInput, match="3 seats of this pool are in use"):
            request_renewal(pool, seats=2)

    def test_zero_seats_are_refused(self, pool, request_renewal):
        with pytest.raises(InvalidInput, match="at least one seat"):
            request_renewal(pool, seats=0)

    def test_a_purchase_order_longer_than_stripe_prints_is_refused(self, pool, request_renewal):
        with pytest.raises(InvalidInput, match="at most 140"):
            request_renewal(pool, purchase_order="X" * 141)

    def test_a_closed_program_is_not_renewed(self, pool, request_renewal):
        type(pool.program).objects.filter(pk=pool.program_id).update(is_active=False)
        pool.program.refresh_from_db()
        with pytest.raises(RenewalNotAllowed, match="closed"):
            request_renewal(pool)

    def test_a_program_ending_before_the_next_term_is_not_renewed(self, pool, request_renewal):
        type(pool.program).objects.filter(pk=pool.program_id).update(ends_at=pool.term_ends_at)
        pool.program.refresh_from_db()
        with pytest.raises(RenewalNotAllowed, match="no term left"):
            request_renewal(pool)

    def test_an_administrator_of_another_agency_cannot_request(self, pool, other_admin):
        with pytest.raises(NotPermitted, match="Only administrators of Department of Examples"):
            services.renewal_request(allocation=pool, seats=10, actor=other_admin)

    def test_onboarding_staff_cannot_request(self, pool, department):
        staff = UserFactory(username="onboarder")
        RoleAssignmentFactory(user=staff, role=RoleAssignment.Role.ONBOARDING_STAFF, agency=department)
        with pytest.raises(NotPermitted):
            services.renewal_request(allocation=pool, seats=10, actor=staff)


class TestQuoteAndApprove:
    def test_quote_prices_from_the_program(self, paid_pool, request_renewal, gsa_admin):
        order = services.renewal_quote(order=request_renewal(paid_pool, seats=12), actor=gsa_admin)
        assert order.state == State.QUOTED
        assert order.amount == Decimal("1.00") + Decimal("2.50") * 12
        assert (order.price_per_agency, order.price_per_seat) == (Decimal("1.00"), Decimal("2.50"))
        assert verbs(order) == ["renewal.request", "renewal.quote"]

    def test_only_gsa_quotes_and_approves(self, paid_pool, request_renewal, agency_admin):
        order = request_renewal(paid_pool)
        with pytest.raises(NotPermitted, match="Only GSA administrators"):
            services.renewal_quote(order=order, actor=agency_admin)
        with pytest.raises(NotPermitted):
            services.renewal_approve(order=order, actor=agency_admin)

    def test_free_renewal_takes_effect_at_approval(self, pool, request_renewal, gsa_admin, make_employee):
        seat = seat_services.seat_claim(
            allocation=pool, employee=make_employee(pool.agency), actor=Actor.system()
        )
        order = request_renewal(pool, seats=15, purchase_order="")

        order = services.renewal_approve(order=order, actor=gsa_admin)

        assert order.state == State.FULFILLED and order.amount == 0
        pool.refresh_from_db()
        seat.refresh_from_db()
        assert pool.term_ends_at == order.term_ends_at == seat.expires_at
        assert pool.quantity == 15
        assert verbs(order) == ["renewal.request", "renewal.quote", "renewal.approve", "renewal.fulfil"]
        assert AuditEvent.objects.filter(verb="allocation.renew", target_id=str(pool.pk)).count() == 1
        assert AuditEvent.objects.filter(verb="allocation.resize", target_id=str(pool.pk)).count() == 1

    def test_gsa_can_waive_a_priced_renewal(self, paid_pool, request_renewal, gsa_admin):
        order = request_renewal(paid_pool, purchase_order="")
        order = services.renewal_approve(order=order, actor=gsa_admin, waive=True)
        assert order.state == State.FULFILLED
        assert order.waived and order.amount == 0

    def test_paid_approval_needs_a_purchase_order(self, paid_pool, request_renewal, gsa_admin):
        order = request_renewal(paid_pool, purchase_order="")
        with pytest.raises(PurchaseOrderRequired, match="purchase order number"):
            services.renewal_approve(order=order, actor=gsa_admin)
        order.refresh_from_db()
        assert order.state == State.REQUESTED and order.amount is None

    def test_paid_approval_needs_a_billing_email(self, paid_pool, request_renewal, gsa_admin):
        order = request_renewal(paid_pool, billing_email="")
        with pytest.raises(PurchaseOrderRequired, match="e-mail"):
            services.renewal_approve(order=order, actor=gsa_admin)

    def test_paid_approval_queues_the_invoice_after_commit(
        self, paid_pool, request_renewal, gsa_admin, django_capture_on_commit_callbacks
    ):
        order = request_renewal(paid_pool)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            order = services.renewal_approve(order=order, actor=gsa_admin)
        assert order.state == State.APPROVED
        assert len(callbacks) == 1
        paid_pool.refresh_from_db()
        assert paid_pool.term_ends_at < order.term_ends_at  # nothing renews before payment

    def test_approval_fixes_the_term_when_the_pool_lapsed_meanwhile(self, pool, request_renewal, gsa_admin):
        order = request_renewal(pool, purchase_order="")
        Allocation.objects.filter(pk=pool.pk).update(
            term_starts_at=timezone.now() - timedelta(days=400),
            term_ends_at=timezone.now() - timedelta(days=2),
        )
        order = services.renewal_approve(order=order, actor=gsa_admin)
        pool.refresh_from_db()
        assert order.term_starts_at > timezone.now() - timedelta(minutes=1)
        assert pool.term_ends_at == order.term_ends_at > timezone.now()

    def test_an_approved_order_cannot_be_approved_again(self, pool, request_renewal, gsa_admin):
        order = services.renewal_approve(order=request_renewal(pool), actor=gsa_admin)
        with pytest.raises(InvalidTransition, match="renewed; it cannot be approved"):
            services.renewal_approve(order=order, actor=gsa_admin)

    def test_a_renewal_that_cannot_shrink_the_pool_still_moves_the_term(
        self, pool, request_renewal, gsa_admin, make_employee
    ):
        order = request_renewal(pool, seats=2)
        for _ in range(3):
            seat_services.seat_claim(
                allocation=pool, employee=make_employee(pool.agency), actor=Actor.system()
            )

        order = services.renewal_approve(order=order, actor=gsa_admin)

        pool.refresh_from_db()
        assert order.state == State.FULFILLED
        assert pool.term_ends_at == order.term_ends_at and pool.quantity == 10
        assert "stays at 10 seats" in order.last_error and "resize the pool to 2" in order.last_error


class TestDeclineCancelLapse:
    def test_decline_tells_the_agency_and_leaves_the_pool_to_expire(
        self, pool, request_renewal, gsa_admin, mailoutbox, django_capture_on_commit_callbacks
    ):
        order = request_renewal(pool)
        with django_capture_on_commit_callbacks(execute=True):
            order = services.renewal_decline(order=order, actor=gsa_admin, reason="Program budget exhausted")
        assert order.state == State.DECLINED and order.closed_at
        assert verbs(order)[-1] == "renewal.decline"
        pool.refresh_from_db()
        assert pool.term_ends_at < order.term_ends_at
        (mail,) = mailoutbox
        assert "Renewal declined" in mail.subject
        assert "Program budget exhausted" in mail.body
        assert sorted(mail.to) == ["admin@examples.gov", "finance@examples.gov"]

    def test_decline_needs_a_reason(self, pool, request_renewal, gsa_admin):
        with pytest.raises(InvalidInput, match="Say why"):
            services.renewal_decline(order=request_renewal(pool), actor=gsa_admin, reason=" ")

    def test_the_agency_withdraws_its_own_request(self, pool, request_renewal, agency_admin):
        order = services.renewal_cancel(order=request_renewal(pool), actor=agency_admin)
        assert order.state == State.CANCELLED
        assert verbs(order) == ["renewal.request", "renewal.cancel"]

    def test_another_agency_cannot_withdraw_it(self, pool, request_renewal, other_admin):
        with pytest.raises(NotPermitted):
            services.renewal_cancel(order=request_renewal(pool), actor=other_admin)

    def test_a_fulfilled_renewal_cannot_be_cancelled(self, pool, request_renewal, gsa_admin):
        order = services.renewal_approve(order=request_renewal(pool), actor=gsa_admin)
        with pytest.raises(InvalidTransition, match="refunded in Stripe"):
            services.renewal_cancel(order=order, actor=gsa_admin)

    def test_purchase_order_can_be_added_until_approval(
        self, paid_pool, request_renewal, agency_admin, gsa_admin
    ):
        order = request_renewal(paid_pool, purchase_order="")
        order = services.renewal_update_purchase_order(
            order=order,
            actor=agency_admin,
            purchase_order="PO-77",
            line_of_accounting="LOA",
            billing_email="AP@Examples.gov",
        )
        assert (order.purchase_order, order.billing_email) == ("PO-77", "ap@examples.gov")
        services.renewal_decline(order=order, actor=gsa_admin, reason="no")
        with pytest.raises(InvalidTransition):
            services.renewal_update_purchase_order(
                order=order,
                actor=agency_admin,
                purchase_order="PO-78",
                line_of_accounting="",
                billing_email="",
            )

    def test_undecided_requests_lapse_after_the_decision_window(self, pool, request_renewal, settings):
        order = request_renewal(pool)
        settings.BILLING_DECISION_DAYS = 30

        assert services.renewals_lapse_undecided(now=order.term_starts_at + timedelta(days=29)) == 0
        assert services.renewals_lapse_undecided(now=order.term_starts_at + timedelta(days=31)) == 1
        assert services.renewals_lapse_undecided(now=order.term_starts_at + timedelta(days=32)) == 0

        order.refresh_from_db()
        assert order.state == State.LAPSED
        assert verbs(order) == ["renewal.request", "renewal.lapse"]

    def test_the_pool_of_a_declined_renewal_expires_on_schedule(
        self, pool, request_renewal, gsa_admin, make_employee
    ):
        seat = seat_services.seat_claim(
            allocation=pool, employee=make_employee(pool.agency), actor=Actor.system()
        )
        services.renewal_decline(order=request_renewal(pool), actor=gsa_admin, reason="not renewing")

        assert seat_services.seats_expire(now=pool.term_ends_at + timedelta(seconds=1)) == 1
        seat.refresh_from_db()
        assert seat.state == Seat.State.EXPIRED


def test_gsa_role_check_accepts_system_actors(pool, request_renewal):
    order = services.renewal_approve(order=request_renewal(pool), actor=Actor.system("gsa-batch"))
    assert order.state == State.FULFILLED


def test_integration_tokens_cannot_approve(pool, request_renewal):
    with pytest.raises(NotPermitted):
        services.renewal_approve(order=request_renewal(pool), actor=Actor.token("scim:doe"))


def test_roles_are_read_fresh(pool, request_renewal, agency_admin):
    order = request_renewal(pool)
    RoleAssignment.objects.create(user=agency_admin, role=RoleAssignment.Role.GSA_ADMIN)
    assert services.renewal_quote(order=order, actor=agency_admin).state == State.QUOTED
