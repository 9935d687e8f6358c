"""Inactivity reclaim across time: notice, grace period, revoke; pool refilled, waitlist served."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from agencies.services import agency_update_policy, employee_touch
from audit.actors import Actor
from audit.models import AuditEvent
from seats import services
from seats.models import Notice, Seat, WaitlistEntry

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


def reclaim(deliver_after_commit) -> str:
    out = io.StringIO()
    deliver_after_commit(lambda: call_command("reclaim_inactive_seats", stdout=out))
    return out.getvalue()


@pytest.fixture
def policy(department):
    agency_update_policy(agency=department, actor=ADMIN, inactivity_reclaim_days=30, reclaim_grace_days=7)
    department.refresh_from_db()
    return department


def test_an_unused_seat_gets_a_notice_then_is_revoked_after_grace_and_the_waitlist_is_served(
    pool, policy, make_employee, time_machine, deliver_after_commit
):
    time_machine.move_to(timezone.now(), tick=False)
    pool.quantity = 2
    pool.save()
    busy, idle = make_employee(pool.agency), make_employee(pool.agency)
    busy_seat = services.seat_claim(allocation=pool, employee=busy, actor=ADMIN)
    idle_seat = services.seat_claim(allocation=pool, employee=idle, actor=ADMIN)
    waiting = make_employee(pool.agency)
    services.waitlist_join(allocation=pool, employee=waiting, actor=ADMIN)

    time_machine.shift(timedelta(days=20))
    employee_touch(employee=busy)
    time_machine.shift(timedelta(days=11))  # idle: 31 days; busy: seen 11 days ago
    assert "Sent 1 reclaim notices" in reclaim(deliver_after_commit)
    assert reclaim(deliver_after_commit).startswith("Sent 0 reclaim notices"), (
        "one notice, however often it runs"
    )
    idle_seat.refresh_from_db()
    assert idle_seat.state == Seat.State.RECLAIM_NOTICE
    [notice] = mail.outbox
    assert notice.to == [idle.email] and "sign in before" in notice.body.lower()

    time_machine.shift(timedelta(days=6))
    reclaim(deliver_after_commit)
    assert Seat.objects.get(pk=idle_seat.pk).state == Seat.State.RECLAIM_NOTICE, (
        "still within the grace period"
    )
    time_machine.shift(timedelta(days=1, minutes=1))
    assert "revoked 1 seats" in reclaim(deliver_after_commit)
    idle_seat.refresh_from_db()
    pool.refresh_from_db()
    assert idle_seat.state == Seat.State.REVOKED and "reclaimed" in idle_seat.reason
    assert Seat.objects.get(pk=busy_seat.pk).state == Seat.State.ACTIVE
    assert WaitlistEntry.objects.get(employee=waiting).state == WaitlistEntry.State.SERVED
    assert Seat.objects.live().filter(employee=waiting).exists()
    assert pool.assigned == 2
    assert AuditEvent.objects.filter(verb="seat.reclaim_notice").count() == 1
    assert AuditEvent.objects.filter(verb="seat.revoke", target_id=str(idle_seat.pk)).count() == 1


def test_signing_in_during_the_grace_period_keeps_the_seat(
    pool, policy, employee, time_machine, deliver_after_commit
):
    time_machine.move_to(timezone.now(), tick=False)
    seat = services.seat_claim(allocation=pool, employee=employee, actor=ADMIN)
    time_machine.shift(timedelta(days=31))
    reclaim(deliver_after_commit)
    time_machine.shift(timedelta(days=2))
    employee_touch(employee=employee)
    assert "kept 1" in reclaim(deliver_after_commit)
    seat.refresh_from_db()
    assert seat.state == Seat.State.ACTIVE and seat.reclaim_notice_at is None
    time_machine.shift(timedelta(days=30))
    reclaim(deliver_after_commit)
    assert Seat.objects.get(pk=seat.pk).state == Seat.State.ACTIVE, "used 30 days ago, not more"


def test_a_bureau_without_its_own_policy_follows_its_department(
    pool, policy, bureau, make_employee, time_machine, deliver_after_commit
):
    time_machine.move_to(timezone.now(), tick=False)
    child = services.allocation_split(parent=pool, agency=bureau, quantity=2, actor=ADMIN)
    seat = services.seat_claim(allocation=child, employee=make_employee(bureau), actor=ADMIN)
    time_machine.shift(timedelta(days=31))
    reclaim(deliver_after_commit)
    assert Seat.objects.get(pk=seat.pk).state == Seat.State.RECLAIM_NOTICE


def test_lifting_the_policy_gives_noticed_seats_back(
    pool, policy, employee, time_machine, deliver_after_commit
):
    time_machine.move_to(timezone.now(), tick=False)
    seat = services.seat_claim(allocation=pool, employee=employee, actor=ADMIN)
    time_machine.shift(timedelta(days=31))
    reclaim(deliver_after_commit)
    agency_update_policy(agency=policy, actor=ADMIN, inactivity_reclaim_days=None)
    time_machine.shift(timedelta(days=30))
    reclaim(deliver_after_commit)
    assert Seat.objects.get(pk=seat.pk).state == Seat.State.ACTIVE


def test_agencies_without_a_policy_never_reclaim(pool, employee, time_machine, deliver_after_commit):
    time_machine.move_to(timezone.now(), tick=False)
    seat = services.seat_claim(allocation=pool, employee=employee, actor=ADMIN)
    time_machine.shift(timedelta(days=300))
    reclaim(deliver_after_commit)
    assert Seat.objects.get(pk=seat.pk).state == Seat.State.ACTIVE and Notice.objects.count() == 0
