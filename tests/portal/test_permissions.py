"""The permission matrix: every portal URL for anonymous visitors, people with no role, another
agency's administrator, onboarding staff and the right role. Outsiders get 404, never 403."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agencies.models import AgencyDomain
from agencies.services import agency_domain_add, roster_import_create
from audit.actors import Actor
from tests.conftest import complete_mfa
from tests.factories import AllocationFactory

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    "agencies:overview",
    "agencies:roster",
    "agencies:employee_add",
    "agencies:employee",
    "agencies:approvals",
    "agencies:waitlist",
    "agencies:seat_revoke",
    "agencies:seat_reassign",
    "agencies:imports",
    "agencies:import_sample",
    "agencies:import",
    "agencies:import_progress",
    "agencies:reports",
    "agencies:audit",
]
ADMIN_PAGES = [
    "agencies:pools",
    "agencies:pool_split",
    "agencies:pool_resize",
    "agencies:domains",
    "agencies:policy",
]
GSA_PAGES = [
    "gsa:dashboard",
    "gsa:export",
    "gsa:programs",
    "gsa:program_create",
    "gsa:program",
    "gsa:program_edit",
    "gsa:allocate",
    "gsa:pool",
    "gsa:pool_resize",
    "gsa:pool_renew",
    "gsa:audit",
]


@pytest.fixture
def world(department, bureau, pool, employee, claim, settings, tmp_path):
    """One of everything a URL can name, all inside ``department``."""
    settings.MEDIA_ROOT = tmp_path
    seat = claim(pool, employee)
    bureau_pool = AllocationFactory(program=pool.program, agency=bureau, parent=pool, quantity=2)
    pool.reserved_for_children = 2
    pool.save()
    upload = SimpleUploadedFile("roster.csv", b"email\nnew.person@examples.gov\n")
    roster_import = roster_import_create(
        agency=department, upload=upload, actor=Actor.system("test"), background=False
    )
    return {
        "slug": department.slug,
        "pool": pool,
        "bureau_pool": bureau_pool,
        "seat": seat,
        "employee": employee,
        "import": roster_import,
        "program": pool.program,
    }


def url_for(name: str, world: dict) -> str:
    from django.urls import reverse

    slug = world["slug"]
    by_name = {
        "agencies:employee": [slug, world["employee"].uuid],
        "agencies:seat_revoke": [slug, world["seat"].uuid],
        "agencies:seat_reassign": [slug, world["seat"].uuid],
        "agencies:import": [slug, world["import"].uuid],
        "agencies:import_progress": [slug, world["import"].uuid],
        "agencies:pool_split": [slug, world["pool"].uuid],
        "agencies:pool_resize": [slug, world["bureau_pool"].uuid],
        "gsa:program": [world["program"].slug],
        "gsa:program_edit": [world["program"].slug],
        "gsa:pool": [world["pool"].uuid],
        "gsa:pool_resize": [world["pool"].uuid],
        "gsa:pool_renew": [world["pool"].uuid],
    }
    if name in by_name:
        return reverse(name, args=by_name[name])
    if name.startswith("agencies:") and name != "agencies:index":
        return reverse(name, args=[slug])
    return reverse(name)


def status(client, user, url: str) -> int:
    if user is not None:
        complete_mfa(client, user)
    return client.get(url).status_code


@pytest.mark.parametrize("name", STAFF_PAGES + ADMIN_PAGES + GSA_PAGES + ["agencies:index"])
def test_anonymous_visitors_are_sent_to_sign_in(client, world, name):
    response = client.get(url_for(name, world))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", STAFF_PAGES + ADMIN_PAGES + GSA_PAGES + ["agencies:index"])
def test_people_without_a_staff_role_get_404(client, world, nobody, name):
    assert status(client, nobody, url_for(name, world)) == 404


@pytest.mark.parametrize("name", STAFF_PAGES + ADMIN_PAGES + GSA_PAGES)
def test_employees_signed_in_through_their_idp_get_404_on_staff_pages(client, world, employee_user, name):
    assert status(client, employee_user, url_for(name, world)) == 404


@pytest.mark.parametrize("name", STAFF_PAGES + ADMIN_PAGES + GSA_PAGES)
def test_another_agencys_administrator_gets_404(client, world, outsider_admin, name):
    assert status(client, outsider_admin, url_for(name, world)) == 404


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_onboarding_staff_open_staff_pages(client, world, onboarding_staff, name):
    assert status(client, onboarding_staff, url_for(name, world)) == 200


@pytest.mark.parametrize("name", ADMIN_PAGES + GSA_PAGES)
def test_onboarding_staff_cannot_open_pool_domain_or_policy_pages(client, world, onboarding_staff, name):
    assert status(client, onboarding_staff, url_for(name, world)) == 404


@pytest.mark.parametrize("name", STAFF_PAGES + ADMIN_PAGES)
def test_agency_administrators_open_every_agency_page(client, world, agency_admin, name):
    assert status(client, agency_admin, url_for(name, world)) == 200


@pytest.mark.parametrize("name", GSA_PAGES)
def test_agency_administrators_cannot_open_gsa_pages(client, world, agency_admin, name):
    assert status(client, agency_admin, url_for(name, world)) == 404


@pytest.mark.parametrize("name", STAFF_PAGES + ADMIN_PAGES + GSA_PAGES + ["agencies:index"])
def test_gsa_administrators_open_everything(client, world, gsa_admin, name):
    assert status(client, gsa_admin, url_for(name, world)) == 200


def test_a_bureau_administrator_cannot_see_the_department_above(client, world, bureau, department):
    from agencies.models import RoleAssignment
    from tests.factories import RoleAssignmentFactory, UserFactory

    user = UserFactory(username="bureau-admin")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=bureau)
    complete_mfa(client, user)
    assert client.get(f"/agencies/{bureau.slug}/").status_code == 200
    assert client.get(f"/agencies/{department.slug}/").status_code == 404
    # The department's pool seen from the bureau's URL is still not the bureau's.
    assert client.get(f"/agencies/{bureau.slug}/pools/{world['pool'].uuid}/split/").status_code == 404


def test_a_bureau_administrator_cannot_resize_their_own_pool(client, world, bureau):
    """Sizing a bureau pool spends the department's seats: the department's administrators decide."""
    from agencies.models import RoleAssignment
    from tests.factories import RoleAssignmentFactory, UserFactory

    user = UserFactory(username="bureau-admin")
    RoleAssignmentFactory(user=user, role=RoleAssignment.Role.AGENCY_ADMIN, agency=bureau)
    complete_mfa(client, user)
    assert client.get(f"/agencies/{bureau.slug}/pools/{world['bureau_pool'].uuid}/resize/").status_code == 404


def test_a_domain_of_another_agency_cannot_be_verified_from_this_one(
    client, world, outsider_admin, agency_admin
):
    foreign = agency_domain_add(
        agency=outsider_admin.role_assignments.get().agency,
        domain="elsewhere.mil",
        actor=Actor.system("test"),
    )
    complete_mfa(client, agency_admin)
    response = client.post(f"/agencies/{world['slug']}/domains/", {"verify": str(foreign.pk)})
    assert response.status_code == 404
    assert AgencyDomain.objects.get(pk=foreign.pk).verified_at is None
