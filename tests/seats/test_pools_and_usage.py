"""Low-pool alerts (once per fall under 10%) and daily usage snapshots."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from agencies.models import RoleAssignment
from audit.actors import Actor
from seats import services
from seats.lifecycle import pools_check_low, usage_snapshot_take
from seats.models import LowPoolAlert, Seat, UsageSnapshot
from tests.factories import AllocationFactory, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


@pytest.fixture
def pool_admin(pool):
    user = UserFactory(username="pool-admin", email="pools@examples.gov")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=pool.agency)
    return user


def check(deliver_after_commit) -> str:
    out = io.StringIO()
    deliver_after_commit(lambda: call_command("check_low_pools", stdout=out))
    return out.getvalue()


def test_a_pool_falling_under_ten_percent_alerts_once_per_fall(
    pool, pool_admin, make_employee, deliver_after_commit
):
    pool.quantity = 20
    pool.save()
    seats = [
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
        for _ in range(18)
    ]
    assert check(deliver_after_commit).startswith("Opened 0"), "2 of 20 free is 10%, not under"
    seats.append(services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN))
    assert check(deliver_after_commit).startswith("Opened 1")
    assert check(deliver_after_commit).startswith("Opened 0"), "still low: no second alert"
    [alert_mail] = mail.outbox
    assert alert_mail.to == ["pools@examples.gov"] and "1 free seats of 20" in alert_mail.body

    for seat in seats[:2]:
        services.seat_revoke(seat=seat, actor=ADMIN, reason="left")
    assert "closed 1" in check(deliver_after_commit)
    for _ in range(2):
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    assert check(deliver_after_commit).startswith("Opened 1"), "a new fall alerts again"
    assert len(mail.outbox) == 2
    assert LowPoolAlert.objects.filter(closed_at__isnull=True).count() == 1
    assert LowPoolAlert.objects.count() == 2


def test_a_department_that_handed_every_seat_to_bureaus_is_not_low(
    pool, bureau, pool_admin, deliver_after_commit
):
    services.allocation_split(parent=pool, agency=bureau, quantity=pool.quantity, actor=ADMIN)
    pools_check_low()
    assert not LowPoolAlert.objects.filter(allocation=pool).exists()


def test_a_bureau_pool_without_its_own_admins_alerts_the_departments(
    pool, bureau, pool_admin, make_employee, deliver_after_commit
):
    child = services.allocation_split(parent=pool, agency=bureau, quantity=1, actor=ADMIN)
    services.seat_claim(allocation=child, employee=make_employee(bureau), actor=ADMIN)
    check(deliver_after_commit)
    assert [m.to for m in mail.outbox] == [["pools@examples.gov"]]


def test_usage_snapshot_counts_each_pool_and_replaces_the_same_day(
    pool, make_employee, department, time_machine
):
    other = AllocationFactory(agency=department, quantity=5)
    seats = [
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
        for _ in range(3)
    ]
    services.seat_revoke(seat=seats[0], actor=ADMIN, reason="left")
    today = date(2026, 3, 1)
    assert usage_snapshot_take(day=today) == 2
    row = UsageSnapshot.objects.get(allocation=pool, day=today)
    assert (row.quantity, row.assigned, row.active, row.pending, row.agency_id) == (
        10,
        2,
        2,
        0,
        department.pk,
    )
    assert UsageSnapshot.objects.get(allocation=other).assigned == 0

    services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    out = io.StringIO()
    call_command("snapshot_usage", day="2026-03-01", stdout=out)
    assert "2 pools" in out.getvalue()
    assert UsageSnapshot.objects.filter(day=today).count() == 2
    assert UsageSnapshot.objects.get(allocation=pool, day=today).active == 3
    usage_snapshot_take(day=today + timedelta(days=1))
    assert UsageSnapshot.objects.count() == 4
    assert Seat.objects.live().count() == 3


def test_usage_snapshot_runs_in_a_fixed_number_of_queries(pool, make_employee, django_assert_max_num_queries):
    for _ in range(5):
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    with django_assert_max_num_queries(8):
        usage_snapshot_take()
