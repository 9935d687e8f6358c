"""sortBy and sortOrder (RFC 7644 §3.4.2.3) on user and group lists, and paging in that order."""

from __future__ import annotations

import pytest

from tests.provisioning.scim.conftest import create_user, group_body

pytestmark = pytest.mark.django_db

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def names(response) -> list[str]:
    assert response.status_code == 200, response.json_body
    return [r["userName"] for r in response.json_body["Resources"]]


@pytest.fixture
def people(scim):
    """Five users whose names differ in case and repeat, so order, case and ties all show."""
    made = {}
    for email, given, family, display, external in [
        ("carol@examples.gov", "carol", "Zed", "Carol Z", "B-2"),
        ("Alice@examples.gov", "Bob", "young", "alice y", "a-1"),
        ("bob@examples.gov", "alice", "Young", None, "A-1"),
        ("dave@examples.gov", "Dave", "Young", "Dave", ""),
        ("erin@examples.gov", "", "Xu", "erin", "C-3"),
    ]:
        extra = {"name": {"givenName": given, "familyName": family} if given else {"familyName": family}}
        if display:
            extra["displayName"] = display
        if external:
            extra["externalId"] = external
        made[email.lower()] = create_user(scim, email, **extra)
    return made


def test_user_name_sorts_without_regard_to_case_both_ways(scim, people):
    ascending = names(scim.get("Users", sortBy="userName"))
    descending = names(scim.get("Users", sortBy="userName", sortOrder="descending"))

    expected = ["alice@", "bob@", "carol@", "dave@", "erin@"]
    assert [n.split("examples")[0] for n in ascending] == expected
    assert descending == list(reversed(ascending))


def test_sort_order_defaults_to_ascending_and_is_read_without_regard_to_case(scim, people):
    assert names(scim.get("Users", sortBy="userName")) == names(
        scim.get("Users", sortBy="urn:ietf:params:scim:schemas:core:2.0:User:USERNAME", sortOrder="Ascending")
    )


def test_equal_family_names_keep_one_order_across_pages(scim, people):
    """Three Youngs (in three spellings of case): ties break on creation, on every page."""
    whole = names(scim.get("Users", sortBy="name.familyName"))
    paged = []
    for start in range(1, 6, 2):
        paged += names(scim.get("Users", sortBy="name.familyName", startIndex=start, count=2))

    assert whole == [
        "erin@examples.gov",
        "alice@examples.gov",
        "bob@examples.gov",
        "dave@examples.gov",
        "carol@examples.gov",
    ]
    assert paged == whole
    descending = names(scim.get("Users", sortBy="name.familyName", sortOrder="descending"))
    assert descending == list(reversed(whole))


def test_missing_values_come_last_ascending_and_first_descending(scim, people):
    """erin has no givenName, bob no displayName, dave no externalId."""
    by_given = names(scim.get("Users", sortBy="name.givenName"))
    by_display = names(scim.get("Users", sortBy="displayName", sortOrder="descending"))
    by_external = names(scim.get("Users", sortBy="externalId"))

    assert by_given == [
        "bob@examples.gov",  # alice
        "alice@examples.gov",  # Bob
        "carol@examples.gov",
        "dave@examples.gov",
        "erin@examples.gov",
    ]
    assert by_display[0] == "bob@examples.gov"
    assert by_display[1:] == [
        "erin@examples.gov",
        "dave@examples.gov",
        "carol@examples.gov",
        "alice@examples.gov",
    ]
    # externalId is case-exact: "A-1" < "B-2" < "C-3" < "a-1", and the one without comes last.
    assert by_external == [
        "bob@examples.gov",
        "carol@examples.gov",
        "erin@examples.gov",
        "alice@examples.gov",
        "dave@examples.gov",
    ]


def test_active_and_dates_sort(scim, people):
    scim.patch(
        f"Users/{people['carol@examples.gov']['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
    )

    by_active = names(scim.get("Users", sortBy="active"))
    by_created = names(scim.get("Users", sortBy="meta.created", sortOrder="descending"))
    by_modified = names(scim.get("Users", sortBy="meta.lastModified", sortOrder="descending"))

    assert by_active[0] == "carol@examples.gov"
    assert by_created == [
        "erin@examples.gov",
        "dave@examples.gov",
        "bob@examples.gov",
        "alice@examples.gov",
        "carol@examples.gov",
    ]
    assert by_modified[0] == "carol@examples.gov"


def test_a_search_sorts_and_filters_together(scim, people):
    response = scim.post(
        "Users/.search",
        {
            "schemas": [SEARCH],
            "filter": 'name.familyName eq "young"',
            "sortBy": "userName",
            "sortOrder": "descending",
        },
    )

    assert names(response) == ["dave@examples.gov", "bob@examples.gov", "alice@examples.gov"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"sortBy": "emails"}, "Sorting by emails is not supported"),
        ({"sortBy": "nickName"}, "Sort by one of: userName"),
        ({"sortBy": "userName", "sortOrder": "sideways"}, "sortOrder is ascending or descending"),
        ({"sortBy": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"}, "not supported"),
    ],
)
def test_an_attribute_that_does_not_sort_is_invalid_value(scim, people, params, detail):
    response = scim.get("Users", **params)

    assert response.status_code == 400
    assert response.json_body["scimType"] == "invalidValue" and response.json_body["status"] == "400"
    assert detail in response.json_body["detail"]


def test_groups_sort_by_display_name_without_regard_to_case(scim):
    for name in ["beta", "Alpha", "gamma", "alpha"]:
        scim.post("Groups", group_body(name))

    ascending = scim.get("Groups", sortBy="displayName")
    descending = scim.post(
        "Groups/.search", {"schemas": [SEARCH], "sortBy": "displayName", "sortOrder": "descending"}
    )
    bad = scim.get("Groups", sortBy="members")

    assert [g["displayName"] for g in ascending.json_body["Resources"]] == ["Alpha", "alpha", "beta", "gamma"]
    assert [g["displayName"] for g in descending.json_body["Resources"]] == [
        "gamma",
        "beta",
        "alpha",
        "Alpha",
    ]
    assert bad.status_code == 400 and bad.json_body["scimType"] == "invalidValue"


def test_the_root_search_refuses_a_sort_across_resource_types(scim, people):
    response = scim.post("/scim/v2/.search", {"schemas": [SEARCH], "sortBy": "displayName"})

    assert response.status_code == 400 and response.json_body["scimType"] == "invalidValue"


def test_only_the_tokens_agency_is_sorted(scim, other_scim, people):
    create_user(other_scim, "aaron@elsewhere.gov")

    listed = names(scim.get("Users", sortBy="userName"))

    assert "aaron@elsewhere.gov" not in listed and len(listed) == 5


@pytest.mark.parametrize("sort_by", ["displayName", "meta.lastModified", "userName"])
@pytest.mark.parametrize("count", [1, 4])
def test_sorted_pages_take_the_same_fixed_number_of_queries(
    scim, people, django_assert_num_queries, sort_by, count
):
    from tests.provisioning.scim.test_queries import GROUP_PAGE_QUERIES, USER_PAGE_QUERIES

    for name in ["b", "a", "c"]:
        scim.post("Groups", group_body(name))
    with django_assert_num_queries(USER_PAGE_QUERIES):
        users = scim.get("Users", sortBy=sort_by, count=count, startIndex=2)
    with django_assert_num_queries(GROUP_PAGE_QUERIES):
        groups = scim.get("Groups", sortBy="displayName", count=count - 1 or 1, startIndex=2)

    assert users.json_body["itemsPerPage"] == count and users.json_body["totalResults"] == 5
    assert groups.json_body["totalResults"] == 3
