"""The roster import pages: upload, the dry-run report, start, the progress fragment htmx polls."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agencies.models import Employee, RosterImport
from tests.conftest import complete_mfa

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, onboarding_staff, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    complete_mfa(client, onboarding_staff)
    return client


def csv_file(text: str, name: str = "roster.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


ROSTER = "email,first_name,last_name\nnew.one@examples.gov,New,One\nbad-address,B,A\n"


def test_upload_check_report_start_and_finish(staff, celery_eager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/agencies/doe-x/imports/", {"file": csv_file(ROSTER)})
    job = RosterImport.objects.get()
    assert response["Location"] == f"/agencies/doe-x/imports/{job.uuid}/"
    report = staff.get(response["Location"])
    html = report.content.decode()
    assert "What the import will do" in html
    assert "Import 1 person" in html
    assert "&#x27;bad-address&#x27; is not an email address." in html
    assert not Employee.objects.filter(email="new.one@examples.gov").exists()

    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/agencies/doe-x/imports/{job.uuid}/start/")
    job.refresh_from_db()
    assert (job.state, job.created_rows, job.skipped_rows) == ("done", 1, 1)
    assert Employee.objects.get(email="new.one@examples.gov").source == "csv"
    assert (
        "1 added, 0 updated, 0 already up to date, 1 skipped."
        in staff.get(report.request["PATH_INFO"]).content.decode()
    )


def test_a_file_that_cannot_be_read_is_refused_on_the_upload_page(staff):
    response = staff.post("/agencies/doe-x/imports/", {"file": csv_file("name\nAda\n")})
    assert response.status_code == 400
    assert "one must be “email”" in response.content.decode()
    assert not RosterImport.objects.exists()


def test_only_csv_files_are_accepted(staff):
    response = staff.post("/agencies/doe-x/imports/", {"file": csv_file("x", name="roster.xlsx")})
    assert "Choose a .csv file" in str(response.context["form"].errors)


def test_progress_fragment_polls_while_running_and_stops_when_done(staff, department):
    from agencies.services import roster_import_create
    from audit.actors import Actor

    job = roster_import_create(
        agency=department,
        upload=csv_file("email\na@examples.gov\n"),
        actor=Actor.system("t"),
        background=False,
    )
    url = f"/agencies/doe-x/imports/{job.uuid}/progress/?shown=checking"
    running = staff.get(url)
    assert running.status_code == 200 and "HX-Refresh" not in running
    assert 'max="1" value="0"' in running.content.decode()
    page = staff.get(f"/agencies/doe-x/imports/{job.uuid}/").content.decode()
    assert 'hx-trigger="every 1s"' in page
    # The phase the page shows has ended: the page reloads itself to show the report.
    RosterImport.objects.filter(pk=job.pk).update(state=RosterImport.State.CHECKED)
    assert staff.get(url)["HX-Refresh"] == "true"
    # A finished import answers 286, which tells htmx to stop polling.
    RosterImport.objects.filter(pk=job.pk).update(state=RosterImport.State.DONE)
    assert staff.get(f"/agencies/doe-x/imports/{job.uuid}/progress/?shown=done").status_code == 286


def test_a_stalled_job_says_no_worker_seems_to_run(staff, department):
    from datetime import timedelta

    from django.utils import timezone

    from agencies.services import roster_import_create
    from audit.actors import Actor

    job = roster_import_create(
        agency=department,
        upload=csv_file("email\na@examples.gov\n"),
        actor=Actor.system("t"),
        background=False,
    )
    RosterImport.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    html = staff.get(f"/agencies/doe-x/imports/{job.uuid}/").content.decode()
    assert "no background worker seems to be running" in html


def test_starting_twice_reads_as_a_friendly_alert(staff, department):
    from agencies.services import roster_import_create
    from audit.actors import Actor

    job = roster_import_create(
        agency=department,
        upload=csv_file("email\na@examples.gov\n"),
        actor=Actor.system("t"),
        background=False,
    )
    response = staff.post(f"/agencies/doe-x/imports/{job.uuid}/start/", follow=True)
    assert "only a checked file can be imported" in " ".join(str(m) for m in response.context["messages"])


def test_the_template_file_downloads(staff):
    response = staff.get("/agencies/doe-x/imports/template.csv")
    assert response.content.decode().startswith("email,given_name,family_name")


def test_a_broker_down_at_upload_costs_no_request_and_the_sweep_queues_the_check(
    staff, department, broker_down, django_capture_on_commit_callbacks, caplog
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post("/agencies/doe-x/imports/", {"file": csv_file(ROSTER)})
    job = RosterImport.objects.get()
    assert response.status_code == 302 and job.state == RosterImport.State.CHECKING
    assert f"roster import {job.pk} stay for the sweeper" in caplog.text


def test_the_sweep_queues_again_only_imports_nobody_holds(department, celery_eager, settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from agencies.services import roster_import_create, roster_imports_sweep
    from audit.actors import Actor

    settings.MEDIA_ROOT = tmp_path

    def waiting(minutes: int, **state) -> RosterImport:
        job = roster_import_create(
            agency=department, upload=csv_file(ROSTER), actor=Actor.system("t"), background=False
        )
        RosterImport.objects.filter(pk=job.pk).update(
            updated_at=timezone.now() - timedelta(minutes=minutes), **state
        )
        return job

    lost = waiting(11)
    recent = waiting(5)
    held = waiting(11, leased_until=timezone.now() + timedelta(minutes=2))

    assert roster_imports_sweep() == 1
    states = dict(RosterImport.objects.values_list("pk", "state"))
    assert states == {lost.pk: "checked", recent.pk: "checking", held.pk: "checking"}
