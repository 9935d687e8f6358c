"""Publishing after commit, the sweeper that loses nothing, and the admin's outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import Actor
from provisioning.models import ProvisioningJob
from provisioning.tasks import sweep_outbox
from seats import services
from seats.models import Seat
from tests.conftest import complete_mfa
from tests.factories import AllocationFactory, CsvProgramFactory, VendorProgramFactory
from tests.provisioning.vendor_server import Fault

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")
Job = ProvisioningJob


@pytest.fixture
def vendor_pool(vendor, department):
    program = VendorProgramFactory(connector_settings=vendor.settings())
    return AllocationFactory(program=program, agency=department, quantity=20)


def test_a_claim_publishes_its_delivery_only_after_commit(
    vendor, vendor_pool, employee, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        seat = services.seat_claim(allocation=vendor_pool, employee=employee, actor=ADMIN)
    assert len(callbacks) == 1
    assert vendor.requests == [], "nothing reaches the vendor before the transaction commits"
    callbacks[0]()
    seat.refresh_from_db()
    assert seat.state == Seat.State.ACTIVE and len(vendor.users()) == 1


def test_a_broker_that_is_down_at_commit_loses_nothing(
    vendor_pool, employee, django_capture_on_commit_callbacks, broker_down
):
    with django_capture_on_commit_callbacks(execute=True):
        seat = services.seat_claim(allocation=vendor_pool, employee=employee, actor=ADMIN)
    job = Job.objects.get(seat=seat)
    assert job.state == Job.State.QUEUED and job.attempts == 0


def test_the_sweeper_delivers_jobs_whose_message_was_lost(
    vendor, vendor_pool, make_employee, celery_eager, time_machine
):
    time_machine.move_to(timezone.now(), tick=False)
    seats = [
        services.seat_claim(allocation=vendor_pool, employee=make_employee(vendor_pool.agency), actor=ADMIN)
        for _ in range(3)
    ]  # no on_commit here: as if the process died between commit and publish
    assert sweep_outbox() == 0, "within the grace period the first message may still arrive"
    time_machine.shift(timedelta(minutes=2))
    assert sweep_outbox() == 3
    assert set(Seat.objects.filter(pk__in=[s.pk for s in seats]).values_list("state", flat=True)) == {
        "active"
    }
    assert sweep_outbox() == 0
    assert len(vendor.users()) == 3


def test_the_sweeper_leaves_csv_jobs_to_the_file(department, employee, celery_eager, time_machine):
    pool = AllocationFactory(program=CsvProgramFactory(), agency=department)
    services.seat_claim(allocation=pool, employee=employee, actor=ADMIN)
    time_machine.move_to(timezone.now() + timedelta(hours=1), tick=False)
    assert sweep_outbox() == 0
    assert Job.objects.get().state == Job.State.QUEUED


def test_the_delivery_task_reschedules_a_retry(vendor, vendor_pool, employee, celery_eager, fast_retries):
    from provisioning.tasks import deliver_jobs

    seat = services.seat_claim(allocation=vendor_pool, employee=employee, actor=ADMIN)
    vendor.fail_next(Fault("status", 500))
    # Eager mode runs the countdown retry at once, where the job is not yet due: it is skipped and
    # stays queued for its next attempt (the worker would have waited).
    deliver_jobs([Job.objects.get(seat=seat).pk])
    job = Job.objects.get(seat=seat)
    assert (job.state, job.attempts) == (Job.State.QUEUED, 1) and job.next_attempt_at > timezone.now()


def test_admin_shows_the_outbox_and_retries_failed_seats(
    client, superuser, vendor, vendor_pool, employee, celery_eager
):
    seat = services.seat_claim(allocation=vendor_pool, employee=employee, actor=ADMIN)
    services.seat_mark_failed(seat=seat, actor=ADMIN, error="HTTP 500 from the vendor")
    complete_mfa(client, superuser)
    page = client.get("/admin/provisioning/provisioningjob/")
    assert page.status_code == 200 and b"create" in page.content
    response = client.post(
        "/admin/seats/seat/",
        {"action": "retry", "_selected_action": [seat.pk]},
        follow=True,
    )
    assert response.status_code == 200
    seat.refresh_from_db()
    assert seat.state == Seat.State.PENDING
    assert Job.objects.filter(seat=seat, action="create").count() == 2
    assert (
        client.get(f"/admin/provisioning/provisioningjob/{Job.objects.first().pk}/change/").status_code == 200
    )
