"""Reconciliation against the vendor's real user list, and the manual CSV connector."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from audit.actors import Actor
from audit.models import AuditEvent
from provisioning.models import ProvisioningJob
from provisioning.outbox import job_deliver, jobs_mark_delivered
from provisioning.reconcile import program_reconcile
from provisioning.vendor import Person, ScimConnector
from provisioning.vendor.csvfile import csv_jobs, csv_write
from seats import services
from seats.models import Seat
from tests.factories import AllocationFactory, CsvProgramFactory, ProgramFactory, VendorProgramFactory
from tests.provisioning.vendor_server import TOKEN

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")
Job = ProvisioningJob


def deliver_queued() -> None:
    for job in Job.objects.filter(state=Job.State.QUEUED):
        job_deliver(job_id=job.pk)


@pytest.fixture
def drifted(vendor, department, make_employee):
    """Three delivered seats, then drift both ways at the vendor."""
    program = VendorProgramFactory(slug="chatgpt", connector_settings=vendor.settings())
    pool = AllocationFactory(program=program, agency=department)
    seats = [
        services.seat_claim(allocation=pool, employee=make_employee(department), actor=ADMIN)
        for _ in range(3)
    ]
    deliver_queued()
    seats = [Seat.objects.get(pk=s.pk) for s in seats]
    with ScimConnector(base_url=vendor.url, token=TOKEN) as client:
        client.deactivate_id(seats[0].vendor_user_id)  # someone switched it off at the vendor
        client.ensure_active(Person("stranger-1", "stranger@examples.gov", "stranger@examples.gov"))
    # We lost the link to the third seat's user (say, an old import).
    Seat.objects.filter(pk=seats[2].pk).update(vendor_user_id="")
    # A person whose seat ended, but whose vendor user is still active.
    leaver = services.seat_claim(allocation=pool, employee=make_employee(department), actor=ADMIN)
    deliver_queued()
    Seat.objects.filter(pk=leaver.pk).update(state=Seat.State.REVOKED, ended_at=leaver.claimed_at)
    return program, seats, leaver


def test_reconcile_reports_drift_both_ways_without_changing_anything(vendor, drifted):
    program, seats, leaver = drifted
    jobs_before = Job.objects.count()
    report = program_reconcile(program=program, actor=ADMIN)
    assert [d.seat_id for d in report.of("missing")] == [seats[0].pk]
    assert [d.seat_id for d in report.of("unlinked")] == [seats[2].pk]
    assert sorted(d.user_name for d in report.of("orphaned")) == sorted(
        ["stranger@examples.gov", leaver.employee.email]
    )
    assert report.counts()["vendor_users"] == 5
    assert Job.objects.count() == jobs_before and not any(d.repaired for d in report.drift)


def test_reconcile_with_repair_fixes_the_drift_and_a_second_run_finds_none(vendor, drifted):
    program, seats, _leaver = drifted
    report = program_reconcile(program=program, actor=ADMIN, repair=True)
    assert {d.repaired for d in report.drift} == {
        "reactivation queued",
        "linked",
        "deactivation queued",
        "deactivated",
    }
    deliver_queued()
    after = program_reconcile(program=program, actor=ADMIN)
    assert after.drift == []
    active = sorted(u.user_name for u in vendor.users() if u.active)
    assert active == sorted(s.employee.email for s in seats)
    assert AuditEvent.objects.filter(verb="vendor.deactivate_orphan").count() == 1
    assert Seat.objects.get(pk=seats[2].pk).vendor_user_id


def test_reconcile_command_prints_the_drift_and_how_to_repair(vendor, drifted):
    out = io.StringIO()
    call_command("reconcile", "chatgpt", stdout=out)
    text = out.getvalue()
    assert "1 seats active here but missing or inactive at the vendor" in text
    assert "2 active vendor users with no live seat here" in text
    assert "--repair" in text
    with pytest.raises(CommandError, match="No program"):
        call_command("reconcile", "nope")


def test_reconcile_refuses_a_program_without_a_vendor_api(department):
    with pytest.raises(CommandError, match="no vendor API"):
        call_command("reconcile", ProgramFactory().slug)


def test_csv_file_lists_queued_jobs_and_confirming_it_activates_the_seats(
    department, make_employee, tmp_path
):
    program = CsvProgramFactory(slug="files")
    pool = AllocationFactory(program=program, agency=department)
    seats = [
        services.seat_claim(
            allocation=pool, employee=make_employee(department, given_name="=cmd"), actor=ADMIN
        )
        for _ in range(3)
    ]
    services.seat_activate(seat=seats[0], actor=ADMIN)
    services.seat_revoke(seat=seats[0], actor=ADMIN, reason="left")
    path = tmp_path / "vendor.csv"
    call_command("vendor_csv", "files", output=str(path), stderr=io.StringIO())
    rows = list(csv.DictReader(path.open()))
    assert sorted(r["action"] for r in rows) == ["create", "create", "deactivate"]
    assert {r["given_name"] for r in rows} == {"'=cmd"}, "spreadsheet formulas are neutralised"
    assert {r["active"] for r in rows if r["action"] == "deactivate"} == {"false"}

    out = io.StringIO()
    call_command("vendor_csv", "files", confirm=str(path), stdout=out)
    assert "Marked 3 of the file's 3 rows delivered" in out.getvalue()
    states = dict(Seat.objects.values_list("pk", "state"))
    assert [states[s.pk] for s in seats] == ["revoked", "active", "active"]
    assert not Job.objects.filter(state=Job.State.QUEUED).exists()
    assert AuditEvent.objects.filter(verb="seat.activate").count() == 3  # one by hand, two by the file
    assert jobs_mark_delivered(program=program, keys=[r["request_id"] for r in rows], actor=ADMIN) == 0


def test_a_job_queued_after_the_file_was_written_stays_queued(department, make_employee):
    program = CsvProgramFactory()
    pool = AllocationFactory(program=program, agency=department)
    services.seat_claim(allocation=pool, employee=make_employee(department), actor=ADMIN)
    out = io.StringIO()
    csv_write(csv_jobs(program), out)
    late = services.seat_claim(allocation=pool, employee=make_employee(department), actor=ADMIN)
    keys = [row["request_id"] for row in csv.DictReader(io.StringIO(out.getvalue()))]
    assert jobs_mark_delivered(program=program, keys=keys, actor=ADMIN) == 1
    assert Seat.objects.get(pk=late.pk).state == Seat.State.PENDING


def test_the_daily_reconcile_task_repairs_every_scim_program(vendor, drifted):
    from provisioning.tasks import reconcile_all

    program, _, _ = drifted
    summary = reconcile_all()
    assert summary[program.slug]["repaired"] == 4
    deliver_queued()
    assert program_reconcile(program=program, actor=ADMIN).drift == []
