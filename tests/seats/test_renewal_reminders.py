"""Renewal reminders across a pool's last 90 days, driven day by day with time-machine."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from agencies.models import RoleAssignment
from audit.actors import Actor
from seats import services
from seats.models import Notice
from tests.factories import AllocationFactory, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


@pytest.fixture
def scene(pool, make_employee, bureau):
    admins = [UserFactory(username=f"admin{i}", email=f"admin{i}@examples.gov") for i in range(2)]
    for user in admins:
        RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=pool.agency)
    holders = [make_employee(pool.agency) for _ in range(3)]
    for person in holders:
        services.seat_claim(allocation=pool, employee=person, actor=ADMIN)
    bureau_pool = services.allocation_split(parent=pool, agency=bureau, quantity=2, actor=ADMIN)
    in_bureau = make_employee(bureau)
    services.seat_claim(allocation=bureau_pool, employee=in_bureau, actor=ADMIN)
    # An ended seat gets no reminder.
    gone = services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    services.seat_revoke(seat=gone, actor=ADMIN, reason="left")
    return admins, [*holders, in_bureau]


def run_daily(time_machine, deliver_after_commit, start, days, *, twice=False):
    for day in range(days + 1):
        time_machine.move_to(start + timedelta(days=day), tick=False)
        for _ in range(2 if twice else 1):
            deliver_after_commit(lambda: call_command("send_renewal_reminders", stdout=io.StringIO()))


def test_admins_hear_at_60_30_7_and_1_days_and_holders_at_7_each_exactly_once(
    pool, scene, time_machine, deliver_after_commit
):
    admins, holders = scene
    start = pool.term_ends_at - timedelta(days=90, hours=1)
    run_daily(time_machine, deliver_after_commit, start, 95, twice=True)

    to_admin = [m for m in mail.outbox if m.to[0].startswith("admin")]
    assert len(to_admin) == 4 * len(admins)
    days = sorted(Notice.objects.filter(kind="renewal_admin").values_list("context__days", flat=True))
    assert days == sorted([60, 30, 7, 1] * len(admins))
    to_holders = sorted(m.to[0] for m in mail.outbox if not m.to[0].startswith("admin"))
    assert to_holders == sorted(p.email for p in holders)
    assert Notice.objects.filter(sent_at__isnull=True).count() == 0
    last = next(m for m in to_admin if "Tomorrow" in m.subject)
    assert "renew the pool before" in last.body
    assert last.alternatives and "<h1" in last.alternatives[0][0]


def test_a_missed_week_sends_only_the_reminder_now_due(pool, scene, time_machine, deliver_after_commit):
    assert len(scene[0]) == 2
    run_daily(time_machine, deliver_after_commit, pool.term_ends_at - timedelta(days=5), 0)
    assert sorted(Notice.objects.filter(kind="renewal_admin").values_list("context__days", flat=True)) == [
        7,
        7,
    ]
    assert all("In 7 days" in m.subject for m in mail.outbox if m.to[0].startswith("admin"))


def test_renewal_starts_the_reminders_afresh_for_the_new_term(
    pool, scene, time_machine, deliver_after_commit
):
    admins, _ = scene
    run_daily(time_machine, deliver_after_commit, pool.term_ends_at - timedelta(days=10), 0)
    first = Notice.objects.count()
    new_end = pool.term_ends_at + timedelta(days=365)
    services.allocation_renew(allocation=pool, term_ends_at=new_end, actor=ADMIN)
    run_daily(time_machine, deliver_after_commit, new_end - timedelta(days=6), 0)
    assert Notice.objects.count() > first
    sent = Notice.objects.filter(kind="renewal_admin").values_list("context__days", flat=True)
    assert sorted(sent) == sorted([30, 7] * len(admins)), "the new term's 7-day reminder is not the old one"


def test_pools_far_from_their_end_get_nothing(pool, scene, deliver_after_commit):
    deliver_after_commit(lambda: call_command("send_renewal_reminders", stdout=io.StringIO()))
    assert Notice.objects.count() == 0 and mail.outbox == []


def test_a_failed_send_is_retried_by_the_sweep_and_sent_once(
    pool, scene, time_machine, settings, celery_eager
):
    from seats.lifecycle import renewal_reminders_send
    from seats.tasks import resend_unsent_notices

    time_machine.move_to(pool.term_ends_at - timedelta(days=20), tick=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    from seats.notices import notices_send

    renewal_reminders_send()
    ids = list(Notice.objects.values_list("pk", flat=True))
    assert notices_send(notice_ids=ids) == 0
    assert Notice.objects.filter(sent_at__isnull=True, attempts=1).count() == 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    time_machine.shift(timedelta(minutes=6))
    assert resend_unsent_notices() == 2
    assert len(mail.outbox) == 2
    assert resend_unsent_notices() == 0


def test_only_top_level_pools_remind_administrators(department, bureau, make_employee, deliver_after_commit):
    user = UserFactory(username="bureau-admin", email="chief@samples.gov")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=bureau)
    from django.utils import timezone

    parent = AllocationFactory(agency=department, term_ends_at=timezone.now() + timedelta(days=3))
    services.allocation_split(parent=parent, agency=bureau, quantity=2, actor=ADMIN)
    deliver_after_commit(lambda: call_command("send_renewal_reminders", stdout=io.StringIO()))
    assert not Notice.objects.filter(user=user).exists()
