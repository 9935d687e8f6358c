"""The lifecycle jobs run twice at once on PostgreSQL (one connection per thread): nothing is done
twice. SQLite serialises writers and would prove nothing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from agencies.models import RoleAssignment
from agencies.services import agency_update_policy
from audit.actors import Actor
from audit.models import AuditEvent
from seats import services
from seats.lifecycle import pools_check_low, renewal_reminders_send, seats_reclaim_inactive
from seats.models import Allocation, LowPoolAlert, Notice, Seat
from tests.factories import (
    AgencyDomainFactory,
    AgencyFactory,
    AllocationFactory,
    EmployeeFactory,
    ProgramFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from tests.seats.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ACTOR = Actor.system("test")


@pytest.fixture
def crowd():
    department = AgencyFactory(slug="crowd-dept")
    AgencyDomainFactory(agency=department, domain="crowd.gov")
    pool = AllocationFactory(program=ProgramFactory(), agency=department, quantity=100)
    seats = [
        services.seat_claim(
            allocation=pool, employee=EmployeeFactory(agency=department, email=f"c{i}@crowd.gov"), actor=ACTOR
        )
        for i in range(40)
    ]
    for i in range(2):
        user = UserFactory(username=f"crowd-admin-{i}", email=f"admin{i}@crowd.gov")
        RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=department)
    return department, pool, seats


@pytest.mark.parametrize("round_", range(2))
def test_two_reminder_runs_at_once_record_and_send_each_reminder_once(
    crowd, celery_eager, time_machine, round_
):
    _, pool, seats = crowd
    time_machine.move_to(pool.term_ends_at - timedelta(days=6), tick=False)
    results = race(2, lambda i: renewal_reminders_send())
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Notice.objects.filter(kind="renewal_admin").count() == 2
    assert Notice.objects.filter(kind="renewal_employee").count() == len(seats)
    sent = Counter(m.to[0] for m in mail.outbox)
    assert len(sent) == len(seats) + 2 and set(sent.values()) == {1}, "nobody mailed twice"


@pytest.mark.parametrize("round_", range(2))
def test_two_reclaim_runs_at_once_revoke_each_seat_once(crowd, time_machine, round_):
    department, pool, seats = crowd
    agency_update_policy(agency=department, actor=ACTOR, inactivity_reclaim_days=30, reclaim_grace_days=7)
    time_machine.move_to(timezone.now() + timedelta(days=31), tick=False)
    results = race(2, lambda i: seats_reclaim_inactive())
    assert sum(r["noticed"] for r in results) == len(seats), results
    time_machine.shift(timedelta(days=8))
    results = race(2, lambda i: seats_reclaim_inactive())
    assert sum(r["revoked"] for r in results) == len(seats), results
    assert AuditEvent.objects.filter(verb="seat.revoke").count() == len(seats)
    assert Allocation.objects.get(pk=pool.pk).assigned == 0
    assert Notice.objects.filter(kind="reclaim").count() == len(seats)


@pytest.mark.parametrize("round_", range(2))
def test_the_orm_and_sql_expiry_paths_at_once_expire_each_seat_once(crowd, round_):
    _, pool, seats = crowd
    methods = ["orm", "sql"]
    results = race(2, lambda i: services.seats_expire(now=pool.term_ends_at, batch_size=7, method=methods[i]))
    assert sum(results) == len(seats), results
    assert set(Seat.objects.values_list("state", flat=True)) == {Seat.State.EXPIRED}
    assert Allocation.objects.get(pk=pool.pk).assigned == 0
    assert AuditEvent.objects.filter(verb="seat.expire").count() == len(seats)


def test_two_low_pool_checks_at_once_open_one_alert(crowd, celery_eager):
    _, pool, _ = crowd
    Allocation.objects.filter(pk=pool.pk).update(quantity=42)
    results = race(2, lambda i: pools_check_low())
    assert sum(r["opened"] for r in results) == 1, results
    assert LowPoolAlert.objects.count() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["admin0@crowd.gov", "admin1@crowd.gov"]
