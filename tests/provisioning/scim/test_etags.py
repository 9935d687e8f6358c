"""Versions (RFC 7644 §3.14): meta.version and ETag, If-Match (412 when stale), If-None-Match (304)."""

from __future__ import annotations

import pytest

from agencies.models import Employee
from provisioning.scim.models import ScimGroup, ScimGroupMember
from tests.provisioning.scim.conftest import create_user, group_body, patch_body, user_body

pytestmark = pytest.mark.django_db


def conditional(scim, method: str, path: str, body=None, **headers):
    """A SCIM call with extra headers (If-Match, If-None-Match)."""
    import json

    from tests.provisioning.scim.conftest import SCIM_JSON

    url = f"/scim/v2/{path}"
    extra = {**scim.headers, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}}
    if method == "get":
        response = scim.client.get(url, **extra)
    else:
        data = json.dumps(body) if body is not None else ""
        response = getattr(scim.client, method)(url, data, content_type=SCIM_JSON, **extra)
    response.json_body = json.loads(response.content) if response.content else None
    return response


def rename(given: str) -> dict:
    return patch_body({"op": "replace", "path": "name.givenName", "value": given})


def test_every_single_user_response_carries_its_version_as_etag(scim):
    created = scim.post("Users", user_body("ada@examples.gov"))
    read = scim.get(f"Users/{created.json_body['id']}")
    patched = scim.patch(f"Users/{created.json_body['id']}", rename("Augusta"))
    put = scim.put(f"Users/{created.json_body['id']}", user_body("ada@examples.gov", displayName="Ada L"))
    listed = scim.get("Users").json_body["Resources"][0]

    assert created["ETag"] == created.json_body["meta"]["version"] and created["ETag"].startswith('W/"')
    assert read["ETag"] == created["ETag"] == read.json_body["meta"]["version"]
    assert patched["ETag"] == patched.json_body["meta"]["version"] != read["ETag"]
    assert put["ETag"] not in (read["ETag"], patched["ETag"])
    assert listed["meta"]["version"] == put["ETag"] == scim.get(f"Users/{listed['id']}")["ETag"]


def test_a_write_with_the_current_version_goes_through_and_a_stale_one_is_412(scim):
    user = create_user(scim, "ada@examples.gov")
    first = user["meta"]["version"]
    ok = conditional(scim, "patch", f"Users/{user['id']}", rename("Augusta"), **{"If-Match": first})

    stale_patch = conditional(scim, "patch", f"Users/{user['id']}", rename("Byron"), **{"If-Match": first})
    stale_put = conditional(
        scim, "put", f"Users/{user['id']}", user_body("ada@examples.gov", active=False), **{"If-Match": first}
    )
    stale_delete = conditional(scim, "delete", f"Users/{user['id']}", **{"If-Match": first})

    assert ok.status_code == 200 and ok.json_body["name"]["givenName"] == "Augusta"
    for refused in (stale_patch, stale_put, stale_delete):
        assert refused.status_code == 412
        assert refused.json_body["status"] == "412" and refused.json_body["schemas"] == [
            "urn:ietf:params:scim:api:messages:2.0:Error"
        ]
        assert ok["ETag"] in refused.json_body["detail"]
    employee = Employee.objects.get(email="ada@examples.gov")
    assert employee.given_name == "Augusta" and employee.status == Employee.Status.ACTIVE
    assert scim.get(f"Users/{user['id']}").status_code == 200


def test_if_match_takes_a_list_a_strong_spelling_or_a_star(scim):
    user = create_user(scim, "ada@examples.gov")
    opaque = user["meta"]["version"][2:]

    listed = conditional(
        scim, "patch", f"Users/{user['id']}", rename("A"), **{"If-Match": f'W/"nope", {opaque}'}
    )
    star = conditional(scim, "patch", f"Users/{user['id']}", rename("B"), **{"If-Match": "*"})
    deleted = conditional(scim, "delete", f"Users/{user['id']}", **{"If-Match": star["ETag"]})

    assert listed.status_code == 200 and star.status_code == 200
    assert deleted.status_code == 204 and scim.get(f"Users/{user['id']}").status_code == 404


def test_if_none_match_answers_304_until_the_user_changes(scim):
    user = create_user(scim, "ada@examples.gov")
    version = user["meta"]["version"]

    unchanged = conditional(scim, "get", f"Users/{user['id']}", **{"If-None-Match": version})
    scim.patch(f"Users/{user['id']}", rename("Augusta"))
    changed = conditional(scim, "get", f"Users/{user['id']}", **{"If-None-Match": version})

    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == version
    assert changed.status_code == 200 and changed.json_body["name"]["givenName"] == "Augusta"
    assert changed["ETag"] != version


def test_a_suspension_outside_scim_changes_the_version(scim):
    """The version follows what the resource says, whoever changed it."""
    from agencies import lifecycle
    from audit.actors import Actor

    user = create_user(scim, "ada@examples.gov")
    lifecycle.employee_suspend(
        employee=Employee.objects.get(email="ada@examples.gov"), actor=Actor.system("t")
    )

    stale = conditional(
        scim, "patch", f"Users/{user['id']}", rename("A"), **{"If-Match": user["meta"]["version"]}
    )

    assert stale.status_code == 412


def test_group_versions_move_with_names_and_members_and_guard_writes(scim):
    ada = create_user(scim, "ada@examples.gov")
    bob = create_user(scim, "bob@examples.gov")
    created = scim.post("Groups", group_body("Analysts", ada["id"]))
    gid, first = created.json_body["id"], created["ETag"]

    read = scim.get(f"Groups/{gid}")
    not_modified = conditional(scim, "get", f"Groups/{gid}", **{"If-None-Match": first})
    added = conditional(
        scim,
        "patch",
        f"Groups/{gid}",
        patch_body({"op": "add", "path": "members", "value": [{"value": bob["id"]}]}),
        **{"If-Match": first},
    )
    stale_put = conditional(scim, "put", f"Groups/{gid}", group_body("Renamed"), **{"If-Match": first})
    stale_delete = conditional(scim, "delete", f"Groups/{gid}", **{"If-Match": first})

    assert created.json_body["meta"]["version"] == first == read["ETag"] == read.json_body["meta"]["version"]
    assert not_modified.status_code == 304 and not_modified["ETag"] == first
    assert added.status_code == 200 and added["ETag"] != first
    assert stale_put.status_code == 412 and stale_delete.status_code == 412
    group = ScimGroup.objects.get(uuid=gid)
    assert group.display_name == "Analysts" and ScimGroupMember.objects.filter(group=group).count() == 2
    renamed = conditional(scim, "put", f"Groups/{gid}", group_body("Renamed"), **{"If-Match": added["ETag"]})
    assert renamed.status_code == 200 and renamed["ETag"] != added["ETag"]
    gone = conditional(scim, "delete", f"Groups/{gid}", **{"If-Match": renamed["ETag"]})
    assert gone.status_code == 204 and not ScimGroup.objects.filter(uuid=gid).exists()


def test_deleting_a_member_moves_the_groups_version(scim):
    ada = create_user(scim, "ada@examples.gov")
    group = scim.post("Groups", group_body("Analysts", ada["id"]))

    scim.delete(f"Users/{ada['id']}")
    after = conditional(scim, "get", f"Groups/{group.json_body['id']}", **{"If-None-Match": group["ETag"]})

    assert after.status_code == 200 and "members" not in after.json_body
    assert after["ETag"] != group["ETag"]


def test_a_version_of_another_agencys_user_is_still_404(scim, other_scim):
    theirs = create_user(other_scim, "bea@elsewhere.gov")

    response = conditional(
        scim, "patch", f"Users/{theirs['id']}", rename("X"), **{"If-Match": theirs["meta"]["version"]}
    )

    assert response.status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_of_writers_racing_with_one_version_exactly_one_wins(scim, kind):
    """The version is compared under the row lock the write takes: the losers see the winner's
    change and get 412, however the eight requests interleave."""
    import threading

    from django.db import connection

    if kind == "Users":
        resource = create_user(scim, "ada@examples.gov")
        bodies = [rename(f"Given{i}") for i in range(8)]
    else:
        resource = scim.post("Groups", group_body("Analysts")).json_body
        bodies = [patch_body({"op": "replace", "path": "displayName", "value": f"Team{i}"}) for i in range(8)]
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []
    lock = threading.Lock()

    def write(body) -> None:
        try:
            barrier.wait()
            response = conditional(
                scim, "patch", f"{kind}/{resource['id']}", body, **{"If-Match": resource["meta"]["version"]}
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200] + [412] * 7
