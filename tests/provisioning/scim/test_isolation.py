"""Tenant isolation: with agency A's token, agency B's users and groups do not exist, and nothing changes."""

from __future__ import annotations

import pytest

from agencies.models import Employee
from audit.models import AuditEvent
from provisioning.scim.models import ScimGroup, ScimGroupMember
from tests.provisioning.scim.conftest import create_user, group_body, patch_body, user_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_scim):
    """Agency B's user and group, made with B's own token."""
    user = create_user(other_scim, "bea@elsewhere.gov", externalId="b-1")
    group = other_scim.post("Groups", group_body("B team", user["id"])).json_body
    return user, group


def snapshot():
    return (
        list(
            Employee.objects.order_by("pk").values_list(
                "email", "status", "given_name", "external_id", "agency_id"
            )
        ),
        list(ScimGroup.objects.order_by("pk").values_list("display_name", "external_id")),
        list(ScimGroupMember.objects.order_by("pk").values_list("group_id", "employee_id")),
    )


def test_every_read_of_another_agencys_resources_is_404_or_empty(scim, theirs):
    user, group = theirs
    create_user(scim, "ada@examples.gov")

    assert scim.get(f"Users/{user['id']}").status_code == 404
    assert scim.get(f"Groups/{group['id']}").status_code == 404
    for text in (
        'userName eq "bea@elsewhere.gov"',
        'externalId eq "b-1"',
        f'id eq "{user["id"]}"',
        "userName pr",
    ):
        found = scim.get("Users", filter=text).json_body
        assert all(r["userName"] != "bea@elsewhere.gov" for r in found["Resources"])
    assert scim.get("Users").json_body["totalResults"] == 1
    assert scim.get("Groups").json_body["totalResults"] == 0
    assert scim.get("Groups", filter=f'members[value eq "{user["id"]}"]').json_body["totalResults"] == 0
    searched = scim.post(".search", {"filter": 'displayName eq "B team" or userName eq "bea@elsewhere.gov"'})
    assert searched.json_body["totalResults"] == 0


def test_every_write_to_another_agencys_resources_is_404_and_changes_nothing(scim, theirs):
    user, group = theirs
    before = snapshot()
    audit_before = AuditEvent.objects.count()

    responses = [
        scim.patch(f"Users/{user['id']}", patch_body({"op": "replace", "path": "active", "value": False})),
        scim.patch(
            f"Users/{user['id']}", patch_body({"op": "replace", "value": {"name": {"givenName": "X"}}})
        ),
        scim.put(f"Users/{user['id']}", user_body("bea@elsewhere.gov", active=False)),
        scim.delete(f"Users/{user['id']}"),
        scim.patch(
            f"Groups/{group['id']}", patch_body({"op": "replace", "path": "displayName", "value": "Mine"})
        ),
        scim.patch(f"Groups/{group['id']}", patch_body({"op": "remove", "path": "members"})),
        scim.put(f"Groups/{group['id']}", group_body("Mine")),
        scim.delete(f"Groups/{group['id']}"),
    ]

    assert [r.status_code for r in responses] == [404] * len(responses)
    assert all(r.json_body["status"] == "404" for r in responses)
    assert snapshot() == before
    assert AuditEvent.objects.count() == audit_before


def test_another_agencys_user_cannot_be_put_in_our_groups_or_taken_over(scim, theirs):
    user, _ = theirs
    before = snapshot()

    ours = scim.post("Groups", group_body("Ours", user["id"]))
    assert ours.status_code == 400 and "No user with id" in ours.json_body["detail"]
    created = scim.post("Users", user_body("bea@elsewhere.gov"))
    assert created.status_code == 400  # their domain: not ours to provision, whatever exists there

    assert snapshot() == before


def test_a_bureau_token_reaches_its_bureau_only(bureau, department, make_employee):
    from audit.actors import Actor
    from provisioning.scim.tokens import scim_token_create
    from tests.provisioning.scim.conftest import ScimClient

    at_department = make_employee(department)
    at_bureau = make_employee(bureau)
    client = ScimClient(
        scim_token_create(
            agency=bureau, name="Bureau IdP", actor=Actor.system("t"), rate_limit_per_minute=100
        ).secret
    )

    listed = {r["id"] for r in client.get("Users").json_body["Resources"]}

    assert listed == {str(at_bureau.uuid)}
    assert client.get(f"Users/{at_department.uuid}").status_code == 404
