"""The query budgets bench/pages.py holds every page to at full scale (2.29M people, 1.37M seats)
are the counts the same pages make here, on a handful of rows, opened by the same people: so a
page within its budget there costs no more queries at national scale than in a test."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import RoleAssignment
from agencies.services import role_assign, roster_import_create
from audit.actors import Actor
from bench.pages import client_for, pages
from seats.services import allocation_split

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def opened(
    settings, tmp_path, department, bureau, program, pool, employee, employee_user, make_employee, claim
):
    """A small agency with every kind of row the pages list, and who opens each page."""
    settings.MEDIA_ROOT = tmp_path
    department.claims_require_approval = True
    department.save()
    claim(pool, employee)
    claim(pool, make_employee(bureau))
    allocation_split(parent=pool, agency=bureau, quantity=2, actor=ACTOR)
    job = roster_import_create(
        agency=department,
        upload=SimpleUploadedFile("r.csv", b"email\nnew.person@examples.gov\nnot-an-email\n"),
        actor=ACTOR,
        background=False,
    )
    from tests.factories import UserFactory

    gsa = UserFactory(username="budget-gsa", is_staff=True)
    role_assign(user=gsa, role=RoleAssignment.Role.GSA_ADMIN, actor=ACTOR)
    admin = UserFactory(username="budget-admin")
    role_assign(user=admin, role=RoleAssignment.Role.AGENCY_ADMIN, agency=department, actor=ACTOR)
    values = {
        "agency": department.slug,
        "office_id": bureau.pk,
        "pool": pool.uuid,
        "program": program.slug,
        "program_id": program.pk,
        "person": employee.uuid,
        "job": job.uuid,
        "email_prefix": "ada.lov",
        "name_prefix": "Love",
    }
    users = {"gsa": gsa, "agency": admin, "employee": employee_user}
    return values, users


@pytest.mark.parametrize("page", pages(), ids=lambda page: page.label)
def test_each_page_makes_the_queries_its_full_scale_budget_allows(opened, page):
    values, users = opened
    client = client_for(users[page.who], page.who)
    url = page.url.format(**values)
    client.get(url)  # the first visit may fill caches (the menu, the second factor)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    assert len(ctx.captured_queries) == page.budget, [q["sql"][:120] for q in ctx.captured_queries]
