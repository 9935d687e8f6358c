"""Every page with a table or a chart makes the same number of queries for one row as for many."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.services import roster_import_create
from audit.actors import Actor
from seats.services import allocation_split, waitlist_join
from tests.conftest import complete_mfa
from tests.factories import AgencyFactory, AllocationFactory, EmployeeFactory, ProgramFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")

PAGES = [
    "/gsa/",
    "/gsa/programs/",
    "/gsa/programs/chatgpt-onegov/",
    "/gsa/pools/{pool}/",
    "/gsa/audit/",
    "/agencies/",
    "/agencies/doe-x/",
    "/agencies/doe-x/pools/",
    "/agencies/doe-x/roster/",
    "/agencies/doe-x/roster/{person}/",
    "/agencies/doe-x/approvals/",
    "/agencies/doe-x/waitlist/",
    "/agencies/doe-x/imports/",
    "/agencies/doe-x/imports/{job}/",
    "/agencies/doe-x/domains/",
    "/agencies/doe-x/reports/",
    "/agencies/doe-x/audit/",
    "/",
]


@pytest.fixture
def grow(department, bureau, program, pool, claim, settings, tmp_path):
    """Adds one more of every row the pages list: pools, bureau pools, seats, claims waiting,
    people waiting, imports with problems, domains, audit events, programs."""
    settings.MEDIA_ROOT = tmp_path
    department.claims_require_approval = True
    department.save()
    state = {"n": 0}

    def more(times: int = 1) -> None:
        for _ in range(times):
            n = state["n"] = state["n"] + 1
            ProgramFactory()
            AllocationFactory(program=program, agency=AgencyFactory(slug=f"other-{n}"))
            office = AgencyFactory(parent=department, slug=f"office-{n}", name=f"Office {n}")
            allocation_split(parent=pool, agency=office, quantity=1, actor=ACTOR)
            person = EmployeeFactory(agency=department, email=f"grown{n}@examples.gov")
            pool.refresh_from_db()
            claim(pool, person)
            full = AllocationFactory(program=ProgramFactory(), agency=department, quantity=0)
            waitlist_join(allocation=full, employee=person, actor=ACTOR)
            roster_import_create(
                agency=department,
                upload=SimpleUploadedFile("r.csv", f"email\nx{n}@examples.gov\n".encode()),
                actor=ACTOR,
                background=False,
            )
            from agencies.services import agency_domain_add

            agency_domain_add(agency=department, domain=f"grown{n}.mil", actor=ACTOR)

    return more


@pytest.mark.parametrize("url", PAGES)
def test_a_page_costs_the_same_for_one_row_or_many(
    client, gsa_admin, employee, employee_user, pool, grow, url
):
    from agencies.models import RosterImport

    grow(1)
    job = RosterImport.objects.first()
    url = url.format(pool=pool.uuid, person=employee.uuid, job=job.uuid)
    user = employee_user if url == "/" else gsa_admin
    complete_mfa(client, user)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    one = count()
    grow(4)
    assert count() == one
