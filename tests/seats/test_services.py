"""Pools and seats through their services: every refusal, every transition, one audit row each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.models import Employee
from audit.models import AuditEvent
from core.errors import (
    AllocationExists,
    AllocationNotAllowed,
    AlreadyClaimed,
    EmployeeNotActive,
    ForeignAgency,
    InvalidInput,
    InvalidTransition,
    ParentPoolExceeded,
    PoolExhausted,
    RenewalNotAllowed,
    ResizeBelowAssigned,
    TermEnded,
)
from provisioning.models import ProvisioningJob
from seats import services
from seats.models import Allocation, Program, Seat, WaitlistEntry
from tests.factories import AllocationFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def audit_count(verb: str) -> int:
    return AuditEvent.objects.filter(verb=verb).count()


class TestProgramAndAllocation:
    def test_program_create_records_terms_and_one_audit_row(self, gsa_admin):
        program = services.program_create(
            name="ChatGPT Enterprise (OneGov)",
            vendor="OpenAI",
            product="ChatGPT Enterprise",
            price_per_agency="1.00",
            actor=gsa_admin,
        )
        assert program.slug == "chatgpt-enterprise-onegov"
        assert str(program.price_per_agency) == "1.00"
        assert audit_count("program.create") == 1

    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"name": " "}, "name"),
            ({"term_months": 0}, "at least one month"),
            ({"price_per_seat": "-1"}, "negative"),
        ],
    )
    def test_program_create_refuses_bad_terms(self, gsa_admin, kwargs, message):
        values = {"name": "X", "vendor": "V", "product": "P", "actor": gsa_admin, **kwargs}
        with pytest.raises(InvalidInput, match=message):
            services.program_create(**values)
        assert not Program.objects.exists()

    def test_allocation_create_sets_a_one_year_term(self, program, department, gsa_admin):
        pool = services.allocation_create(program=program, agency=department, quantity=500, actor=gsa_admin)
        assert pool.quantity == 500 and pool.assigned == 0
        assert 365 <= (pool.term_ends_at - pool.term_starts_at).days <= 366
        assert audit_count("allocation.create") == 1

    def test_allocation_to_a_bureau_directly_is_refused(self, program, bureau, gsa_admin):
        with pytest.raises(AllocationNotAllowed, match="Allocate to the department"):
            services.allocation_create(program=program, agency=bureau, quantity=5, actor=gsa_admin)

    def test_second_pool_for_the_same_agency_is_refused(self, pool, gsa_admin):
        with pytest.raises(AllocationExists, match="resize that pool"):
            services.allocation_create(program=pool.program, agency=pool.agency, quantity=5, actor=gsa_admin)
        assert Allocation.objects.count() == 1

    def test_split_reserves_seats_in_the_parent(self, pool, bureau, agency_admin):
        child = services.allocation_split(parent=pool, agency=bureau, quantity=4, actor=agency_admin)
        pool.refresh_from_db()
        assert (pool.reserved_for_children, pool.free, child.quantity) == (4, 6, 4)
        assert child.term_ends_at == pool.term_ends_at
        assert audit_count("allocation.split") == 1

    def test_split_beyond_the_parents_free_seats_is_refused(self, pool, bureau, agency_admin):
        with pytest.raises(ParentPoolExceeded, match="10 free seats"):
            services.allocation_split(parent=pool, agency=bureau, quantity=11, actor=agency_admin)
        pool.refresh_from_db()
        assert pool.reserved_for_children == 0
        assert not Allocation.objects.filter(agency=bureau).exists()

    def test_split_to_another_department_is_refused(self, pool, other_department, agency_admin):
        with pytest.raises(ForeignAgency):
            services.allocation_split(parent=pool, agency=other_department, quantity=1, actor=agency_admin)

    def test_split_twice_to_the_same_bureau_keeps_the_first_reservation_only(
        self, pool, bureau, agency_admin
    ):
        services.allocation_split(parent=pool, agency=bureau, quantity=3, actor=agency_admin)
        with pytest.raises(AllocationExists):
            services.allocation_split(parent=pool, agency=bureau, quantity=3, actor=agency_admin)
        pool.refresh_from_db()
        assert pool.reserved_for_children == 3

    def test_resize_below_assigned_is_refused(self, pool, make_employee, gsa_admin):
        for _ in range(3):
            services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=gsa_admin)
        with pytest.raises(ResizeBelowAssigned, match="3 seats of this pool are in use"):
            services.allocation_resize(allocation=pool, quantity=2, actor=gsa_admin)
        pool.refresh_from_db()
        assert pool.quantity == 10

    def test_resize_below_what_bureaus_hold_is_refused(self, pool, bureau, agency_admin, gsa_admin):
        services.allocation_split(parent=pool, agency=bureau, quantity=8, actor=agency_admin)
        with pytest.raises(ResizeBelowAssigned):
            services.allocation_resize(allocation=pool, quantity=7, actor=gsa_admin)

    def test_growing_a_bureau_pool_takes_seats_from_the_parent(self, pool, bureau, agency_admin):
        child = services.allocation_split(parent=pool, agency=bureau, quantity=4, actor=agency_admin)
        services.allocation_resize(allocation=child, quantity=9, actor=agency_admin)
        pool.refresh_from_db()
        assert pool.reserved_for_children == 9
        with pytest.raises(ParentPoolExceeded):
            services.allocation_resize(allocation=child, quantity=11, actor=agency_admin)
        child.refresh_from_db()
        pool.refresh_from_db()
        assert (child.quantity, pool.reserved_for_children) == (9, 9)

    def test_resize_to_the_same_size_records_nothing(self, pool, gsa_admin):
        services.allocation_resize(allocation=pool, quantity=10, actor=gsa_admin)
        assert audit_count("allocation.resize") == 0


class TestClaim:
    def test_claim_takes_a_seat_and_counts_it(self, pool, employee):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=employee_user(employee))
        pool.refresh_from_db()
        assert seat.state == Seat.State.ACTIVE
        assert seat.expires_at == pool.term_ends_at
        assert pool.assigned == 1
        assert audit_count("seat.claim") == 1

    def test_a_claim_takes_the_term_the_database_holds_not_a_stale_copy(self, pool, employee, gsa_admin):
        stale = Allocation.objects.get(pk=pool.pk)
        new_end = pool.term_ends_at + timedelta(days=365)
        services.allocation_renew(allocation=pool, term_ends_at=new_end, actor=gsa_admin)
        seat = services.seat_claim(allocation=stale, employee=employee, actor=gsa_admin)
        assert seat.expires_at == new_end

    def test_claim_from_a_full_pool_is_refused_with_the_waitlist_as_the_way_out(
        self, pool, make_employee, gsa_admin
    ):
        pool.quantity = 1
        pool.save()
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=gsa_admin)
        with pytest.raises(PoolExhausted, match="Join the waitlist"):
            services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=gsa_admin)
        pool.refresh_from_db()
        assert pool.assigned == 1
        assert Seat.objects.count() == 1

    def test_claim_after_the_term_ended_is_refused(self, program, department, employee, gsa_admin):
        ended = AllocationFactory(
            program=program,
            agency=department,
            term_starts_at=timezone.now() - timedelta(days=400),
            term_ends_at=timezone.now() - timedelta(days=35),
        )
        with pytest.raises(TermEnded, match="renews"):
            services.seat_claim(allocation=ended, employee=employee, actor=gsa_admin)
        ended.refresh_from_db()
        assert ended.assigned == 0

    def test_duplicate_claim_is_refused_and_changes_nothing(self, pool, employee, gsa_admin):
        services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        with pytest.raises(AlreadyClaimed):
            services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        pool.refresh_from_db()
        assert pool.assigned == 1
        assert audit_count("seat.claim") == 1

    def test_duplicate_claim_through_a_bureau_pool_is_refused(
        self, pool, bureau, make_employee, agency_admin
    ):
        child = services.allocation_split(parent=pool, agency=bureau, quantity=2, actor=agency_admin)
        person = make_employee(bureau)
        services.seat_claim(allocation=child, employee=person, actor=agency_admin)
        with pytest.raises(AlreadyClaimed):
            services.seat_claim(allocation=pool, employee=person, actor=agency_admin)

    @pytest.mark.parametrize("status", [Employee.Status.SUSPENDED, Employee.Status.DEPARTED])
    def test_claim_by_a_suspended_or_departed_employee_is_refused(self, pool, employee, gsa_admin, status):
        employee.status = status
        employee.save()
        with pytest.raises(EmployeeNotActive):
            services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        assert not Seat.objects.exists()

    def test_claim_from_another_agencys_pool_is_refused(
        self, pool, other_department, make_employee, gsa_admin
    ):
        outsider = make_employee(other_department)
        with pytest.raises(ForeignAgency, match="your own agency's pool"):
            services.seat_claim(allocation=pool, employee=outsider, actor=gsa_admin)

    def test_bureau_employees_claim_from_the_department_pool(self, pool, bureau, make_employee, gsa_admin):
        seat = services.seat_claim(allocation=pool, employee=make_employee(bureau), actor=gsa_admin)
        assert seat.state == Seat.State.ACTIVE

    def test_department_employees_cannot_claim_from_a_bureau_pool(self, pool, bureau, employee, agency_admin):
        child = services.allocation_split(parent=pool, agency=bureau, quantity=2, actor=agency_admin)
        with pytest.raises(ForeignAgency):
            services.seat_claim(allocation=child, employee=employee, actor=agency_admin)

    def test_a_bureau_pool_does_not_spend_the_parents_remaining_seats(
        self, pool, bureau, make_employee, agency_admin
    ):
        child = services.allocation_split(parent=pool, agency=bureau, quantity=8, actor=agency_admin)
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=agency_admin)
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=agency_admin)
        with pytest.raises(PoolExhausted):
            services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=agency_admin)
        services.seat_claim(allocation=child, employee=make_employee(bureau), actor=agency_admin)

    def test_policy_with_approval_makes_a_request_that_an_admin_approves(self, pool, employee, agency_admin):
        pool.agency.claims_require_approval = True
        pool.agency.save()
        seat = services.seat_claim(allocation=pool, employee=employee, actor=employee_user(employee))
        assert seat.state == Seat.State.REQUESTED
        seat = services.seat_approve(seat=seat, actor=agency_admin)
        assert seat.state == Seat.State.ACTIVE and seat.approved_at
        assert audit_count("seat.approve") == 1
        with pytest.raises(InvalidTransition):
            services.seat_approve(seat=seat, actor=agency_admin)

    def test_reject_returns_the_seat_to_the_pool(self, pool, employee, agency_admin):
        pool.agency.claims_require_approval = True
        pool.agency.save()
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        services.seat_reject(seat=seat, actor=agency_admin, reason="not eligible")
        pool.refresh_from_db()
        assert pool.assigned == 0
        assert Seat.objects.get(pk=seat.pk).state == Seat.State.REJECTED


class TestRevokeReassign:
    def test_revoke_frees_the_seat_and_records_the_reason(self, pool, employee, agency_admin):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        seat = services.seat_revoke(seat=seat, actor=agency_admin, reason="left the agency")
        pool.refresh_from_db()
        assert (seat.state, seat.reason, pool.assigned) == (
            Seat.State.REVOKED,
            "left the agency",
            0,
        )
        assert seat.ended_at is not None
        assert audit_count("seat.revoke") == 1

    def test_revoke_twice_is_refused_and_counts_once(self, pool, employee, agency_admin):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        services.seat_revoke(seat=seat, actor=agency_admin, reason="left")
        with pytest.raises(InvalidTransition, match="revoked"):
            services.seat_revoke(seat=seat, actor=agency_admin, reason="left")
        pool.refresh_from_db()
        assert pool.assigned == 0

    def test_revoke_needs_a_reason(self, pool, employee, agency_admin):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        with pytest.raises(InvalidInput, match="why"):
            services.seat_revoke(seat=seat, actor=agency_admin, reason=" ")

    def test_after_revoke_the_employee_may_claim_again(self, pool, employee, agency_admin):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        services.seat_revoke(seat=seat, actor=agency_admin, reason="mistake")
        again = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        assert again.pk != seat.pk and again.state == Seat.State.ACTIVE

    def test_reassign_moves_the_seat_without_touching_the_count(
        self, pool, employee, make_employee, agency_admin
    ):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        newcomer = make_employee(pool.agency)
        new_seat = services.seat_reassign(seat=seat, employee=newcomer, actor=agency_admin)
        pool.refresh_from_db()
        seat.refresh_from_db()
        assert pool.assigned == 1
        assert (seat.state, new_seat.employee, new_seat.state) == (
            Seat.State.REVOKED,
            newcomer,
            Seat.State.ACTIVE,
        )
        assert new_seat.expires_at == seat.expires_at
        assert audit_count("seat.reassign") == 1

    def test_reassign_to_someone_holding_a_seat_is_refused_and_rolled_back(
        self, pool, employee, make_employee, agency_admin
    ):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        holder = make_employee(pool.agency)
        services.seat_claim(allocation=pool, employee=holder, actor=agency_admin)
        with pytest.raises(AlreadyClaimed):
            services.seat_reassign(seat=seat, employee=holder, actor=agency_admin)
        seat.refresh_from_db()
        assert seat.state == Seat.State.ACTIVE

    def test_reassign_to_another_agency_is_refused(
        self, pool, employee, other_department, make_employee, agency_admin
    ):
        seat = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        with pytest.raises(ForeignAgency):
            services.seat_reassign(seat=seat, employee=make_employee(other_department), actor=agency_admin)


class TestVendorOutbox:
    def test_claims_in_a_vendor_program_wait_for_the_vendor_with_a_job_in_the_same_transaction(
        self, department, employee, gsa_admin
    ):
        program = ProgramFactory(connector=Program.Connector.SCIM)
        pool = AllocationFactory(program=program, agency=department)
        seat = services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        assert seat.state == Seat.State.PENDING
        job = ProvisioningJob.objects.get(seat=seat)
        assert (job.action, job.state) == ("create", "queued")
        seat = services.seat_activate(seat=seat, actor=gsa_admin, vendor_user_id="vu-1")
        assert seat.state == Seat.State.ACTIVE and seat.vendor_user_id == "vu-1"
        services.seat_revoke(seat=seat, actor=gsa_admin, reason="left")
        assert ProvisioningJob.objects.filter(seat=seat, action="deactivate", state="queued").count() == 1

    def test_revoking_before_the_vendor_saw_the_seat_cancels_the_create(
        self, department, employee, gsa_admin
    ):
        program = ProgramFactory(connector=Program.Connector.SCIM)
        pool = AllocationFactory(program=program, agency=department)
        seat = services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        services.seat_revoke(seat=seat, actor=gsa_admin, reason="changed mind")
        assert list(ProvisioningJob.objects.values_list("action", "state")) == [("create", "cancelled")]

    def test_failed_seat_can_be_retried(self, department, employee, gsa_admin):
        program = ProgramFactory(connector=Program.Connector.SCIM)
        pool = AllocationFactory(program=program, agency=department)
        seat = services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        seat = services.seat_mark_failed(seat=seat, actor=gsa_admin, error="HTTP 500 from vendor")
        assert seat.state == Seat.State.FAILED and "500" in seat.last_error
        seat = services.seat_retry(seat=seat, actor=gsa_admin)
        assert seat.state == Seat.State.PENDING
        assert ProvisioningJob.objects.filter(seat=seat, action="create").count() == 2


class TestRenewAndExpire:
    def test_renew_moves_the_term_of_the_pool_its_bureaus_and_every_live_seat(
        self, pool, bureau, employee, make_employee, agency_admin, gsa_admin
    ):
        child = services.allocation_split(parent=pool, agency=bureau, quantity=3, actor=agency_admin)
        live = services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
        in_bureau = services.seat_claim(allocation=child, employee=make_employee(bureau), actor=agency_admin)
        ended = services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=agency_admin)
        services.seat_revoke(seat=ended, actor=agency_admin, reason="left")
        new_end = pool.term_ends_at + timedelta(days=365)
        services.allocation_renew(allocation=pool, term_ends_at=new_end, actor=gsa_admin)
        for obj in (pool, child, live, in_bureau, ended):
            obj.refresh_from_db()
        assert pool.term_ends_at == child.term_ends_at == new_end
        assert live.expires_at == in_bureau.expires_at == new_end
        assert ended.expires_at != new_end
        assert audit_count("allocation.renew") == 1

    def test_renew_twice_to_the_same_date_is_one_change(self, pool, employee, gsa_admin):
        services.seat_claim(allocation=pool, employee=employee, actor=gsa_admin)
        new_end = pool.term_ends_at + timedelta(days=365)
        services.allocation_renew(allocation=pool, term_ends_at=new_end, actor=gsa_admin)
        state = list(Allocation.objects.values()), list(Seat.objects.values("expires_at", "state"))
        services.allocation_renew(allocation=pool, term_ends_at=new_end, actor=gsa_admin)
        assert (
            list(Allocation.objects.values()),
            list(Seat.objects.values("expires_at", "state")),
        ) == state
        assert audit_count("allocation.renew") == 1

    def test_renew_to_an_earlier_date_or_of_a_bureau_pool_is_refused(
        self, pool, bureau, agency_admin, gsa_admin
    ):
        with pytest.raises(RenewalNotAllowed, match="later"):
            services.allocation_renew(
                allocation=pool, term_ends_at=pool.term_ends_at - timedelta(days=1), actor=gsa_admin
            )
        child = services.allocation_split(parent=pool, agency=bureau, quantity=1, actor=agency_admin)
        with pytest.raises(RenewalNotAllowed, match="department"):
            services.allocation_renew(
                allocation=child,
                term_ends_at=pool.term_ends_at + timedelta(days=1),
                actor=gsa_admin,
            )

    def test_expire_ends_live_seats_at_term_end_and_refills_the_pool(self, pool, make_employee, gsa_admin):
        seats = [
            services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=gsa_admin)
            for _ in range(3)
        ]
        services.seat_revoke(seat=seats[0], actor=gsa_admin, reason="left")
        assert services.seats_expire(now=pool.term_ends_at - timedelta(seconds=1)) == 0
        assert services.seats_expire(now=pool.term_ends_at) == 2
        pool.refresh_from_db()
        assert pool.assigned == 0
        states = sorted(Seat.objects.values_list("state", flat=True))
        assert states == ["expired", "expired", "revoked"]
        assert audit_count("seat.expire") == 2

    def test_expire_twice_is_idempotent(self, pool, make_employee, gsa_admin):
        for _ in range(4):
            services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=gsa_admin)
        assert services.seats_expire(now=pool.term_ends_at, batch_size=3) == 4
        snapshot = list(Seat.objects.order_by("pk").values()), list(Allocation.objects.values())
        assert services.seats_expire(now=pool.term_ends_at, batch_size=3) == 0
        assert (
            list(Seat.objects.order_by("pk").values()),
            list(Allocation.objects.values()),
        ) == snapshot
        assert audit_count("seat.expire") == 4

    def test_expire_queues_vendor_deactivation_for_seats_the_vendor_knows(
        self, department, make_employee, gsa_admin
    ):
        program = ProgramFactory(connector=Program.Connector.SCIM)
        pool = AllocationFactory(program=program, agency=department)
        known = services.seat_claim(allocation=pool, employee=make_employee(department), actor=gsa_admin)
        services.seat_activate(seat=known, actor=gsa_admin, vendor_user_id="vu-9")
        unknown = services.seat_claim(allocation=pool, employee=make_employee(department), actor=gsa_admin)
        services.seats_expire(now=pool.term_ends_at)
        assert ProvisioningJob.objects.filter(seat=known, action="deactivate").count() == 1
        assert list(ProvisioningJob.objects.filter(seat=unknown).values_list("action", "state")) == [
            ("create", "cancelled")
        ]


class TestWaitlist:
    def test_a_freed_seat_goes_to_the_head_of_the_line(self, pool, make_employee, agency_admin):
        pool.quantity = 1
        pool.save()
        holder = services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=agency_admin)
        first, second = make_employee(pool.agency), make_employee(pool.agency)
        services.waitlist_join(allocation=pool, employee=first, actor=agency_admin)
        services.waitlist_join(allocation=pool, employee=second, actor=agency_admin)
        services.seat_revoke(seat=holder, actor=agency_admin, reason="left")
        assert Seat.objects.live().get().employee == first
        assert WaitlistEntry.objects.get(employee=first).state == WaitlistEntry.State.SERVED
        assert WaitlistEntry.objects.get(employee=second).state == WaitlistEntry.State.WAITING
        pool.refresh_from_db()
        assert pool.assigned == 1

    def test_joining_twice_keeps_the_place_in_line(self, pool, employee, agency_admin):
        one = services.waitlist_join(allocation=pool, employee=employee, actor=agency_admin)
        two = services.waitlist_join(allocation=pool, employee=employee, actor=agency_admin)
        assert one.pk == two.pk
        assert audit_count("waitlist.join") == 1

    def test_a_departed_person_at_the_head_is_skipped(self, pool, make_employee, agency_admin):
        pool.quantity = 1
        pool.save()
        holder = services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=agency_admin)
        gone, next_in_line = make_employee(pool.agency), make_employee(pool.agency)
        services.waitlist_join(allocation=pool, employee=gone, actor=agency_admin)
        services.waitlist_join(allocation=pool, employee=next_in_line, actor=agency_admin)
        Employee.objects.filter(pk=gone.pk).update(status=Employee.Status.DEPARTED)
        services.seat_revoke(seat=holder, actor=agency_admin, reason="left")
        assert Seat.objects.live().get().employee == next_in_line
        assert WaitlistEntry.objects.get(employee=gone).state == WaitlistEntry.State.CANCELLED

    def test_growing_the_pool_serves_the_waitlist(self, pool, make_employee, gsa_admin):
        pool.quantity = 0
        pool.save()
        waiting = make_employee(pool.agency)
        services.waitlist_join(allocation=pool, employee=waiting, actor=gsa_admin)
        services.allocation_resize(allocation=pool, quantity=1, actor=gsa_admin)
        assert Seat.objects.live().get().employee == waiting


def employee_user(employee):
    from tests.factories import UserFactory

    user = UserFactory(username=f"u-{employee.pk}", email=employee.email)
    employee.user = user
    employee.save()
    return user
