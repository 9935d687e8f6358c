"""List pages cost the same number of queries whatever their size."""

from __future__ import annotations

import pytest

from tests.provisioning.scim.conftest import create_user, group_body

pytestmark = pytest.mark.django_db

# Token lookup, the rate-limit counter (on the token row when no shared cache is configured), the
# page, the count (skipped when a first page is not full), and for groups all the page's members.
USER_PAGE_QUERIES = 4
GROUP_PAGE_QUERIES = 5


@pytest.fixture
def population(scim, department, make_employee):
    users = [create_user(scim, f"p{i}@examples.gov", displayName=f"P {i}") for i in range(12)]
    for _ in range(8):
        make_employee(department)  # people from a roster, with no SCIM profile
    for i in range(6):
        scim.post("Groups", group_body(f"G{i}", *[u["id"] for u in users[i : i + 5]]))
    return users


@pytest.mark.parametrize("count", [1, 5, 20])
def test_user_pages_take_a_fixed_number_of_queries(scim, population, django_assert_num_queries, count):
    with django_assert_num_queries(USER_PAGE_QUERIES):
        response = scim.get("Users", count=count)
    assert response.json_body["itemsPerPage"] == count and response.json_body["totalResults"] == 20


@pytest.mark.parametrize("count", [25, 100, 1000])
def test_a_last_page_needs_no_count(scim, population, django_assert_num_queries, count):
    with django_assert_num_queries(USER_PAGE_QUERIES - 1):
        response = scim.get("Users", count=count)
    assert response.json_body["itemsPerPage"] == response.json_body["totalResults"] == 20


@pytest.mark.parametrize("count", [1, 3, 5])
def test_group_pages_with_members_take_a_fixed_number_of_queries(
    scim, population, django_assert_num_queries, count
):
    with django_assert_num_queries(GROUP_PAGE_QUERIES):
        response = scim.get("Groups", count=count)
    assert response.json_body["itemsPerPage"] == count
    assert all(len(g["members"]) == 5 for g in response.json_body["Resources"])


def test_group_pages_without_members_skip_the_member_query(scim, population, django_assert_num_queries):
    with django_assert_num_queries(GROUP_PAGE_QUERIES - 1):
        response = scim.get("Groups", excludedAttributes="members", count=2)
    assert response.json_body["itemsPerPage"] == 2 and response.json_body["totalResults"] == 6


def test_filter_by_user_name_is_one_lookup(scim, population, django_assert_num_queries):
    with django_assert_num_queries(USER_PAGE_QUERIES - 1):
        response = scim.get("Users", filter='userName eq "P3@examples.gov"')
    assert response.json_body["totalResults"] == 1
