"""What Okta and Microsoft Entra ID really send, one test per published behaviour or quirk."""

from __future__ import annotations

import pytest

from agencies.models import Employee
from tests.provisioning.scim.conftest import create_user, group_body, patch_body, user_body

pytestmark = pytest.mark.django_db
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class TestOkta:
    """Okta's SCIM 2.0 test suite and provisioning behaviour."""

    def test_lists_users_with_count_and_start_index(self, scim):
        create_user(scim, "ada@examples.gov")
        body = scim.get("Users", count=1, startIndex=1).json_body
        assert body["schemas"] == [LIST]
        assert {"totalResults", "itemsPerPage", "startIndex", "Resources"} <= set(body)
        assert body["itemsPerPage"] == 1 and body["Resources"][0]["userName"] == "ada@examples.gov"

    def test_an_unknown_user_name_gives_an_empty_list_not_an_error(self, scim):
        body = scim.get("Users", filter='userName eq "nobody-9f8e@examples.gov"').json_body
        assert body["totalResults"] == 0 and body["Resources"] == []

    def test_creates_with_password_locale_and_groups_and_gets_201(self, scim):
        body = user_body(
            "okta.user@examples.gov",
            emails=[{"primary": True, "value": "okta.user@examples.gov", "type": "work"}],
            displayName="Okta User",
            locale="en-US",
            externalId="00ujl29u0le5T6Aj10h7",
            groups=[],
            password="1mz050nq",
        )
        response = scim.post("Users", body)
        assert response.status_code == 201
        assert response.json_body["active"] is True and response.json_body["emails"][0]["primary"] is True

    def test_a_second_create_is_409_with_a_scim_error(self, scim):
        create_user(scim, "ada@examples.gov")
        response = scim.post("Users", user_body("ada@examples.gov"))
        assert response.status_code == 409 and response.json_body["schemas"] == [ERROR]
        assert response.json_body["status"] == "409"

    def test_finds_the_user_by_user_name_in_another_case(self, scim):
        user = create_user(scim, "ada@examples.gov")
        body = scim.get("Users", filter='userName eq "Ada@Examples.GOV"').json_body
        assert [r["id"] for r in body["Resources"]] == [user["id"]]

    def test_an_unknown_id_is_404_with_a_string_status(self, scim):
        response = scim.get("Users/010101010101")
        assert response.status_code == 404 and response.json_body["status"] == "404"
        assert response.json_body["schemas"] == [ERROR]

    def test_deactivates_with_a_pathless_patch_instead_of_delete(self, scim):
        user = create_user(scim, "ada@examples.gov")
        response = scim.patch(
            f"Users/{user['id']}", patch_body({"op": "replace", "value": {"active": False}})
        )
        assert response.status_code == 200 and response.json_body["active"] is False
        assert Employee.objects.get(uuid=user["id"]).status == Employee.Status.SUSPENDED
        assert scim.get(f"Users/{user['id']}").status_code == 200  # still there, just inactive

    def test_updates_a_profile_with_put(self, scim):
        user = create_user(scim, "ada@examples.gov", externalId="00u1")
        body = user_body(
            "ada@examples.gov", externalId="00u1", name={"givenName": "Ada", "familyName": "King"}
        )
        body["id"] = user["id"]
        response = scim.put(f"Users/{user['id']}", body)
        assert response.status_code == 200 and response.json_body["name"]["familyName"] == "King"

    def test_group_push_renames_with_the_id_inside_the_value(self, scim):
        group = scim.post("Groups", group_body("Okta group")).json_body
        response = scim.patch(
            f"Groups/{group['id']}",
            patch_body({"op": "replace", "value": {"id": group["id"], "displayName": "Renamed in Okta"}}),
        )
        assert response.status_code == 200 and response.json_body["displayName"] == "Renamed in Okta"

    def test_group_push_adds_and_removes_members_by_value_filter(self, scim):
        ada, alan = create_user(scim, "ada@examples.gov"), create_user(scim, "alan@examples.gov")
        group = scim.post("Groups", group_body("Okta group")).json_body
        scim.patch(
            f"Groups/{group['id']}",
            patch_body(
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": ada["id"], "display": "ada@examples.gov"}],
                },
                {"op": "add", "path": "members", "value": [{"value": alan["id"]}]},
            ),
        )
        scim.patch(
            f"Groups/{group['id']}", patch_body({"op": "remove", "path": f'members[value eq "{ada["id"]}"]'})
        )
        members = scim.get(f"Groups/{group['id']}").json_body["members"]
        assert [m["value"] for m in members] == [alan["id"]]

    def test_finds_a_group_by_display_name(self, scim):
        group = scim.post("Groups", group_body("Engineering")).json_body
        body = scim.get("Groups", filter='displayName eq "Engineering"').json_body
        assert [g["id"] for g in body["Resources"]] == [group["id"]]


class TestEntra:
    """Microsoft Entra ID provisioning, which departs from the RFC in known ways."""

    def test_capitalised_op_and_boolean_strings(self, scim):
        user = create_user(scim, "ada@examples.gov")
        response = scim.patch(
            f"Users/{user['id']}", patch_body({"op": "Replace", "path": "active", "value": "False"})
        )
        assert response.status_code == 200 and response.json_body["active"] is False
        response = scim.patch(
            f"Users/{user['id']}", patch_body({"op": "Replace", "path": "active", "value": "True"})
        )
        assert response.json_body["active"] is True

    def test_adds_the_work_email_by_value_path_even_when_there_is_none(self, scim):
        user = create_user(scim, "ada@examples.gov")
        response = scim.patch(
            f"Users/{user['id']}",
            patch_body({"op": "Add", "path": 'emails[type eq "work"].value', "value": "ada@examples.gov"}),
        )
        assert response.status_code == 200
        assert response.json_body["emails"] == [{"type": "work", "value": "ada@examples.gov"}]
        scim.patch(
            f"Users/{user['id']}",
            patch_body(
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada.k@examples.gov"}
            ),
        )
        assert scim.get(f"Users/{user['id']}").json_body["emails"] == [
            {"type": "work", "value": "ada.k@examples.gov"}
        ]

    def test_default_mappings_outside_the_schema_do_not_fail_the_user(self, scim):
        user = create_user(scim, "ada@examples.gov")
        response = scim.patch(
            f"Users/{user['id']}",
            patch_body(
                {"op": "Add", "path": "title", "value": "Analyst"},
                {"op": "Add", "path": 'phoneNumbers[type eq "work"].value', "value": "555-0100"},
                {
                    "op": "Add",
                    "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "value": "boss",
                },
                {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "Replace", "path": "displayName", "value": "Augusta Ada"},
            ),
        )
        assert response.status_code == 200
        assert (
            response.json_body["name"]["givenName"] == "Augusta"
            and response.json_body["displayName"] == "Augusta Ada"
        )

    def test_reads_groups_without_members(self, scim):
        ada = create_user(scim, "ada@examples.gov")
        scim.post("Groups", group_body("Entra group", ada["id"]))
        body = scim.get(
            "Groups", filter='displayName eq "Entra group"', excludedAttributes="members"
        ).json_body
        assert body["totalResults"] == 1 and "members" not in body["Resources"][0]

    def test_removes_members_with_a_value_list(self, scim):
        ada, alan = create_user(scim, "ada@examples.gov"), create_user(scim, "alan@examples.gov")
        group = scim.post("Groups", group_body("Entra group", ada["id"], alan["id"])).json_body
        response = scim.patch(
            f"Groups/{group['id']}",
            patch_body({"op": "Remove", "path": "members", "value": [{"value": ada["id"]}]}),
        )
        assert response.status_code == 200
        assert [m["value"] for m in response.json_body["members"]] == [alan["id"]]

    def test_adds_members_with_a_capitalised_op(self, scim):
        ada = create_user(scim, "ada@examples.gov")
        group = scim.post("Groups", group_body("Entra group")).json_body
        response = scim.patch(
            f"Groups/{group['id']}",
            patch_body({"op": "Add", "path": "members", "value": [{"value": ada["id"]}]}),
        )
        assert [m["value"] for m in response.json_body["members"]] == [ada["id"]]

    def test_checks_existence_by_user_name_then_by_external_id(self, scim):
        user = create_user(scim, "ada@examples.gov", externalId="3f4a-entra-object-id")
        assert scim.get("Users", filter='userName eq "ada@examples.gov"').json_body["totalResults"] == 1
        by_external = scim.get("Users", filter='externalId eq "3f4a-entra-object-id"').json_body
        assert [r["id"] for r in by_external["Resources"]] == [user["id"]]

    def test_accepts_application_json_as_well_as_scim_json(self, scim):
        response = scim.client.post(
            "/scim/v2/Users",
            '{"userName": "ada@examples.gov", "active": true}',
            content_type="application/json",
            **scim.headers,
        )
        assert response.status_code == 201
        assert response["Content-Type"] == "application/scim+json; charset=utf-8"
