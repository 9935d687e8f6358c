"""SCIM Users: create, read, filter, page, project, replace, patch; errors in the SCIM shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agencies.models import Employee
from audit.models import AuditEvent
from provisioning.scim.models import ScimProfile
from provisioning.scim.resources import ENTERPRISE_SCHEMA
from tests.factories import AgencyDomainFactory, AgencyFactory
from tests.provisioning.scim.conftest import patch_body, user_body

pytestmark = pytest.mark.django_db


def create(scim, email, **extra):
    response = scim.post("Users", user_body(email, **extra))
    assert response.status_code == 201, response.json_body
    return response.json_body


def test_create_answers_201_with_location_and_the_stored_user(scim, department):
    response = scim.post(
        "Users", user_body("Grace.Hopper@Examples.gov", externalId="00uABC", displayName="Grace")
    )

    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json_body
    assert response["Location"] == body["meta"]["location"] == f"http://seats.test/scim/v2/Users/{body['id']}"
    assert body["userName"] == "grace.hopper@examples.gov"
    assert body["externalId"] == "00uABC" and body["displayName"] == "Grace" and body["active"] is True
    employee = Employee.objects.get(uuid=body["id"])
    assert employee.source == Employee.Source.SCIM and employee.agency == department


def test_every_write_is_audited_with_the_token_name_as_actor(scim):
    user = create(scim, "ada@examples.gov", displayName="Ada")
    scim.patch(
        f"Users/{user['id']}", patch_body({"op": "replace", "path": "name.givenName", "value": "Augusta"})
    )
    events = AuditEvent.objects.filter(verb__in=["employee.create", "scim.user.profile", "employee.update"])
    assert {e.verb for e in events} == {"employee.create", "scim.user.profile", "employee.update"}
    assert {(e.actor_label, e.actor_kind) for e in events} == {("Entra ID production", "token")}


def test_a_duplicate_user_name_in_any_case_is_409_uniqueness(scim):
    create(scim, "ada@examples.gov")
    response = scim.post("Users", user_body("ADA@examples.GOV"))
    assert response.status_code == 409
    assert response.json_body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409",
        "scimType": "uniqueness",
        "detail": response.json_body["detail"],
    }
    assert 'userName eq "ada@examples.gov"' in response.json_body["detail"]


@pytest.mark.parametrize(
    "user_name, words",
    [
        ("not-an-email", "is not an email address"),
        ("ada@unknown.gov", "not a verified email domain"),
        ("ada@elsewhere.gov", "not to Department of Examples"),
    ],
)
def test_a_user_name_off_the_agencys_domains_is_400_invalid_value(scim, other_department, user_name, words):
    response = scim.post("Users", user_body(user_name))
    assert response.status_code == 400
    assert response.json_body["scimType"] == "invalidValue" and words in response.json_body["detail"]
    assert not Employee.objects.exists()


def test_missing_user_name_and_bad_json_are_refused_in_scim_shape(scim):
    missing = scim.post("Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    assert missing.status_code == 400 and missing.json_body["status"] == "400"
    broken = scim.client.post(
        "/scim/v2/Users", "{not json", content_type="application/scim+json", **scim.headers
    )
    assert broken.status_code == 400 and b"invalidSyntax" in broken.content


def test_attributes_outside_the_schema_are_ignored_not_refused(scim):
    user = create(
        scim,
        "ada@examples.gov",
        password="hunter2-hunter2",
        locale="en-US",
        title="Analyst",
        phoneNumbers=[{"value": "555-0100", "type": "work"}],
        name={"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace", "middleName": "B"},
    )
    assert "password" not in user and "title" not in user
    assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace"}


def test_get_unknown_or_malformed_ids_is_404(scim):
    for user_id in ("2819c223-7f76-453a-919d-413861904646", "not-a-uuid"):
        response = scim.get(f"Users/{user_id}")
        assert response.status_code == 404 and response.json_body["status"] == "404"


class TestFilters:
    @pytest.fixture
    def people(self, scim):
        return {
            "ada": create(
                scim, "ada@examples.gov", externalId="ExtA", name={"givenName": "Ada", "familyName": "L"}
            ),
            "alan": create(
                scim, "alan@examples.gov", externalId="exta", name={"givenName": "Alan", "familyName": "T"}
            ),
            "grace": create(
                scim, "grace@examples.gov", active=False, name={"givenName": "Grace", "familyName": "H"}
            ),
        }

    def names(self, scim, text):
        response = scim.get("Users", filter=text)
        assert response.status_code == 200, response.json_body
        return sorted(r["userName"].split("@")[0] for r in response.json_body["Resources"])

    @pytest.mark.parametrize(
        "text, expected",
        [
            ('userName eq "ADA@examples.gov"', ["ada"]),
            ('username EQ "ada@examples.gov"', ["ada"]),
            ('userName ne "ada@examples.gov"', ["alan", "grace"]),
            ('userName co "A"', ["ada", "alan", "grace"]),
            ('userName sw "al"', ["alan"]),
            ('userName ew "examples.gov"', ["ada", "alan", "grace"]),
            ('externalId eq "ExtA"', ["ada"]),
            ('externalId eq "exta"', ["alan"]),
            ("externalId pr", ["ada", "alan"]),
            ("active eq false", ["grace"]),
            ('active eq "True"', ["ada", "alan"]),
            ('name.givenName eq "grace"', ["grace"]),
            ('name.givenName sw "a" and not (name.familyName eq "t")', ["ada"]),
            ('userName eq "ada@examples.gov" or userName eq "grace@examples.gov"', ["ada", "grace"]),
            ('meta.created gt "2000-01-01T00:00:00Z"', ["ada", "alan", "grace"]),
            ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
            ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alan@examples.gov"', ["alan"]),
        ],
    )
    def test_filters_select_in_the_database(self, scim, people, text, expected):
        assert self.names(scim, text) == expected

    def test_last_modified_filters_by_the_time_rendered_the_later_of_person_and_profile(self, scim, people):
        # Ada's employee row is old, but the IdP changed her profile since; Alan is old throughout.
        old, cut, new = (datetime(2020, 1, day, tzinfo=UTC) for day in (1, 2, 3))
        Employee.objects.filter(email__in=["ada@examples.gov", "alan@examples.gov"]).update(updated_at=old)
        ScimProfile.objects.filter(employee__email="alan@examples.gov").update(updated_at=old)
        ScimProfile.objects.filter(employee__email="ada@examples.gov").update(updated_at=new)
        ada = scim.get(f"Users/{people['ada']['id']}").json_body
        assert ada["meta"]["lastModified"].startswith("2020-01-03")
        assert self.names(scim, f'meta.lastModified gt "{cut.isoformat()}"') == ["ada", "grace"]
        assert self.names(scim, f'meta.lastModified lt "{cut.isoformat()}"') == ["alan"]
        assert self.names(scim, f'meta.lastModified eq "{new.isoformat()}"') == ["ada"]
        assert self.names(scim, f'meta.lastModified ne "{new.isoformat()}"') == ["alan", "grace"]

    def test_enterprise_attributes_filter(self, scim, people):
        scim.patch(
            f"Users/{people['ada']['id']}",
            patch_body({"op": "add", "path": f"{ENTERPRISE_SCHEMA}:employeeNumber", "value": "E-42"}),
        )
        assert self.names(scim, f'{ENTERPRISE_SCHEMA}:employeeNumber eq "E-42"') == ["ada"]

    def test_id_filter_and_an_id_that_is_not_ours(self, scim, people):
        assert self.names(scim, f'id eq "{people["alan"]["id"]}"') == ["alan"]
        assert self.names(scim, 'id eq "nope"') == []

    @pytest.mark.parametrize(
        "text, words",
        [
            ('title eq "x"', "not supported"),
            ("emails.primary eq true", "not supported"),
            ("userName eq", "could not be read"),
            ("active gt true", "active compares"),
            ('meta.created gt "yesterday"', "not a date"),
            ("userName eq 5", "string"),
        ],
    )
    def test_filters_it_cannot_answer_are_400_invalid_filter(self, scim, people, text, words):
        response = scim.get("Users", filter=text)
        assert response.status_code == 400
        assert response.json_body["scimType"] == "invalidFilter" and words in response.json_body["detail"]


def test_paging_with_start_index_and_count(scim):
    ids = [create(scim, f"p{i}@examples.gov")["id"] for i in range(5)]
    page = scim.get("Users", startIndex=2, count=2).json_body
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    assert scim.get("Users", count=0).json_body["Resources"] == []
    assert scim.get("Users", startIndex=9).json_body["Resources"] == []
    assert scim.get("Users", startIndex=0, count=-3).json_body["itemsPerPage"] == 0
    assert scim.get("Users", count="many").status_code == 400


def test_attributes_and_excluded_attributes(scim):
    user = create(scim, "ada@examples.gov", externalId="x1", **{ENTERPRISE_SCHEMA: {"employeeNumber": "7"}})
    only = scim.get(f"Users/{user['id']}", attributes="userName,name.familyName").json_body
    assert only == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": user["id"],
        "userName": "ada@examples.gov",
        "name": {"familyName": "Lovelace"},
    }
    without = scim.get("Users", excludedAttributes=f"name,{ENTERPRISE_SCHEMA}").json_body["Resources"][0]
    assert (
        "name" not in without
        and ENTERPRISE_SCHEMA not in without
        and ENTERPRISE_SCHEMA not in without["schemas"]
    )
    assert without["externalId"] == "x1"
    both = scim.get("Users", attributes="userName", excludedAttributes="name")
    assert both.status_code == 400


def test_search_by_post(scim):
    create(scim, "ada@examples.gov")
    create(scim, "alan@examples.gov")
    response = scim.post(
        "Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "ada"',
            "attributes": ["userName"],
            "count": 10,
        },
    )
    assert response.status_code == 200
    assert response.json_body["Resources"] == [
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": response.json_body["Resources"][0]["id"],
            "userName": "ada@examples.gov",
        }
    ]


def test_put_replaces_the_user_and_clears_what_it_leaves_out(scim):
    user = create(scim, "ada@examples.gov", externalId="x1", displayName="Ada")
    response = scim.put(
        f"Users/{user['id']}", user_body("ada.king@examples.gov", name={"givenName": "Augusta"})
    )
    body = response.json_body
    assert response.status_code == 200
    assert body["userName"] == "ada.king@examples.gov" and body["name"] == {"givenName": "Augusta"}
    assert "externalId" not in body and "displayName" not in body and body["id"] == user["id"]
    assert AuditEvent.objects.filter(verb="employee.email").count() == 1


def test_an_address_taken_by_someone_else_is_409(scim):
    create(scim, "ada@examples.gov")
    alan = create(scim, "alan@examples.gov")
    response = scim.patch(
        f"Users/{alan['id']}", patch_body({"op": "replace", "path": "userName", "value": "ada@examples.gov"})
    )
    assert response.status_code == 409 and response.json_body["scimType"] == "uniqueness"
    assert Employee.objects.filter(email="alan@examples.gov").exists()


class TestPlacement:
    def test_division_and_department_place_the_person_in_the_tree(self, scim, department, bureau):
        office = AgencyFactory(
            parent=bureau, name="Office of Measurements", abbreviation="OOM", kind="office"
        )
        user = create(
            scim,
            "ada@examples.gov",
            **{
                ENTERPRISE_SCHEMA: {
                    "organization": "Department of Examples",
                    "division": "bureau of samples",
                    "department": "OOM",
                }
            },
        )
        assert Employee.objects.get(uuid=user["id"]).agency == office
        assert user[ENTERPRISE_SCHEMA]["division"] == "bureau of samples"

    def test_a_move_follows_a_changed_division(self, scim, department, bureau):
        user = create(scim, "ada@examples.gov")
        assert Employee.objects.get(uuid=user["id"]).agency == department
        scim.patch(
            f"Users/{user['id']}",
            patch_body({"op": "add", "path": f"{ENTERPRISE_SCHEMA}:division", "value": "Bureau of Samples"}),
        )
        assert Employee.objects.get(uuid=user["id"]).agency == bureau

    def test_the_address_domain_places_a_person_when_the_idp_says_nothing(self, scim, bureau):
        user = create(scim, "ada@samples.gov")
        assert Employee.objects.get(uuid=user["id"]).agency == bureau

    def test_names_that_match_nothing_are_kept_and_noted_never_matched_elsewhere(self, scim, department):
        elsewhere = AgencyFactory(name="Bureau Far Away", slug="far")
        AgencyDomainFactory(agency=elsewhere, domain="far.gov")
        user = create(scim, "ada@examples.gov", **{ENTERPRISE_SCHEMA: {"division": "Bureau Far Away"}})
        employee = Employee.objects.get(uuid=user["id"])
        assert employee.agency == department
        assert "division “Bureau Far Away” match no agency under Department of Examples" in (
            ScimProfile.objects.get(employee=employee).placement_note
        )
        assert user[ENTERPRISE_SCHEMA] == {"division": "Bureau Far Away"}


def test_unknown_endpoints_and_methods_answer_scim_errors(scim):
    missing = scim.get("Nothing/here")
    assert missing.status_code == 404 and missing.json_body["schemas"] == [
        "urn:ietf:params:scim:api:messages:2.0:Error"
    ]
    not_allowed = scim.post("ServiceProviderConfig", {})
    assert not_allowed.status_code == 405 and not_allowed.json_body["status"] == "405"


def test_discovery_describes_what_is_stored(scim):
    config = scim.get("ServiceProviderConfig").json_body
    assert config["patch"]["supported"] and config["filter"] == {"supported": True, "maxResults": 1000}
    assert not config["bulk"]["supported"]
    assert config["sort"]["supported"] and config["etag"]["supported"]
    types = {t["id"]: t for t in scim.get("ResourceTypes").json_body["Resources"]}
    assert types["User"]["schemaExtensions"] == [{"schema": ENTERPRISE_SCHEMA, "required": False}]
    user_schema = scim.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json_body
    assert {a["name"] for a in user_schema["attributes"]} == {
        "userName",
        "name",
        "displayName",
        "emails",
        "active",
    }
    assert scim.get("Schemas/urn:nope").status_code == 404
