"""Every list answers in a fixed number of queries, however many rows it pages through."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import Employee, RoleAssignment
from agencies.services import agency_domain_add, role_assign
from billing.services import renewal_request
from core.api_tokens import api_token_create
from provisioning.scim.tokens import scim_token_create
from seats.services import seat_claim
from tests.api.conftest import SYSTEM
from tests.factories import AgencyFactory, AllocationFactory, ProgramFactory, UserFactory

# Path: queries for one page, as a GSA administrator with a token (token lookup and role lookup
# included). A number moving here means a list started to cost more: find out why before updating.
LISTS = {
    "/api/v1/tokens/": 2,
    "/api/v1/agencies/": 3,
    "/api/v1/domains/": 3,
    "/api/v1/employees/": 3,
    "/api/v1/role-assignments/": 3,
    "/api/v1/programs/": 2,
    "/api/v1/allocations/": 3,
    "/api/v1/seats/": 3,
    "/api/v1/reports/utilization/": 5,
    "/api/v1/scim-tokens/": 3,
    "/api/v1/renewal-orders/": 3,
    "/api/v1/audit-events/": 3,
    "/api/v1/audit-events/export/": 3,
}
AGENCY_ADMIN_LISTS = {
    "/api/v1/employees/?agency=doe-x": 5,
    "/api/v1/seats/": 5,  # + the ids of the pools in scope (see SeatQuerySet.visible_to)
    "/api/v1/audit-events/": 5,  # + the ids of the agencies in scope (Scope.filter_by_agency_ids)
}


def grow(world, rounds: int = 6) -> None:
    """More of every listed thing, in the department and elsewhere."""
    pool = world.pool
    for n in range(rounds):
        bureau = AgencyFactory(parent=world.department, slug=f"office-{n}")
        person = Employee.objects.create(
            agency=bureau if n % 2 else world.department,
            email=f"grown{n}@examples.gov",
            source=Employee.Source.MANUAL,
        )
        seat_claim(allocation=pool, employee=person, actor=SYSTEM)
        agency_domain_add(agency=bureau, domain=f"office{n}.examples.mil", actor=SYSTEM)
        user = UserFactory(username=f"grown-staff-{n}")
        role_assign(user=user, role=RoleAssignment.Role.ONBOARDING_STAFF, agency=bureau, actor=SYSTEM)
        scim_token_create(agency=bureau, name=f"IdP {n}", actor=SYSTEM)
        department = AgencyFactory(slug=f"grown-dept-{n}")
        extra = AllocationFactory(program=ProgramFactory(slug=f"grown-{n}"), agency=department, quantity=3)
        renewal_request(allocation=extra, seats=3, actor=SYSTEM)
        AllocationFactory(program=extra.program, agency=world.department, quantity=2)
        for user_key in ("gsa_admin", "agency_admin"):
            api_token_create(user=world.users[user_key], name=f"grown {n}", actor=SYSTEM)


def queries_for(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
        b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("path", sorted(LISTS))
def test_a_list_costs_the_same_queries_with_six_times_the_rows(
    world, bearer, path, django_assert_num_queries
):
    client = bearer(world.users["gsa_admin"])
    client.get("/api/v1/programs/")  # the token's last_used_at moves once a minute at most: move it now
    assert queries_for(client, path) == LISTS[path]
    grow(world)
    with django_assert_num_queries(LISTS[path]):
        response = client.get(path)
        b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("path", sorted(AGENCY_ADMIN_LISTS))
def test_an_agency_administrators_list_costs_the_same_with_more_rows(
    world, bearer, path, django_assert_num_queries
):
    client = bearer(world.users["agency_admin"])
    client.get("/api/v1/programs/")
    assert queries_for(client, path) == AGENCY_ADMIN_LISTS[path]
    grow(world)
    with django_assert_num_queries(AGENCY_ADMIN_LISTS[path]):
        assert client.get(path).status_code == 200
