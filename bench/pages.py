"""Every portal page and REST API list at full scale: its query count against its budget, and its time.

Renders each page with Django's test client against the full-scale database
(``SCALE_DATABASE_URL``: 2.29M people, ~1.37M seats), signed in as the person who opens it: a
GSA administrator (second factor done), an administrator of the largest department, or an
employee holding a seat; API lists with that person's personal API token. Each budget is the
count the page makes at small scale, opened by the same person (tests/portal/test_page_budgets.py
and tests/api/test_query_counts.py pin them and show they do not grow with the rows); a page over
its budget at full scale has an N+1 the small tests missed.
Writes bench/PAGES.md.

    python -m bench.pages            # or: ./run bench pages
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Result, emit, ensure_scale_database, say

PAGES_FILE = Path(__file__).resolve().parent / "PAGES.md"
SLOW_SECONDS = 1.0
BENCH_GSA = "bench-gsa-admin"
BENCH_AGENCY = "bench-agency-admin"
BENCH_EMPLOYEE = "bench-employee"


@dataclass(frozen=True)
class Page:
    """One page to open: who opens it and the query budget it must stay within."""

    label: str
    who: str  # gsa | agency | employee; with an "api-" prefix: that person's API token
    url: str
    budget: int


@dataclass
class Measured:
    page: Page
    url: str
    status: int
    queries: int
    seconds: float
    sql: list[str] = field(default_factory=list)

    @property
    def within_budget(self) -> bool:
        return self.status == 200 and self.queries <= self.page.budget


def pages() -> list[Page]:
    """The portal's pages; ``{agency}``, ``{office}``, ``{pool}``, ``{person}``, ``{job}``,
    ``{program}`` and ``{prefix}`` are filled in from the database."""
    return [
        Page("GSA dashboard", "gsa", "/gsa/", 12),
        Page("GSA dashboard, one program, high use", "gsa", "/gsa/?program={program_id}&usage=high", 13),
        Page("GSA pools CSV export", "gsa", "/gsa/pools.csv", 7),
        Page("GSA programs", "gsa", "/gsa/programs/", 6),
        Page("GSA program", "gsa", "/gsa/programs/{program}/", 9),
        Page("GSA pool", "gsa", "/gsa/pools/{pool}/", 12),
        Page("GSA audit", "gsa", "/gsa/audit/", 6),
        Page("GSA renewals", "gsa", "/gsa/renewals/", 8),
        Page("agency list (GSA)", "gsa", "/agencies/", 6),
        Page("agency list, search (GSA)", "gsa", "/agencies/?q=veterans", 6),
        Page("agency overview", "agency", "/agencies/{agency}/", 18),
        Page("agency pools", "agency", "/agencies/{agency}/pools/", 16),
        Page("agency report", "agency", "/agencies/{agency}/reports/", 17),
        Page("approvals queue", "agency", "/agencies/{agency}/approvals/", 11),
        Page("waitlist queue", "agency", "/agencies/{agency}/waitlist/", 11),
        Page("roster", "agency", "/agencies/{agency}/roster/", 14),
        Page("roster, email prefix", "agency", "/agencies/{agency}/roster/?q={email_prefix}", 14),
        Page("roster, last-name prefix", "agency", "/agencies/{agency}/roster/?q={name_prefix}", 14),
        Page("roster, office", "agency", "/agencies/{agency}/roster/?bureau={office_id}", 15),
        Page("roster, suspended", "agency", "/agencies/{agency}/roster/?status=suspended", 14),
        Page("roster, holds a seat", "agency", "/agencies/{agency}/roster/?seat=live", 14),
        Page("roster, holds no seat", "agency", "/agencies/{agency}/roster/?seat=none", 14),
        Page("roster, waiting for approval", "agency", "/agencies/{agency}/roster/?seat=requested", 14),
        Page(
            "roster, name prefix in an office with a seat",
            "agency",
            "/agencies/{agency}/roster/?q={name_prefix}&bureau={office_id}&seat=active",
            15,
        ),
        Page("employee", "agency", "/agencies/{agency}/roster/{person}/", 14),
        Page("imports", "agency", "/agencies/{agency}/imports/", 11),
        Page("import", "agency", "/agencies/{agency}/imports/{job}/", 12),
        Page("domains", "agency", "/agencies/{agency}/domains/", 11),
        Page("agency audit", "agency", "/agencies/{agency}/audit/", 12),
        Page("agency renewals", "agency", "/agencies/{agency}/renewals/", 10),
        Page("agency SSO", "agency", "/agencies/{agency}/sso/", 10),
        Page("SCIM tokens", "agency", "/agencies/{agency}/scim-tokens/", 9),
        Page("SCIM groups", "agency", "/agencies/{agency}/scim-groups/", 10),
        Page("home (employee)", "employee", "/", 6),
        Page("claim page", "employee", "/claim/", 8),
    ]


def api_lists() -> list[Page]:
    """The REST API's lists, first page each, with the budgets tests/api/test_query_counts.py pins
    (token and role lookups included)."""
    from tests.api.test_query_counts import AGENCY_ADMIN_LISTS, LISTS

    agency_lists = {path.replace("doe-x", "{agency}"): n for path, n in AGENCY_ADMIN_LISTS.items()}
    return [
        *(Page(f"API {path} (GSA)", "api-gsa", path, n) for path, n in LISTS.items()),
        *(
            Page(f"API {path.split('?')[0]} (agency)", "api-agency", path, n)
            for path, n in agency_lists.items()
        ),
    ]


def prepare() -> dict[str, object]:
    """Users for each role and the ids the page URLs need; made once, reused by later runs."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from agencies.models import Agency, Employee, RoleAssignment, RosterImport
    from agencies.services import role_assign, roster_import_create
    from agencies.workforce import SYNTHETIC_PREFIX, primary_domains
    from audit.actors import Actor
    from seats.models import Allocation, Program, Seat
    from seats.scale import PROGRAM_SLUG

    actor = Actor.system("bench pages")
    User = get_user_model()
    department = (
        Agency.objects.filter(parent__isnull=True, pk__in=primary_domains())
        .exclude(kind="aggregate")
        .order_by("-headcount")
        .first()
    )
    assert department is not None, "no departments: the full-scale database is not loaded"
    gsa, _ = User.objects.get_or_create(
        username=BENCH_GSA, defaults={"email": "bench-gsa@gsa.gov", "is_staff": True}
    )
    role_assign(user=gsa, role=RoleAssignment.Role.GSA_ADMIN, actor=actor)
    admin, _ = User.objects.get_or_create(
        username=BENCH_AGENCY, defaults={"email": "bench-admin@example.gov"}
    )
    role_assign(user=admin, role=RoleAssignment.Role.AGENCY_ADMIN, agency=department, actor=actor)
    # An employee of the department holding an active seat signs in as SAML would link them.
    holder = (
        Seat.objects.filter(
            program__slug=PROGRAM_SLUG, state=Seat.State.ACTIVE, allocation__agency=department
        )
        .order_by("pk")
        .values_list("employee_id", flat=True)
        .first()
    )
    person = Employee.objects.get(pk=holder)
    employee_user, _ = User.objects.get_or_create(username=BENCH_EMPLOYEE, defaults={"email": person.email})
    if person.user_id != employee_user.pk:
        Employee.objects.filter(user=employee_user).update(user=None)
        Employee.objects.filter(pk=person.pk).update(user=employee_user)
    job = RosterImport.objects.filter(agency=department).order_by("-pk").first()
    if job is None:
        domain = primary_domains()[department.pk]
        job = roster_import_create(
            agency=department,
            upload=SimpleUploadedFile("r.csv", f"email\nbench.page@{domain}\nnot-an-email\n".encode()),
            actor=actor,
            background=False,
        )
    # The office of the department with the most people (synthetic people work in offices).
    office = max(
        Agency.objects.filter(parent=department), key=lambda a: (a.headcount, -a.pk), default=department
    )
    sample = (
        Employee.objects.filter(
            agency__path__startswith=office.path, external_id__startswith=SYNTHETIC_PREFIX
        )
        .order_by("pk")
        .first()
    )
    assert sample is not None, office
    program = Program.objects.get(slug=PROGRAM_SLUG)
    return {
        "users": {"gsa": gsa, "agency": admin, "employee": employee_user},
        "values": {
            "agency": department.slug,
            "office_id": office.pk,
            "pool": Allocation.objects.filter(program=program, agency=department).get().uuid,
            "program": program.slug,
            "program_id": program.pk,
            "person": person.uuid,
            "job": job.uuid,
            "email_prefix": sample.email.split(".")[0] + "." + sample.email.split(".")[1][:3],
            "name_prefix": sample.family_name[:4],
        },
        "department": department,
    }


def client_for(user, who: str):
    from django.test import Client

    if who.startswith("api-"):
        from audit.actors import Actor
        from core.api_tokens import api_token_create

        issued = api_token_create(
            user=user, name="bench pages", actor=Actor.system("bench pages"), expires_in_days=1
        )
        return Client(SERVER_NAME="localhost", HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    client = Client(SERVER_NAME="localhost")
    if who == "employee":
        client.force_login(user)
        return client
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())
    client.force_login(user)
    session = client.session
    session["account_authentication_methods_user"] = str(user.pk)
    session["account_authentication_methods"] = [{"method": "mfa", "at": 0, "type": "totp"}]
    session.save()
    return client


def measure(client, page: Page, url: str, repeat: int = 3) -> Measured:
    """Open the page ``repeat`` times (the first warms caches); the median time, the last SQL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            times.append(time.perf_counter() - started)
    return Measured(
        page=page,
        url=url,
        status=response.status_code,
        queries=len(ctx.captured_queries),
        seconds=statistics.median(times),
        sql=[q["sql"] for q in ctx.captured_queries],
    )


def measure_all(context: dict | None = None, repeat: int = 3) -> list[Measured]:
    context = context or prepare()
    users = context["users"]
    users = {**users, "api-gsa": users["gsa"], "api-agency": users["agency"]}
    clients = {who: client_for(user, who) for who, user in users.items()}
    found = []
    for page in [*pages(), *api_lists()]:
        url = page.url.format(**context["values"])
        result = measure(clients[page.who], page, url, repeat)
        say(
            f"  {page.label:<48} {result.status} {result.queries:>3} queries {result.seconds * 1000:>8.0f} ms"
        )
        found.append(result)
    return found


def report(results: list[Measured], department) -> str:
    from agencies.models import Employee
    from seats.models import Seat

    lines = [
        "# Portal pages and API lists at full scale",
        "",
        f"{Employee.objects.count():,} employees, {Seat.objects.count():,} seats. Agency pages are opened "
        f"by an administrator of {department.name} ({department.headcount:,} people, the largest). "
        "Median of 3 renders with the Django test client (template rendering included). "
        "Generated by `python -m bench.pages`.",
        "",
        "| page | url | status | queries | budget | within | time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        within = "yes" if r.within_budget else "**no**"
        lines.append(
            f"| {r.page.label} | `{r.url}` | {r.status} | {r.queries} | {r.page.budget} | {within} | "
            f"{r.seconds * 1000:,.0f} ms |"
        )
    return "\n".join(lines) + "\n"


def run() -> list[Result]:
    ensure_scale_database()
    context = prepare()
    results = measure_all(context)
    PAGES_FILE.write_text(report(results, context["department"]))
    over = [r for r in results if not r.within_budget]
    # A bulk export (up to AUDIT_EXPORT_MAX_ROWS rows of CSV) is a download, not a page someone
    # waits on: its time is reported beside the goal, not held to it.
    downloads = [r for r in results if "/export/" in r.url]
    viewed = [r for r in results if r not in downloads]
    slowest = max(viewed, key=lambda r: r.seconds)
    return [
        Result(
            benchmark=f"{len(results)} portal pages and API lists at full scale: query budgets (PostgreSQL)",
            figure=f"{sum(r.within_budget for r in results)}/{len(results)} within budget, "
            f"at most {max(r.queries for r in results)} queries",
            baseline="budget: its count at small scale",
            ratio=max(r.queries / r.page.budget for r in results),
            goal="every page within its budget",
            met=not over,
            note="over budget: " + ", ".join(r.page.label for r in over)
            if over
            else "bench/PAGES.md has each page",
        ),
        Result(
            benchmark=f"{len(results)} portal pages and API lists at full scale: time (PostgreSQL)",
            figure=f"slowest {slowest.seconds * 1000:,.0f} ms ({slowest.page.label})",
            baseline=f"{SLOW_SECONDS * 1000:,.0f} ms",
            ratio=slowest.seconds / SLOW_SECONDS,
            goal=f"every page under {SLOW_SECONDS:.0f} s",
            met=slowest.seconds < SLOW_SECONDS,
            note=f"median page {statistics.median(r.seconds for r in viewed) * 1000:,.0f} ms"
            + "".join(f"; download {r.url}: {r.seconds * 1000:,.0f} ms" for r in downloads),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print the result rows as JSON (bench.run)")
    args = parser.parse_args()
    results = run()
    if args.json:
        emit(results)
    else:
        print(PAGES_FILE.read_text())


if __name__ == "__main__":
    main()
