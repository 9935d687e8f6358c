"""The reads behind the portal's tables and charts: bureau pools roll up into their department's
row, counts come from the seats' own dates and states, and the query count does not grow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import Actor
from seats import selectors
from seats.models import Allocation, Seat
from seats.services import allocation_split, program_update, seat_revoke
from tests.factories import AgencyFactory, AllocationFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def split(pool, bureau):
    return allocation_split(parent=pool, agency=bureau, quantity=4, actor=ACTOR)


def test_a_department_row_counts_the_seats_of_its_bureau_pools(
    pool, split, make_employee, claim, department, bureau
):
    claim(pool, make_employee(department))
    claim(split, make_employee(bureau))
    claim(split, make_employee(bureau))
    row = selectors.pool_rows(Allocation.objects.filter(pk=pool.pk))[0]
    assert (row.allocated, row.claimed, row.active, row.bureau_pools) == (10, 3, 3, 1)
    assert row.utilization == pytest.approx(0.3)
    assert row.free == 10 - 1 - 4


def test_pending_and_expiring_seats_are_counted_from_state_and_expiry(pool, make_employee, claim, department):
    department.claims_require_approval = True
    department.save()
    claim(pool, make_employee(department))
    Allocation.objects.filter(pk=pool.pk).update(term_ends_at=timezone.now() + timedelta(days=10))
    pool.refresh_from_db()
    claim(pool, make_employee(department))
    row = selectors.pool_rows(Allocation.objects.filter(pk=pool.pk))[0]
    assert (row.claimed, row.active, row.pending, row.expiring) == (2, 0, 2, 1)


def test_ended_seats_do_not_count(pool, make_employee, claim, department):
    seat = claim(pool, make_employee(department))
    seat_revoke(seat=seat, actor=ACTOR, reason="left")
    row = selectors.pool_rows(Allocation.objects.filter(pk=pool.pk))[0]
    assert (row.claimed, row.active) == (0, 0)


def test_pool_rows_cost_three_queries_for_one_pool_or_many(program, make_employee, claim):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            selectors.pool_rows(Allocation.objects.filter(parent__isnull=True))
        return len(ctx.captured_queries)

    first = AgencyFactory()
    AllocationFactory(program=program, agency=first)
    one = queries()
    for _ in range(5):
        agency = AgencyFactory()
        AllocationFactory(program=program, agency=agency)
    assert queries() == one == 3


def test_claims_over_time_buckets_by_week_and_fills_empty_weeks(pool, make_employee, claim, department):
    claim(pool, make_employee(department))
    old = claim(pool, make_employee(department))
    Seat.objects.filter(pk=old.pk).update(claimed_at=timezone.now() - timedelta(weeks=3))
    series = selectors.claims_over_time(Seat.objects.all(), weeks=5)
    values = series.datasets["Seats claimed"]
    assert len(values) == len(series.labels) == 5
    assert values[-1] == 1 and values[-4] == 1 and sum(values) == 2


def test_expiry_timeline_counts_live_seats_by_month_of_expiry(pool, make_employee, claim, department):
    claim(pool, make_employee(department))
    seat = claim(pool, make_employee(department))
    seat_revoke(seat=seat, actor=ACTOR, reason="left")
    series = selectors.expiry_timeline(Seat.objects.all(), months=12)
    assert sum(series.datasets["Seats expiring"]) == 1
    month = pool.term_ends_at.strftime("%b %Y")
    label = month if month in series.labels else "Later"
    assert series.datasets["Seats expiring"][series.labels.index(label)] == 1


def test_seats_by_state_lists_every_state(pool, make_employee, claim, department):
    claim(pool, make_employee(department))
    series = selectors.seats_by_state(Seat.objects.all())
    assert series.rows[0] == ("Requested (awaiting approval)", [0])
    assert dict(series.rows)["Active"] == [1]


def test_utilization_chart_is_highest_first_in_percent(program):
    busy = AllocationFactory(
        program=program, agency=AgencyFactory(abbreviation="BUSY"), quantity=4, assigned=3
    )
    AllocationFactory(program=program, agency=AgencyFactory(abbreviation="IDLE"), quantity=4)
    rows = selectors.pool_rows(Allocation.objects.all())
    series = selectors.utilization_by_pool(rows)
    assert series.labels == ["BUSY", "IDLE"]
    assert series.datasets["Seats in use (%)"] == [75.0, 0.0]
    assert busy.quantity == 4


class TestSeatNotice:
    def test_an_active_seat_far_from_expiry_says_when_it_ends(self, pool, employee, claim):
        notice = selectors.seat_notice(claim(pool, employee))
        assert notice.level == "success" and "runs until" in notice.text

    def test_an_active_seat_near_expiry_warns_and_says_who_renews(self, pool, employee, claim):
        seat = claim(pool, employee)
        notice = selectors.seat_notice(seat, now=seat.expires_at - timedelta(days=5))
        assert notice.level == "warning"
        assert notice.heading.startswith("Your seat ends on")
        assert "Department of Examples decides whether to renew" in notice.text

    def test_a_reclaim_notice_gives_the_deadline(self, pool, employee, claim):
        seat = claim(pool, employee)
        Seat.objects.filter(pk=seat.pk).update(
            state=Seat.State.RECLAIM_NOTICE, reclaim_notice_at=timezone.now()
        )
        seat.refresh_from_db()
        notice = selectors.seat_notice(seat)
        assert notice.level == "warning" and "Sign in to it before" in notice.text

    def test_a_revoked_seat_gives_the_reason(self, pool, employee, claim):
        seat = seat_revoke(seat=claim(pool, employee), actor=ACTOR, reason="left the agency")
        assert "Reason given: left the agency." in selectors.seat_notice(seat).text


def test_employee_waitlist_says_how_many_are_ahead(program, department, make_employee, claim):
    from seats.services import waitlist_join

    full = AllocationFactory(program=program, agency=department, quantity=1)
    claim(full, make_employee(department))
    first, second = make_employee(department), make_employee(department)
    waitlist_join(allocation=full, employee=first, actor=ACTOR)
    waitlist_join(allocation=full, employee=second, actor=ACTOR)
    assert [entry.ahead for entry in selectors.employee_waitlist(first.pk)] == [0]
    assert [entry.ahead for entry in selectors.employee_waitlist(second.pk)] == [1]


class TestProgramUpdate:
    def test_changes_only_what_differs_and_audits_it(self, program):
        from audit.models import AuditEvent

        program_update(
            program=program, actor=ACTOR, workspace_url="https://chat.example.gov/", name=program.name
        )
        event = AuditEvent.objects.get(verb="program.update")
        assert event.after == {"workspace_url": "https://chat.example.gov/"}
        program_update(program=program, actor=ACTOR, workspace_url="https://chat.example.gov/")
        assert AuditEvent.objects.filter(verb="program.update").count() == 1

    def test_terms_and_prices_cannot_change(self, program):
        from core.errors import InvalidInput

        with pytest.raises(InvalidInput, match="price_per_seat cannot change"):
            program_update(program=program, actor=ACTOR, price_per_seat=5)

    def test_closing_a_program_refuses_new_pools(self, program, department):
        from core.errors import AllocationNotAllowed
        from seats.services import allocation_create

        program = program_update(program=program, actor=ACTOR, is_active=False)
        with pytest.raises(AllocationNotAllowed, match="closed to new pools"):
            allocation_create(program=program, agency=department, quantity=5, actor=ACTOR)


def test_usage_over_time_sums_the_nightly_snapshots_of_every_pool(
    pool, bureau, make_employee, claim, department
):
    from seats.lifecycle import usage_snapshot_take
    from seats.models import UsageSnapshot

    child = allocation_split(parent=pool, agency=bureau, quantity=3, actor=ACTOR)
    claim(pool, make_employee(department))
    claim(child, make_employee(bureau))
    usage_snapshot_take()
    series = selectors.usage_over_time(UsageSnapshot.objects.all())
    assert series.datasets == {"Seats in use": [2], "Active": [2]}
    assert len(series.labels) == 1


def test_usage_over_time_says_when_there_is_no_snapshot_yet():
    from seats.models import UsageSnapshot

    series = selectors.usage_over_time(UsageSnapshot.objects.all())
    assert series.rows == [] and "first is taken tonight" in series.empty_text
