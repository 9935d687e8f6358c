"""Every portal page in Debian's chromium: each must pass axe-core's WCAG 2.1 A/AA rules with no
violation, run without script errors, and leave a screenshot under var/screenshots/."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from agencies.models import Employee, RosterImport
from audit.actors import Actor
from seats.lifecycle import usage_snapshot_take
from seats.models import Allocation, Seat
from seats.services import seat_claim, waitlist_join
from tests.factories import AllocationFactory, EmployeeFactory, ProgramFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SYSTEM = Actor.system("browser-test")


@pytest.fixture
def world(
    department,
    bureau,
    other_department,
    program,
    employee,
    gsa_admin,
    agency_admin,
    onboarding_staff,
    employee_user,
):
    """A department with a pool in use, a claim waiting for approval and a full pool with a line."""
    program.workspace_url = "https://chatgpt.example/"
    program.save()
    pool = AllocationFactory(program=program, agency=department, quantity=40)
    seat_claim(allocation=pool, employee=employee, actor=SYSTEM)
    for n in range(5):
        seat_claim(
            allocation=pool,
            employee=EmployeeFactory(agency=department, email=f"user{n}@examples.gov"),
            actor=SYSTEM,
        )
    department.claims_require_approval = True
    department.save()
    seat_claim(
        allocation=Allocation.objects.select_related("agency", "program").get(pk=pool.pk),
        employee=EmployeeFactory(agency=department, email="waiting.approval@examples.gov"),
        actor=SYSTEM,
    )
    usage_snapshot_take()  # tonight's usage snapshot, for the day-by-day chart
    return {"pool": pool, "department": department, "bureau": bureau, "employee": employee}


def test_signed_out_pages(page, check):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enterprise AI seats for federal employees")
    check("home-signed-out")
    page.get_by_role("button", name=re.compile("how you know")).click()
    expect(page.get_by_text("Official websites use .gov")).to_be_visible()
    check("home-banner-open")
    page.goto("/accessibility/")
    check("accessibility")
    page.goto("/accounts/login/")
    check("staff-sign-in")


def test_friendly_error_pages(page, check, settings):
    settings.DEBUG = False
    response = page.goto("/no-such-page/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We cannot find that page")
    check("error-404")


def test_staff_sign_in_with_a_password(page, check, gsa_admin):
    page.goto("/accounts/login/")
    page.get_by_label("Login").fill("gsa-admin")
    page.get_by_role("textbox", name=re.compile("^Password")).fill("correct horse battery staple")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("link", name="Open the GSA dashboard")).to_be_visible()
    check("home-gsa-admin")


def test_gsa_administrator_pages(page, check, login, world, gsa_admin):
    login(gsa_admin)
    page.goto("/gsa/")
    expect(page.locator("canvas#chart-utilization")).to_be_visible()
    assert page.evaluate("() => Object.keys(Chart.instances).length") == 4
    check("gsa-dashboard")

    # USWDS sorts the table in the browser and says so to screen readers.
    header = page.get_by_role("columnheader", name=re.compile("^Claimed"))
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", re.compile("ascending|descending"))

    page.get_by_label("Agency name or abbreviation").fill("examples")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("link", name="Department of Examples")).to_be_visible()
    check("gsa-dashboard-filtered")

    page.get_by_role("link", name="Allocate seats").first.click()
    check("gsa-allocate")
    page.get_by_label("Program").select_option(label=world["pool"].program.name)
    # The USWDS combo box: type to narrow 130 agencies, then pick one.
    page.get_by_role("combobox", name=re.compile("^Agency")).fill("Elsewhere")
    page.get_by_role("option", name="Department of Elsewhere").click()
    page.get_by_label("Seats").fill("250")
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="Please check before you confirm")).to_be_visible()
    check("gsa-allocate-confirm")
    page.get_by_role("button", name="Allocate the seats").click()
    expect(page.get_by_text("now has 250 seats")).to_be_visible()
    check("gsa-pool")
    page.get_by_role("link", name="Resize").click()
    page.get_by_label("New number of seats").fill("1")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Resize the pool").click()
    expect(page.get_by_text("The pool now holds 1 seats.")).to_be_visible()
    check("gsa-pool-resized")

    # A refusal: shrinking the busy pool below its seats in use.
    page.goto(f"/gsa/pools/{world['pool'].uuid}/resize/")
    page.get_by_label("New number of seats").fill("2")
    page.get_by_role("button", name="Review").click()
    page.get_by_role("button", name="Resize the pool").click()
    expect(page.get_by_role("alert")).to_contain_text("Revoke seats or shrink the bureau pools first.")
    check("gsa-pool-resize-refused")

    page.goto(f"/gsa/pools/{world['pool'].uuid}/renew/")
    check("gsa-pool-renew")
    for path, name in [
        ("/gsa/programs/", "gsa-programs"),
        ("/gsa/programs/new/", "gsa-program-new"),
        (f"/gsa/programs/{world['pool'].program.slug}/", "gsa-program"),
        (f"/gsa/programs/{world['pool'].program.slug}/edit/", "gsa-program-edit"),
        ("/gsa/audit/", "gsa-audit"),
        ("/agencies/", "agencies-index"),
    ]:
        page.goto(path)
        check(name)


def test_agency_administrator_pages(page, check, login, world, agency_admin, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    login(agency_admin)
    slug = world["department"].slug
    for path, name in [
        (f"/agencies/{slug}/", "agency-overview"),
        (f"/agencies/{slug}/pools/", "agency-pools"),
        (f"/agencies/{slug}/roster/", "agency-roster"),
        (f"/agencies/{slug}/roster/add/", "agency-roster-add"),
        (f"/agencies/{slug}/waitlist/", "agency-waitlist"),
        (f"/agencies/{slug}/domains/", "agency-domains"),
        (f"/agencies/{slug}/policy/", "agency-policy"),
        (f"/agencies/{slug}/audit/", "agency-audit"),
        (f"/agencies/{slug}/imports/", "agency-imports"),
    ]:
        page.goto(path)
        check(name)

    page.goto(f"/agencies/{slug}/reports/")
    assert page.evaluate("() => Object.keys(Chart.instances).length") == 5
    check("agency-reports")

    # Split seats to a bureau, with the confirmation step.
    page.goto(f"/agencies/{slug}/pools/")
    page.get_by_role("link", name=re.compile("^Split seats to a bureau")).click()
    page.get_by_label("Bureau or office").select_option(label="Bureau of Samples")
    page.get_by_label("Seats").fill("5")
    page.get_by_role("button", name="Review").click()
    check("agency-split-confirm")
    page.get_by_role("button", name="Create the bureau pool").click()
    expect(page.get_by_text("Bureau of Samples now has 5 seats of its own.")).to_be_visible()

    # Approve the waiting claim.
    page.goto(f"/agencies/{slug}/approvals/")
    check("agency-approvals")
    # USWDS hides the real input off-screen and draws the box on its label: click the label.
    box = page.get_by_label("Select the claim of waiting.approval@examples.gov")
    page.locator(f"label[for='{box.get_attribute('id')}']").click()
    expect(box).to_be_checked()
    page.get_by_role("button", name="Approve the selected").click()
    expect(page.get_by_text("Approved 1 claim.")).to_be_visible()

    # Find a person, revoke their seat; it goes back to the pool.
    page.goto(f"/agencies/{slug}/roster/")
    page.get_by_label("Email or last name starts with").fill("ada")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="ada.lovelace@examples.gov").click()
    check("agency-employee")
    page.get_by_role("link", name=re.compile("^Revoke")).click()
    check("agency-revoke")
    page.get_by_label("Why is the seat revoked?").fill("moved to another program")
    page.get_by_role("button", name="Revoke the seat").click()
    expect(page.get_by_text("is revoked and back in the pool")).to_be_visible()
    check("agency-employee-after-revoke")
    assert Seat.objects.get(employee=world["employee"]).state == Seat.State.REVOKED

    # A domain that is not federal: the refusal says why.
    page.goto(f"/agencies/{slug}/domains/")
    page.get_by_label("Email domain").fill("not a domain")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.get_by_role("alert").first).to_contain_text("is not a domain name such as agency.gov")
    check("agency-domain-refused")


def test_roster_import_shows_its_progress_live(
    page, check, login, world, onboarding_staff, settings, tmp_path, roster_worker
):
    settings.MEDIA_ROOT = tmp_path
    login(onboarding_staff)
    slug = world["department"].slug
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "email,first_name,last_name,bureau\n"
        + "".join(f"imported{n}@examples.gov,First{n},Last{n},\n" for n in range(5))
        + "kay@samples.gov,Kay,Lee,Bureau of Samples\n"
        + "someone@gmail.com,Not,Federal,\n"
    )
    page.goto(f"/agencies/{slug}/imports/")
    page.locator("input[name=file]").set_input_files(str(roster))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text("Checking the file")).to_be_visible()
    check("import-checking")

    job = RosterImport.objects.get()
    roster_worker(job.uuid, batch_size=3)
    # The page notices the check is over and reloads itself to show the report.
    expect(page.get_by_role("heading", name="What the import will do")).to_be_visible()
    expect(
        page.get_by_role("cell", name=re.compile("gmail.com is not a verified email domain"))
    ).to_be_visible()
    check("import-report")

    page.get_by_role("button", name="Import 6 people").click()
    expect(page.get_by_text("Waiting for a worker")).to_be_visible()
    check("import-queued")

    progress = page.locator("#import-progress progress")
    seen = []

    def browser_catches_up(rows: int) -> None:
        done = RosterImport.objects.get(pk=job.pk).processed_rows
        expect(progress).to_have_attribute("value", str(done))
        seen.append(done)
        if len(seen) == 3:
            check("import-running")

    roster_worker(job.uuid, batch_size=1, on_batch=browser_catches_up)
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.get_by_text("6 added, 0 updated, 0 already up to date, 1 skipped.")).to_be_visible()
    check("import-done")
    assert Employee.objects.filter(source="csv").count() == 6


def test_employee_home(page, check, login, world, employee_user, department):
    full = AllocationFactory(
        program=ProgramFactory(name="Claude for Government"), agency=department, quantity=1
    )
    seat_claim(
        allocation=full, employee=EmployeeFactory(agency=department, email="first@examples.gov"), actor=SYSTEM
    )
    waitlist_join(allocation=full, employee=world["employee"], actor=SYSTEM)
    login(employee_user)
    page.goto("/")
    expect(page.get_by_role("heading", name=re.compile("^ChatGPT Enterprise"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Open Enterprise"))).to_have_attribute(
        "href", "https://chatgpt.example/"
    )
    expect(page.get_by_text("You are on the waitlist for Claude for Government")).to_be_visible()
    check("home-employee")

    # On a phone the menu folds behind a button.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("navigation", name="Primary")).to_be_visible()
    check("home-employee-mobile-menu")


def test_demo_data_pages_render_cleanly(page, check, login, gsa_admin, settings):
    """The real federal data and the demo set: 131 agencies, a bureau pool, a full pool."""
    from io import StringIO

    from agencies.models import RoleAssignment
    from core.demo import build_demo

    call_command("load_federal_data", stdout=StringIO())
    build_demo(password="demo-password-123")
    admin = RoleAssignment.objects.get(role="gsa_admin", user__username="gsa-admin").user
    login(admin)
    page.goto("/gsa/")
    expect(page.get_by_role("link", name="Department of Health and Human Services")).to_be_visible()
    check("demo-gsa-dashboard")
    for path, name in [
        ("/agencies/hhs/", "demo-hhs"),
        ("/agencies/hhs/reports/", "demo-hhs-reports"),
        ("/agencies/oge/waitlist/", "demo-oge-waitlist"),
        ("/agencies/?q=health", "demo-agency-search"),
    ]:
        page.goto(path)
        check(name)


def test_other_branches_staff_pages_in_the_portal_shell(page, check, login, world, gsa_admin):
    """Pages other branches add inside the shell (renewals, IdP setup, SCIM tokens), once merged."""
    from core.portal import optional_agency_url, optional_url

    department = world["department"]
    pages = {
        "gsa-renewals": optional_url("billing:gsa_renewals"),
        "agency-renewals": optional_agency_url("billing:agency_renewals", department),
        "agency-sso": optional_agency_url("sso:agency_sso", department),
        "agency-scim-tokens": optional_agency_url("provisioning:scim_tokens", department),
    }
    present = {name: url for name, url in pages.items() if url}
    if not present:
        pytest.skip("no other branch's staff pages are merged yet")
    login(gsa_admin)
    for name, url in present.items():
        assert page.goto(url).status == 200
        check(name)
