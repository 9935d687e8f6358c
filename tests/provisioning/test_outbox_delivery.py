"""Delivering the outbox to a real SCIM server, through vendor failures, across time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from provisioning.models import ProvisioningJob
from provisioning.outbox import _lease, job_deliver, job_retry, retry_delay
from seats import services
from seats.models import Seat
from tests.factories import AllocationFactory, VendorProgramFactory
from tests.provisioning.vendor_server import SLOWER, Fault

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")
Job = ProvisioningJob


@pytest.fixture
def vendor_pool(vendor, department):
    program = VendorProgramFactory(connector_settings=vendor.settings())
    return AllocationFactory(program=program, agency=department, quantity=50)


def claim(pool, person):
    return services.seat_claim(allocation=pool, employee=person, actor=ADMIN)


def drain(time_machine, rounds: int = 20) -> list[str]:
    """Deliver every queued job, moving the clock to each job's next attempt, like the worker would."""
    outcomes = []
    for _ in range(rounds):
        queued = list(Job.objects.filter(state=Job.State.QUEUED).order_by("next_attempt_at"))
        if not queued:
            break
        due = max(job.next_attempt_at for job in queued)
        if due > timezone.now():
            time_machine.move_to(due + timedelta(seconds=1), tick=False)
        for job in queued:
            outcomes.append(job_deliver(job_id=job.pk).state)
    return outcomes


def one_user_each(vendor, seats) -> None:
    names = [u.user_name for u in vendor.users()]
    assert sorted(names) == sorted({s.employee.email for s in seats}), "duplicate or missing vendor users"


def test_a_claim_is_delivered_and_the_seat_becomes_active_with_the_vendor_id(vendor, vendor_pool, employee):
    seat = claim(vendor_pool, employee)
    job = Job.objects.get(seat=seat)
    assert job_deliver(job_id=job.pk).state == "delivered"
    seat.refresh_from_db()
    job.refresh_from_db()
    [user] = vendor.users()
    assert (seat.state, seat.vendor_user_id) == (Seat.State.ACTIVE, user.id)
    assert (job.state, job.attempts) == (Job.State.DONE, 1)
    assert user.external_id == str(employee.uuid) and user.active
    assert AuditEvent.objects.filter(verb="provisioning.deliver", target_id=str(job.pk)).count() == 1
    assert AuditEvent.objects.filter(verb="seat.activate", target_id=str(seat.pk)).count() == 1
    assert job_deliver(job_id=job.pk).state == "skipped"


def test_500s_are_retried_with_growing_backoff_until_the_vendor_answers(
    vendor, vendor_pool, employee, fast_retries, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    seat = claim(vendor_pool, employee)
    vendor.fail_next(Fault("status", 500), Fault("status", 502))
    job = Job.objects.get(seat=seat)
    first = job_deliver(job_id=job.pk)
    assert first.state == "retry" and "500" in first.detail
    job.refresh_from_db()
    assert timedelta(seconds=5) <= job.next_attempt_at - timezone.now() <= timedelta(seconds=10)
    assert job_deliver(job_id=job.pk).state == "skipped", "not due yet"
    assert drain(time_machine) == ["retry", "delivered"]
    seat.refresh_from_db()
    job.refresh_from_db()
    assert seat.state == Seat.State.ACTIVE and job.attempts == 3
    one_user_each(vendor, [seat])


def test_429_with_retry_after_waits_at_least_that_long(
    vendor, vendor_pool, employee, fast_retries, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    seat = claim(vendor_pool, employee)
    vendor.fail_next(Fault("status", 429, retry_after="300"))
    job = Job.objects.get(seat=seat)
    assert job_deliver(job_id=job.pk).state == "retry"
    job.refresh_from_db()
    assert job.next_attempt_at - timezone.now() >= timedelta(seconds=300)
    time_machine.shift(timedelta(seconds=290))
    assert job_deliver(job_id=job.pk).state == "skipped"
    time_machine.shift(timedelta(seconds=11))
    assert job_deliver(job_id=job.pk).state == "delivered"


def test_a_timeout_after_the_vendor_made_the_user_does_not_make_a_second_one(
    vendor, vendor_pool, employee, fast_retries, time_machine
):
    seat = claim(vendor_pool, employee)
    vendor.fail_next(Fault("slow", seconds=SLOWER, methods=("POST",)))
    assert drain(time_machine) == ["retry", "delivered"]
    seat.refresh_from_db()
    [user] = vendor.users()
    assert seat.vendor_user_id == user.id and seat.state == Seat.State.ACTIVE


def test_vendor_down_for_the_whole_window_fails_every_seat_with_its_error_then_recovers_on_retry(
    vendor, vendor_pool, make_employee, fast_retries, time_machine
):
    seats = [claim(vendor_pool, make_employee(vendor_pool.agency)) for _ in range(5)]
    vendor.down, vendor.down_retry_after = True, "15"
    outcomes = drain(time_machine)
    assert outcomes.count("failed") == 5 and "delivered" not in outcomes
    for seat in seats:
        seat.refresh_from_db()
        assert seat.state == Seat.State.FAILED
        assert "503" in seat.last_error
    assert set(Job.objects.values_list("state", "attempts")) == {(Job.State.FAILED, 4)}
    assert vendor.users() == []

    vendor.down = False
    for seat in seats:
        services.seat_retry(seat=seat, actor=ADMIN)
    assert drain(time_machine) == ["delivered"] * 5
    for seat in seats:
        seat.refresh_from_db()
        assert seat.state == Seat.State.ACTIVE and seat.vendor_user_id
    one_user_each(vendor, seats)


def test_vendor_down_for_part_of_the_window_delivers_every_seat_once(
    vendor, vendor_pool, make_employee, fast_retries, time_machine
):
    seats = [claim(vendor_pool, make_employee(vendor_pool.agency)) for _ in range(4)]
    vendor.down = True
    for job in Job.objects.all():
        assert job_deliver(job_id=job.pk).state == "retry"
    # Some creates reached the vendor just as it went down: their answers were lost.
    vendor.down = False
    vendor.fail_next(*[Fault("slow", seconds=SLOWER, methods=("POST",))] * 2)
    drain(time_machine)
    assert set(Seat.objects.values_list("state", flat=True)) == {Seat.State.ACTIVE}
    one_user_each(vendor, seats)


def test_a_permanent_refusal_fails_the_seat_at_once(vendor, vendor_pool, employee, fast_retries):
    seat = claim(vendor_pool, employee)
    vendor.fail_next(Fault("status", 400, methods=("POST",)))
    assert job_deliver(job_id=Job.objects.get(seat=seat).pk).state == "failed"
    seat.refresh_from_db()
    assert seat.state == Seat.State.FAILED and "400" in seat.last_error


def test_revoking_an_active_seat_deactivates_the_vendor_user(vendor, vendor_pool, employee, time_machine):
    seat = claim(vendor_pool, employee)
    drain(time_machine)
    services.seat_revoke(seat=Seat.objects.get(pk=seat.pk), actor=ADMIN, reason="left the agency")
    assert drain(time_machine) == ["delivered"]
    [user] = vendor.users()
    assert user.active is False


def test_expiry_deactivates_the_vendor_users_of_expired_seats(
    vendor, vendor_pool, make_employee, time_machine
):
    seats = [claim(vendor_pool, make_employee(vendor_pool.agency)) for _ in range(3)]
    drain(time_machine)
    time_machine.move_to(vendor_pool.term_ends_at + timedelta(minutes=1), tick=False)
    assert services.seats_expire() == 3
    assert drain(time_machine) == ["delivered"] * 3
    assert [u.active for u in vendor.users()] == [False] * 3
    one_user_each(vendor, seats)


def test_a_worker_that_died_mid_call_leaves_the_job_to_the_next_after_the_lease(
    vendor, vendor_pool, employee, fast_retries, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    seat = claim(vendor_pool, employee)
    job = Job.objects.get(seat=seat)
    assert _lease(job.pk, timezone.now())  # the worker that took it never came back
    assert job_deliver(job_id=job.pk).state == "skipped"
    time_machine.shift(timedelta(seconds=121))
    assert job_deliver(job_id=job.pk).state == "delivered"
    job.refresh_from_db()
    assert job.attempts == 2
    one_user_each(vendor, [seat])


def test_a_failed_deactivation_can_be_retried_by_an_administrator(
    vendor, vendor_pool, employee, fast_retries, time_machine
):
    seat = claim(vendor_pool, employee)
    drain(time_machine)
    services.seat_revoke(seat=Seat.objects.get(pk=seat.pk), actor=ADMIN, reason="left")
    vendor.fail_next(Fault("status", 403, methods=("PATCH",)))
    assert drain(time_machine) == ["failed"]
    job = Job.objects.get(action=Job.Action.DEACTIVATE)
    assert job.state == Job.State.FAILED and "403" in job.last_error
    job_retry(job=job, actor=ADMIN)
    assert drain(time_machine) == ["delivered"]
    assert vendor.users()[0].active is False
    assert AuditEvent.objects.filter(verb="provisioning.retry").count() == 1


def test_retry_delay_grows_exponentially_with_jitter_and_respects_retry_after(settings):
    settings.PROVISIONING_BACKOFF_BASE_SECONDS = 30
    settings.PROVISIONING_BACKOFF_CAP_SECONDS = 3600
    settings.PROVISIONING_RETRY_AFTER_CAP_SECONDS = 7200
    for attempt, ceiling in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1, "jitter spreads retries"
    assert retry_delay(1, retry_after=600) >= 600
    assert retry_delay(1, retry_after=10**6) <= 7200


@pytest.mark.django_db(transaction=True)
def test_a_create_racing_with_a_revoke_ends_with_the_vendor_user_deactivated(
    vendor, department, employee, time_machine
):
    program = VendorProgramFactory(connector_settings=vendor.settings(timeout=5))
    pool = AllocationFactory(program=program, agency=department)
    seat = claim(pool, employee)

    def revoke_while_the_create_is_on_its_way():
        try:
            services.seat_revoke(seat=Seat.objects.get(pk=seat.pk), actor=ADMIN, reason="left mid-create")
        finally:
            connection.close()

    vendor.before_next("POST", revoke_while_the_create_is_on_its_way)
    job = Job.objects.get(seat=seat, action=Job.Action.CREATE)
    assert job_deliver(job_id=job.pk).state == "delivered"
    seat.refresh_from_db()
    assert seat.state == Seat.State.REVOKED and seat.vendor_user_id
    drain(time_machine)
    [user] = vendor.users()
    assert user.active is False and user.id == seat.vendor_user_id
    assert Job.objects.filter(state=Job.State.QUEUED).count() == 0
