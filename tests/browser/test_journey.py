"""The cross-persona journey of issue 8, in Debian's chromium on the development IdP, by clicks and
forms only: GSA allocates a pool, the department's administrator connects sign-in and splits seats
to a bureau, imports a roster and watches it progress, an employee from that roster discovers,
signs in through SAML and claims, and the administrator revokes the seat so it returns to the pool.

Only the starting cast (the program, the department and its bureau, the two staff accounts) is
made directly; every later row comes from a page. Each page visited passes axe-core's WCAG 2.1
A/AA rules and leaves a screenshot ``journey-NN-<page>.png`` under var/screenshots/<database>/.
"""

from __future__ import annotations

import re
from itertools import count

import pytest
from playwright.sync_api import expect

from agencies.models import Employee, RosterImport
from audit.models import AuditEvent
from core.portal import optional_url
from seats.models import Allocation, Seat

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROSTER = (
    "email,given_name,family_name,employee_number,bureau\n"
    "grace.hopper@examples.gov,Grace,Hopper,E-1001,\n"
    "alan.turing@examples.gov,Alan,Turing,E-1002,\n"
    "kay.lee@samples.gov,Kay,Lee,E-1003,Bureau of Samples\n"
    "katherine.johnson@examples.gov,Katherine,Johnson,E-1004,\n"
    "someone@gmail.com,Not,Federal,,\n"
)
DEV_IDP_HEADING = "Sign in to Department of Examples (development)"


@pytest.fixture
def journey_settings(settings, tmp_path):
    if not optional_url("sso:discover") or not getattr(settings, "SSO_DEV_IDP", False):
        pytest.skip("discovery and the development IdP are not routed here")
    settings.VAR_DIR = tmp_path  # the development IdP keeps its key pair under VAR_DIR
    settings.MEDIA_ROOT = tmp_path / "media"  # uploaded rosters
    return settings


def test_gsa_allocates_agency_connects_sso_splits_imports_employee_claims_and_seat_returns(
    page,
    check,
    login,
    roster_worker,
    journey_settings,
    tmp_path,
    program,
    department,
    bureau,
    gsa_admin,
    agency_admin,
):
    step = count(1)

    def checked(name: str) -> None:
        check(f"journey-{next(step):02d}-{name}")

    main = page.locator("main")
    agency_menu = page.get_by_role("navigation", name="DOX pages")
    slug = department.slug

    # 1. GSA allocates 25 seats of the program to the department, with a confirmation step.
    login(gsa_admin)
    page.goto("/")
    checked("gsa-home")
    page.get_by_role("link", name="Open the GSA dashboard").click()
    checked("gsa-dashboard")
    main.get_by_role("link", name="Allocate seats").first.click()
    checked("gsa-allocate")
    page.get_by_label("Program").select_option(label=program.name)
    page.get_by_role("combobox", name=re.compile("^Agency")).fill("Examples")
    page.get_by_role("option", name="Department of Examples").click()
    page.get_by_label("Seats").fill("25")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Please check before you confirm")).to_be_visible()
    checked("gsa-allocate-confirm")
    page.get_by_role("button", name="Allocate the seats").click()
    expect(page.get_by_text("Department of Examples now has 25 seats")).to_be_visible()
    checked("gsa-pool")
    pool = Allocation.objects.get(agency=department, program=program)
    assert (pool.quantity, pool.assigned, pool.reserved_for_children) == (25, 0, 0)

    # 2. The department's administrator connects sign-in, then splits seats to the bureau.
    login(agency_admin)
    page.goto("/")
    checked("agency-admin-home")
    page.goto(f"/agencies/{slug}/")
    checked("agency-overview")
    agency_menu.get_by_role("link", name="Single sign-on").click()
    expect(page.get_by_text("No identity provider yet")).to_be_visible()
    checked("agency-sso-empty")
    page.get_by_role("button", name="Use the development IdP").click()
    expect(page.get_by_text("now signs in through the development IdP")).to_be_visible()
    metadata_link = page.get_by_role("link", name="Download service provider metadata")
    expect(metadata_link).to_be_visible()
    checked("agency-sso-connected")
    metadata = page.request.get(metadata_link.get_attribute("href"))
    assert metadata.ok and "EntityDescriptor" in metadata.text()
    assert f"/accounts/saml/{slug}/acs/" in metadata.text()
    # Test sign-in goes through the agency's IdP as someone else and comes back with a report;
    # the administrator is still themselves and nobody was created.
    page.get_by_role("button", name="Test sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(DEV_IDP_HEADING)
    checked("agency-sso-test-sign-in")
    page.get_by_label("Someone not on the roster yet").fill("test.person@examples.gov")
    page.get_by_role("button", name="Sign in with this email").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test sign-in through your IdP")
    expect(page.get_by_text("test.person@examples.gov would be signed in.")).to_be_visible()
    checked("agency-sso-test-sign-in-report")
    assert not Employee.objects.filter(email="test.person@examples.gov").exists()
    page.get_by_role("link", name="Back to sign-in settings").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign-in settings")

    agency_menu.get_by_role("link", name="Seat pools", exact=True).click()
    expect(main.get_by_text("25 free")).to_be_visible()
    checked("agency-pools")
    page.get_by_role("link", name=re.compile("^Split seats to a bureau")).click()
    checked("agency-split")
    page.get_by_label("Bureau or office").select_option(label="Bureau of Samples")
    page.get_by_label("Seats").fill("5")
    page.get_by_role("button", name="Review").click()
    checked("agency-split-confirm")
    page.get_by_role("button", name="Create the bureau pool").click()
    expect(page.get_by_text("Bureau of Samples now has 5 seats of its own.")).to_be_visible()
    expect(main.get_by_text("20 free")).to_be_visible()
    checked("agency-pools-after-split")

    # 3. The administrator imports a roster: dry-run report, then the import with live progress.
    roster = tmp_path / "new-hires.csv"
    roster.write_text(ROSTER)
    agency_menu.get_by_role("link", name="Import a roster", exact=True).click()
    checked("agency-imports")
    # The file input keeps its visible label as its name, though USWDS's script sets an aria-label.
    page.get_by_label("Roster file (CSV)").set_input_files(str(roster))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Checking the file")).to_be_visible()
    checked("agency-import-checking")
    job = RosterImport.objects.get(agency=department)
    roster_worker(job.uuid, batch_size=2)
    expect(page.get_by_role("heading", name="What the import will do")).to_be_visible()
    not_federal = re.compile("^gmail.com is not a verified email domain")
    expect(page.get_by_role("cell", name=not_federal)).to_be_visible()
    checked("agency-import-report")
    page.get_by_role("button", name="Import 4 people").click()
    expect(page.get_by_text("Waiting for a worker")).to_be_visible()
    checked("agency-import-queued")

    bar = page.locator("#import-progress progress")
    seen: list[int] = []

    def browser_shows(rows: int) -> None:
        done = RosterImport.objects.get(pk=job.pk).processed_rows
        expect(bar).to_have_attribute("value", str(done))
        seen.append(done)
        if len(seen) == 1:
            expect(page.get_by_text("2 of 5 lines (40%)")).to_be_visible()
            checked("agency-import-running")

    # Two lines a batch: the browser's poll must show 2, then 4, then all 5 lines done.
    roster_worker(job.uuid, batch_size=2, on_batch=browser_shows)
    assert seen == [2, 4, 5]
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.get_by_text("4 added, 0 updated, 0 already up to date, 1 skipped.")).to_be_visible()
    checked("agency-import-done")
    assert set(Employee.objects.filter(source="csv").values_list("email", flat=True)) == {
        "grace.hopper@examples.gov",
        "alan.turing@examples.gov",
        "kay.lee@samples.gov",
        "katherine.johnson@examples.gov",
    }

    # 4. Grace, on the imported roster, discovers her agency, signs in through SAML and claims.
    page.context.clear_cookies()
    page.goto("/")
    checked("signed-out-home")
    page.get_by_role("link", name="Sign in with your agency").click()
    checked("employee-discover")
    page.get_by_label("Work email address").fill("Grace.Hopper@examples.gov")
    page.get_by_role("button", name="Continue to my agency").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(DEV_IDP_HEADING)
    checked("employee-dev-idp")
    page.get_by_role("button", name="Sign in as Grace Hopper").click()
    page.wait_for_url(re.compile("/claim/$"))
    expect(main.get_by_text("grace.hopper@examples.gov", exact=True)).to_be_visible()
    checked("employee-claim")
    main.get_by_role("button", name="Claim a seat").click()
    expect(page.get_by_text(f"Your {program.name} seat is active.")).to_be_visible()
    checked("employee-claimed")
    page.goto("/")
    expect(page.get_by_text("Your seat is active")).to_be_visible()
    checked("employee-home")
    seat = Seat.objects.get(employee__email="grace.hopper@examples.gov")
    assert seat.state == Seat.State.ACTIVE and seat.allocation_id == pool.pk
    pool.refresh_from_db()
    assert pool.assigned == 1

    # 5. The administrator finds Grace on the roster and revokes her seat; it returns to the pool.
    login(agency_admin)
    page.goto(f"/agencies/{slug}/pools/")
    expect(main.get_by_text("19 free")).to_be_visible()
    checked("agency-pools-after-claim")
    agency_menu.get_by_role("link", name="Roster", exact=True).click()
    page.get_by_label("Email or last name starts with").fill("hopper")
    page.get_by_role("button", name="Search").click()
    checked("agency-roster-search")
    page.get_by_role("link", name="grace.hopper@examples.gov").click()
    checked("agency-employee")
    page.get_by_role("link", name=re.compile("^Revoke")).click()
    checked("agency-revoke")
    page.get_by_label("Why is the seat revoked?").fill("moved to a program with its own tools")
    page.get_by_role("button", name="Revoke the seat").click()
    expect(page.get_by_text("is revoked and back in the pool")).to_be_visible()
    expect(main.get_by_text("Revoked", exact=True)).to_be_visible()
    history = page.get_by_role("list").filter(has_text="Seat revoked")
    expect(history).to_contain_text("Seat revoked by admin@examples.gov")
    expect(history).to_contain_text("Seat claimed by grace.hopper@examples.gov")
    checked("agency-employee-revoked")
    agency_menu.get_by_role("link", name="Seat pools", exact=True).click()
    expect(main.get_by_text("20 free")).to_be_visible()
    checked("agency-pools-after-revoke")

    seat.refresh_from_db()
    pool.refresh_from_db()
    assert seat.state == Seat.State.REVOKED and seat.ended_at is not None
    assert seat.reason == "moved to a program with its own tools"
    assert (pool.assigned, pool.reserved_for_children, pool.free) == (0, 5, 20)
    revoked = AuditEvent.objects.get(verb="seat.revoke", target_id=str(seat.pk))
    assert revoked.actor_id == agency_admin.pk and revoked.agency_id == department.pk
    # Every step of the story left its audit row, by the person who took it.
    by_verb = dict(AuditEvent.objects.values_list("verb", "actor_label").order_by("occurred_at"))
    assert {
        "allocation.create",
        "allocation.split",
        "roster_import.start",
        "roster_import.finish",
        "sso.sign_in",
        "seat.claim",
        "seat.revoke",
    } <= set(by_verb)
