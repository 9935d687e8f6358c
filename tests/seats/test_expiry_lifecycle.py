"""expire_seats across time: the command, running twice, and the SQL path against the ORM path."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from audit.actors import Actor
from audit.models import AuditEvent
from provisioning.models import ProvisioningJob
from seats import services
from seats.models import Allocation, Seat, WaitlistEntry
from tests.factories import AllocationFactory, ProgramFactory, VendorProgramFactory

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


def expire(**options) -> str:
    out = io.StringIO()
    call_command("expire_seats", stdout=out, **options)
    return out.getvalue()


def test_the_command_expires_nothing_before_the_term_ends_and_everything_after(
    pool, make_employee, time_machine
):
    for _ in range(4):
        services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    time_machine.move_to(pool.term_ends_at - timedelta(seconds=1), tick=False)
    assert expire().startswith("Expired 0 seats")
    time_machine.move_to(pool.term_ends_at, tick=False)
    assert expire(batch_size=3).startswith("Expired 4 seats")
    snapshot = list(Seat.objects.order_by("pk").values()), list(Allocation.objects.values())
    assert expire().startswith("Expired 0 seats"), "a second run finds nothing left"
    assert (list(Seat.objects.order_by("pk").values()), list(Allocation.objects.values())) == snapshot
    assert AuditEvent.objects.filter(verb="seat.expire").count() == 4
    pool.refresh_from_db()
    assert pool.assigned == 0


def test_expiry_cancels_the_waitlist_of_an_ended_pool(pool, make_employee, time_machine):
    pool.quantity = 1
    pool.save()
    services.seat_claim(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    entry = services.waitlist_join(allocation=pool, employee=make_employee(pool.agency), actor=ADMIN)
    time_machine.move_to(pool.term_ends_at + timedelta(hours=1), tick=False)
    expire()
    entry.refresh_from_db()
    assert entry.state == WaitlistEntry.State.CANCELLED


def test_the_command_accepts_an_explicit_moment(pool, employee):
    services.seat_claim(allocation=pool, employee=employee, actor=ADMIN)
    assert expire(now=pool.term_ends_at.isoformat()).startswith("Expired 1 seats")


def _scenario(department, make_employee, program, ends_at):
    """Seats in every live state, in a vendor program, with a bureau pool and queued jobs."""
    pool = AllocationFactory(program=program, agency=department, quantity=20, term_ends_at=ends_at)
    seats = [
        services.seat_claim(allocation=pool, employee=make_employee(department), actor=ADMIN)
        for _ in range(6)
    ]
    services.seat_activate(seat=seats[0], actor=ADMIN, vendor_user_id=f"vu-{seats[0].pk}")
    services.seat_activate(seat=seats[1], actor=ADMIN, vendor_user_id=f"vu-{seats[1].pk}")
    services.seat_mark_failed(seat=seats[2], actor=ADMIN, error="500")
    ProvisioningJob.objects.filter(seat=seats[3], action="create").update(attempts=2)  # create tried
    services.seat_revoke(seat=seats[5], actor=ADMIN, reason="left")
    return pool


def _normalised(pool):
    """The pool's seats, jobs and audit rows, with ids replaced by each seat's place in the pool."""
    pks = list(pool.seats.order_by("pk").values_list("pk", flat=True))
    order = {pk: i for i, pk in enumerate(pks)}
    seats = list(pool.seats.order_by("pk").values_list("state", "reason"))
    pool.refresh_from_db()
    jobs = sorted(
        (order[seat_id], action, state)
        for seat_id, action, state in ProvisioningJob.objects.filter(seat_id__in=pks).values_list(
            "seat_id", "action", "state"
        )
    )
    audits = sorted(
        (order[int(a.target_id)], a.before["state"], a.after["state"], a.actor_label)
        for a in AuditEvent.objects.filter(verb="seat.expire", target_id__in=[str(pk) for pk in pks])
    )
    return seats, pool.assigned, jobs, audits


@pytest.mark.postgres
def test_the_sql_path_and_the_orm_path_leave_the_same_rows(department, make_employee, pool):
    from django.utils import timezone

    program = VendorProgramFactory()
    soon = timezone.now() + timedelta(days=10)
    later = soon + timedelta(days=10)
    by_orm = _scenario(department, make_employee, program, soon)
    by_sql = _scenario(department, make_employee, ProgramFactory(connector="scim"), later)
    assert services.seats_expire(now=soon, method="orm", batch_size=4) == 5
    assert services.seats_expire(now=later, method="sql", batch_size=4) == 5
    orm, sql = _normalised(by_orm), _normalised(by_sql)
    assert orm == sql
    assert orm[1] == 0
    assert [(i, a) for i, a, state in orm[2] if state == "queued"] == [
        (0, "deactivate"),
        (1, "deactivate"),
        (2, "deactivate"),
        (3, "deactivate"),
    ]
    assert len(orm[3]) == 5
    assert connection.vendor == "postgresql"
