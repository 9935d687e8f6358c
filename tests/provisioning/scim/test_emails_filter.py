"""Filters on emails: the work address (userName) and the addresses the IdP sent, without regard to case."""

from __future__ import annotations

import pytest

from tests.provisioning.scim.conftest import create_user

pytestmark = pytest.mark.django_db

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def found(scim, text: str) -> set[str]:
    response = scim.get("Users", filter=text)
    assert response.status_code == 200, response.json_body
    return {r["userName"].split("@")[0] for r in response.json_body["Resources"]}


@pytest.fixture
def people(scim, make_employee, department):
    create_user(
        scim,
        "ada@examples.gov",
        emails=[
            {"value": "Ada.Lovelace@Examples.gov", "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
    )
    create_user(scim, "bob@examples.gov", emails=[{"value": "robert@other.example", "type": "Other"}])
    create_user(scim, "cy@examples.gov")  # the IdP sent no emails
    make_employee(department, email="dee@examples.gov")  # from a roster, no SCIM profile at all


def test_emails_eq_finds_an_address_the_idp_sent_without_regard_to_case(scim, people):
    assert found(scim, 'emails eq "ADA.LOVELACE@examples.GOV"') == {"ada"}
    assert found(scim, 'emails.value eq "ada@HOME.example"') == {"ada"}
    assert found(scim, 'emails.value eq "nobody@examples.gov"') == set()


def test_the_work_address_is_an_email_of_every_user(scim, people):
    assert found(scim, 'emails.value eq "Cy@Examples.gov"') == {"cy"}
    assert found(scim, 'emails eq "dee@examples.gov"') == {"dee"}
    assert found(scim, 'emails[type eq "work"].value eq "dee@examples.gov"') == {"dee"}
    assert found(scim, "emails pr") == {"ada", "bob", "cy", "dee"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('emails.value co "LOVELACE"', {"ada"}),
        ('emails.value sw "ROBERT@"', {"bob"}),
        ('emails.value ew "@examples.gov"', {"ada", "bob", "cy", "dee"}),
        ('emails.value ew ".example"', {"ada", "bob"}),
        ('emails.value sw "d"', {"dee"}),
        ('emails.value co ""', {"ada", "bob", "cy", "dee"}),
    ],
)
def test_contains_starts_and_ends_with(scim, people, text, expected):
    assert found(scim, text) == expected


def test_a_typed_value_filter_matches_within_one_email(scim, people):
    assert found(scim, 'emails[type eq "work"].value eq "ada.lovelace@examples.gov"') == {"ada"}
    # ada has a home address, but not this one: type and value must hold for the same email.
    assert found(scim, 'emails[type eq "home"].value eq "ada.lovelace@examples.gov"') == set()
    assert found(scim, 'emails[type eq "HOME"]') == {"ada"}
    assert found(scim, 'emails[type eq "other" and value co "robert"]') == {"bob"}
    assert found(scim, 'emails[type eq "home" or value sw "robert"]') == {"ada", "bob"}
    assert found(scim, 'emails[not (type eq "work")]') == {"ada", "bob"}
    assert found(scim, 'emails.type eq "home"') == {"ada"}


def test_negations_and_combinations_with_other_attributes(scim, people):
    assert found(scim, 'emails ne "ada@home.example"') == {"bob", "cy", "dee"}
    assert found(scim, 'not (emails co "example")') == set()
    assert found(scim, 'not (emails co "other")') == {"ada", "cy", "dee"}
    assert found(scim, 'userName sw "b" or emails co "home"') == {"ada", "bob"}
    assert found(scim, 'emails co "examples.gov" and not (emails co "other")') == {"ada", "cy", "dee"}


def test_a_search_filters_on_emails_too(scim, people):
    response = scim.post(
        "Users/.search", {"schemas": [SEARCH], "filter": 'emails[type eq "home"].value ew "HOME.EXAMPLE"'}
    )

    assert [r["userName"] for r in response.json_body["Resources"]] == ["ada@examples.gov"]


@pytest.mark.parametrize(
    "text",
    [
        'emails.value gt "a"',
        "emails.primary eq true",
        'emails[display eq "x"]',
        "emails.value eq 3",
        'emails[type eq "work"].display eq "x"',
    ],
)
def test_what_emails_cannot_be_filtered_on_is_refused(scim, people, text):
    response = scim.get("Users", filter=text)

    assert response.status_code == 400 and response.json_body["scimType"] == "invalidFilter"


def test_emails_never_find_a_user_of_another_agency(scim, other_scim, people):
    create_user(
        other_scim,
        "bea@elsewhere.gov",
        emails=[
            {"value": "shared@home.example", "type": "home"},
            {"value": "ada@home.example", "type": "work"},
        ],
    )

    assert found(scim, 'emails eq "ada@home.example"') == {"ada"}
    assert found(scim, 'emails eq "shared@home.example"') == set()
    assert found(scim, 'emails eq "bea@elsewhere.gov"') == set()
    assert found(scim, 'emails[type eq "home"]') == {"ada"}
    assert {
        r["userName"]
        for r in other_scim.get("Users", filter='emails eq "ada@home.example"').json_body["Resources"]
    } == {"bea@elsewhere.gov"}


def test_a_deleted_users_emails_find_nothing(scim, people):
    ada = scim.get("Users", filter='userName eq "ada@examples.gov"').json_body["Resources"][0]
    scim.delete(f"Users/{ada['id']}")

    assert found(scim, 'emails eq "ada@home.example"') == set()


def test_malformed_stored_emails_are_no_match_rather_than_an_error(scim, people):
    """Rows written before validation was strict: a non-list, and elements that are not objects."""
    from provisioning.scim.models import ScimProfile

    ScimProfile.objects.filter(employee__email="bob@examples.gov").update(emails={"value": "x@y.example"})
    ScimProfile.objects.filter(employee__email="cy@examples.gov").update(emails=["cy@plain.example", 7, None])

    assert found(scim, 'emails eq "x@y.example"') == set()
    assert found(scim, 'emails co "plain"') == set()
    assert found(scim, 'emails eq "ada@home.example"') == {"ada"}


def test_an_emails_filter_is_one_query_for_the_page(scim, people, django_assert_num_queries):
    from tests.provisioning.scim.test_queries import USER_PAGE_QUERIES

    with django_assert_num_queries(USER_PAGE_QUERIES - 1):
        response = scim.get("Users", filter='emails[type eq "work"].value eq "ada.lovelace@examples.gov"')
    assert response.json_body["totalResults"] == 1
