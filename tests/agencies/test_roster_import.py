"""Roster import: the dry run's per-row report, the batched import through the services, resuming,
cancelling, one worker at a time, and the import_roster command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from agencies.models import Employee, RosterImport
from agencies.services import (
    employee_import_batch,
    roster_import_cancel,
    roster_import_check,
    roster_import_create,
    roster_import_run,
    roster_import_start,
)
from audit.actors import Actor
from audit.models import AuditEvent
from core.errors import InvalidInput, InvalidTransition
from tests.factories import AgencyDomainFactory, EmployeeFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(text: str, name: str = "roster.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def checked(agency, text: str, **kwargs) -> RosterImport:
    job = roster_import_create(agency=agency, upload=upload(text), actor=ACTOR, background=False)
    return roster_import_check(roster_import=job, **kwargs)


MIXED = (
    "Email,First Name,Last Name,Employee Number,Bureau\n"
    "grace.hopper@examples.gov,Grace,Hopper,E-1,\n"  # line 2: new, department
    "not-an-email,X,Y,,\n"  # line 3: not an email
    "someone@gmail.com,S,O,,\n"  # line 4: not an agency domain
    "spy@elsewhere.gov,S,P,,\n"  # line 5: another department's domain
    "grace.hopper@examples.gov,Grace,Hopper,E-1,\n"  # line 6: duplicate of line 2
    "kay@samples.gov,Kay,Lee,,Bureau of Samples\n"  # line 7: new, in the bureau by name
    "joan@examples.gov,Joan,Clarke,,Office of Nowhere\n"  # line 8: unknown office
    "ada.lovelace@examples.gov,Ada,Byron,,\n"  # line 9: existing: last name changes
    "\n"  # blank lines are skipped
)


@pytest.fixture
def roster(department, bureau, other_department, employee):
    """The department's roster before the import: Ada, plus someone of another department."""
    EmployeeFactory(agency=other_department, email="taken@elsewhere.gov")
    Employee.objects.filter(pk=employee.pk).update(given_name="Ada", family_name="Lovelace")
    return department


class TestDryRun:
    def test_reports_every_problem_by_line_and_counts_what_would_happen(self, roster):
        job = checked(roster, MIXED)
        assert job.state == RosterImport.State.CHECKED
        assert (job.total_rows, job.checked_rows) == (8, 8)
        assert (job.will_create, job.will_update, job.will_keep, job.invalid_rows) == (2, 1, 0, 5)
        problems = {issue.line: issue.message for issue in job.issues.all()}
        assert set(problems) == {3, 4, 5, 6, 8}
        assert "not an email address" in problems[3]
        assert "gmail.com is not a verified email domain" in problems[4]
        assert "belongs to Department of Elsewhere" in problems[5]
        assert "appears earlier in the file, on line 2" in problems[6]
        assert "“Office of Nowhere” is not an office of Department of Examples" in problems[8]

    def test_changes_nobody(self, roster):
        before = Employee.objects.count()
        checked(roster, MIXED)
        assert Employee.objects.count() == before
        assert Employee.objects.get(email="ada.lovelace@examples.gov").family_name != "Byron"

    def test_a_person_on_another_departments_roster_cannot_be_taken_over(self, roster):
        job = checked(roster, "email\ntaken@elsewhere.gov\n")
        assert job.invalid_rows == 1
        assert "outside Department of Examples" in job.issues.get().message

    def test_a_file_without_an_email_column_is_refused_at_upload(self, department):
        with pytest.raises(InvalidInput, match="one must be “email”"):
            roster_import_create(agency=department, upload=upload("name,phone\nAda,1\n"), actor=ACTOR)
        assert not RosterImport.objects.exists()

    def test_a_file_that_is_not_utf8_is_refused_with_what_to_do(self, department):
        bad = SimpleUploadedFile("roster.csv", "email\nzoë@examples.gov\n".encode("latin-1"))
        with pytest.raises(InvalidInput, match="save it as “CSV UTF-8”"):
            roster_import_create(agency=department, upload=bad, actor=ACTOR)

    def test_a_header_without_people_is_refused(self, department):
        with pytest.raises(InvalidInput, match="no people"):
            roster_import_create(agency=department, upload=upload("email\n"), actor=ACTOR)

    def test_checking_again_after_a_crash_starts_over_instead_of_counting_twice(self, roster):
        job = roster_import_create(agency=roster, upload=upload(MIXED), actor=ACTOR, background=False)
        roster_import_check(roster_import=job, batch_size=3)
        # A worker that died mid-check leaves the job in CHECKING with a lapsed lease.
        RosterImport.objects.filter(pk=job.pk).update(state=RosterImport.State.CHECKING, leased_until=None)
        job = roster_import_check(roster_import=job, batch_size=3)
        assert (job.checked_rows, job.invalid_rows, job.issues.count()) == (8, 5, 5)


class TestImport:
    def test_imports_the_good_rows_and_skips_the_bad_ones(self, roster, bureau):
        job = roster_import_start(roster_import=checked(roster, MIXED), actor=ACTOR, background=False)
        job = roster_import_run(roster_import=job, batch_size=3)
        assert job.state == RosterImport.State.DONE
        assert (job.processed_rows, job.created_rows, job.updated_rows, job.skipped_rows) == (8, 2, 1, 5)
        grace = Employee.objects.get(email="grace.hopper@examples.gov")
        assert (grace.agency, grace.source, grace.employee_number) == (roster, "csv", "E-1")
        assert Employee.objects.get(email="kay@samples.gov").agency == bureau
        assert Employee.objects.get(email="ada.lovelace@examples.gov").family_name == "Byron"

    def test_writes_one_audit_row_per_person_changed_and_one_for_the_import(self, roster):
        job = roster_import_start(roster_import=checked(roster, MIXED), actor=ACTOR, background=False)
        roster_import_run(roster_import=job, batch_size=3)
        assert AuditEvent.objects.filter(verb="employee.create", after__source="csv").count() == 2
        update = AuditEvent.objects.get(verb="employee.update")
        assert update.after == {"family_name": "Byron"}
        finish = AuditEvent.objects.get(verb="roster_import.finish")
        assert finish.after == {"created": 2, "updated": 1, "kept": 0, "skipped": 5}

    def test_judges_rows_again_at_write_time(self, roster):
        """A person added between the dry run and the import is updated, not duplicated."""
        job = checked(roster, "email,last_name\nlate@examples.gov,Late\n")
        assert job.will_create == 1
        EmployeeFactory(agency=roster, email="late@examples.gov", family_name="Early")
        job = roster_import_run(
            roster_import=roster_import_start(roster_import=job, actor=ACTOR, background=False)
        )
        assert (job.created_rows, job.updated_rows) == (0, 1)
        assert Employee.objects.filter(email="late@examples.gov").get().family_name == "Late"

    def test_resumes_after_the_last_committed_batch(self, roster):
        text = "email\n" + "".join(f"p{i}@examples.gov\n" for i in range(10))
        job = roster_import_start(roster_import=checked(roster, text), actor=ACTOR, background=False)
        EmployeeFactory(agency=roster, email="p0@examples.gov")  # as if batch one had committed
        RosterImport.objects.filter(pk=job.pk).update(
            state=RosterImport.State.IMPORTING, processed_rows=4, created_rows=4, leased_until=None
        )
        job = roster_import_run(roster_import=job, batch_size=4)
        assert (job.processed_rows, job.created_rows) == (10, 10)
        # Rows 0-3 were not read again: p1..p3 were never created by this run.
        assert set(Employee.objects.filter(email__startswith="p").values_list("email", flat=True)) == {
            "p0@examples.gov",
            *(f"p{i}@examples.gov" for i in range(4, 10)),
        }

    def test_a_second_worker_leaves_an_import_another_holds(self, roster):
        job = roster_import_start(
            roster_import=checked(roster, "email\nx@examples.gov\n"), actor=ACTOR, background=False
        )
        RosterImport.objects.filter(pk=job.pk).update(
            state=RosterImport.State.IMPORTING, leased_until=timezone.now() + timedelta(minutes=1)
        )
        job = roster_import_run(roster_import=job)
        assert job.processed_rows == 0
        assert not Employee.objects.filter(email="x@examples.gov").exists()

    def test_only_a_checked_import_can_start(self, roster):
        job = roster_import_create(
            agency=roster, upload=upload("email\na@examples.gov\n"), actor=ACTOR, background=False
        )
        with pytest.raises(InvalidTransition, match="only a checked file can be imported"):
            roster_import_start(roster_import=job, actor=ACTOR)

    def test_cancelling_stops_before_the_next_batch(self, roster):
        job = roster_import_start(
            roster_import=checked(roster, "email\na@examples.gov\n"), actor=ACTOR, background=False
        )
        roster_import_cancel(roster_import=job, actor=ACTOR)
        job = roster_import_run(roster_import=job)
        assert job.state == RosterImport.State.CANCELLED
        assert not Employee.objects.filter(email="a@examples.gov").exists()
        with pytest.raises(InvalidTransition, match="already cancelled"):
            roster_import_cancel(roster_import=job, actor=ACTOR)

    def test_the_background_tasks_check_and_import_after_commit(
        self, roster, celery_eager, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            job = roster_import_create(agency=roster, upload=upload("email\nq@examples.gov\n"), actor=ACTOR)
        job.refresh_from_db()
        assert job.state == RosterImport.State.CHECKED
        with django_capture_on_commit_callbacks(execute=True):
            roster_import_start(roster_import=job, actor=ACTOR)
        job.refresh_from_db()
        assert job.state == RosterImport.State.DONE
        assert Employee.objects.filter(email="q@examples.gov", source="csv").exists()


def test_batch_service_creates_people_in_one_statement(roster, django_assert_max_num_queries):
    from agencies.roster_csv import RosterChecker, RosterRow

    rows = [RosterRow(line=i + 2, email=f"bulk{i}@examples.gov") for i in range(200)]
    checker = RosterChecker(roster)
    # domains + existing people + savepoint + insert + two audit inserts (and a few bookkeeping)
    with django_assert_max_num_queries(10):
        result = employee_import_batch(agency=roster, rows=rows, actor=ACTOR, checker=checker)
    assert result.created == 200


class TestCommand:
    def test_dry_run_prints_the_problems_and_changes_nothing(self, roster, tmp_path):
        path = tmp_path / "roster.csv"
        path.write_text(MIXED)
        out = io.StringIO()
        call_command("import_roster", roster.slug, str(path), "--dry-run", stdout=out)
        text = out.getvalue()
        assert "2 new, 1 to update, 0 already up to date, 5 with problems." in text
        assert "line 3:" in text and "Dry run: nothing was changed." in text
        assert not Employee.objects.filter(email="grace.hopper@examples.gov").exists()
        assert RosterImport.objects.get().state == RosterImport.State.CANCELLED

    def test_imports_with_a_progress_bar(self, roster, tmp_path):
        path = tmp_path / "roster.csv"
        path.write_text("email\n" + "".join(f"c{i}@examples.gov\n" for i in range(30)))
        out = io.StringIO()
        call_command("import_roster", roster.slug, str(path), "--batch-size", "7", stdout=out)
        text = out.getvalue()
        assert "importing: 30/30 (100%)" in text
        assert "Imported: 30 added" in text
        assert Employee.objects.filter(email__startswith="c", source="csv").count() == 30

    def test_refuses_an_unknown_agency(self, tmp_path):
        path = tmp_path / "roster.csv"
        path.write_text("email\na@b.gov\n")
        with pytest.raises(CommandError, match="No agency has the short name 'nope'"):
            call_command("import_roster", "nope", str(path))


def test_a_verified_subdomain_of_the_department_is_accepted(department):
    AgencyDomainFactory(agency=department, domain="mail.examples.gov")
    job = checked(department, "email\nsomeone@mail.examples.gov\n")
    assert job.will_create == 1
