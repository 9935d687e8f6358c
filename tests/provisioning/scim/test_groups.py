"""Groups and the seats they give: join claims, leave revokes, a full pool is visible and retried."""

from __future__ import annotations

import pytest

from agencies.models import Employee
from audit.actors import Actor
from audit.models import AuditEvent
from core.errors import ForeignAgency, InvalidInput
from provisioning.scim import grants
from provisioning.scim.models import ScimGroup, ScimSeatGrant
from seats import services as seat_services
from seats.models import Seat, WaitlistEntry
from tests.factories import AllocationFactory, ProgramFactory
from tests.provisioning.scim.conftest import create_user, group_body, patch_body

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


@pytest.fixture
def seat_group(scim, vendor_pool):
    """A group mapped to the two-seat vendor pool."""
    group = scim.post("Groups", group_body("ChatGPT users")).json_body
    mapping = grants.scim_group_pool_create(
        group=ScimGroup.objects.get(uuid=group["id"]), allocation=vendor_pool, actor=ADMIN
    )
    return group, mapping


def add(scim, group_id, *user_ids):
    return scim.patch(
        f"Groups/{group_id}",
        patch_body({"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}),
    )


def remove(scim, group_id, user_id):
    return scim.patch(
        f"Groups/{group_id}", patch_body({"op": "remove", "path": f'members[value eq "{user_id}"]'})
    )


def live_seat(user):
    return Seat.objects.live().filter(employee__uuid=user["id"]).first()


def test_a_group_is_created_with_members_and_read_back(scim):
    ada = create_user(scim, "ada@examples.gov")
    response = scim.post("Groups", group_body("Analysts", ada["id"]) | {"externalId": "g-1"})
    assert response.status_code == 201
    body = response.json_body
    assert body["displayName"] == "Analysts" and body["externalId"] == "g-1"
    assert body["members"] == [
        {"value": ada["id"], "$ref": f"http://seats.test/scim/v2/Users/{ada['id']}", "type": "User"}
    ]
    assert scim.get(f"Groups/{body['id']}").json_body["members"][0]["value"] == ada["id"]
    assert (
        AuditEvent.objects.filter(verb="scim.group.members", actor_label="Entra ID production").count() == 1
    )


def test_joining_a_mapped_group_claims_a_seat_and_leaving_revokes_it(scim, seat_group):
    group, _ = seat_group
    ada = create_user(scim, "ada@examples.gov")

    assert add(scim, group["id"], ada["id"]).status_code == 200
    seat = live_seat(ada)
    assert seat is not None and seat.state == Seat.State.PENDING
    assert ScimSeatGrant.objects.get(employee__uuid=ada["id"]).seat == seat

    assert remove(scim, group["id"], ada["id"]).status_code == 200
    seat.refresh_from_db()
    assert (
        seat.state == Seat.State.REVOKED
        and seat.reason == "removed from group “ChatGPT users” by identity provider"
    )
    assert not ScimSeatGrant.objects.exists()


def test_a_full_pool_is_a_visible_waiting_grant_served_when_a_seat_frees(scim, seat_group):
    group, mapping = seat_group
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]

    add(scim, group["id"], *[p["id"] for p in people])

    grant = ScimSeatGrant.objects.get(employee__uuid=people[2]["id"])
    assert grant.state == ScimSeatGrant.State.WAITING and "are taken" in grant.error
    assert grant.waitlist_entry.state == WaitlistEntry.State.WAITING
    assert AuditEvent.objects.filter(verb="scim_grant.waiting").count() == 1
    assert live_seat(people[2]) is None

    remove(scim, group["id"], people[0]["id"])

    assert live_seat(people[2]) is not None
    grants.grant_evaluate(mapping=mapping, employee=Employee.objects.get(uuid=people[2]["id"]), actor=ADMIN)
    grant.refresh_from_db()
    assert grant.state == ScimSeatGrant.State.GRANTED and grant.seat == live_seat(people[2])


def test_leaving_while_waiting_gives_up_the_place_in_line(scim, seat_group):
    group, _ = seat_group
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    add(scim, group["id"], *[p["id"] for p in people])

    remove(scim, group["id"], people[2]["id"])

    assert WaitlistEntry.objects.get(employee__uuid=people[2]["id"]).state == WaitlistEntry.State.CANCELLED


def test_a_seat_held_before_joining_is_kept_after_leaving(scim, seat_group, vendor_pool):
    group, _ = seat_group
    ada = create_user(scim, "ada@examples.gov")
    own = seat_services.seat_claim(
        allocation=vendor_pool, employee=Employee.objects.get(uuid=ada["id"]), actor=ADMIN
    )

    add(scim, group["id"], ada["id"])
    remove(scim, group["id"], ada["id"])

    own.refresh_from_db()
    assert own.is_live


def test_two_groups_for_one_program_hand_the_seat_over(scim, seat_group, vendor_pool):
    group, _ = seat_group
    other = scim.post("Groups", group_body("Also ChatGPT")).json_body
    grants.scim_group_pool_create(
        group=ScimGroup.objects.get(uuid=other["id"]), allocation=vendor_pool, actor=ADMIN
    )
    ada = create_user(scim, "ada@examples.gov")
    add(scim, group["id"], ada["id"])
    add(scim, other["id"], ada["id"])
    seat = live_seat(ada)

    remove(scim, group["id"], ada["id"])

    seat.refresh_from_db()
    assert seat.is_live
    assert ScimSeatGrant.objects.get(employee__uuid=ada["id"]).seat == seat
    remove(scim, other["id"], ada["id"])
    seat.refresh_from_db()
    assert not seat.is_live


def test_deleting_a_mapped_group_gives_its_seats_back(scim, seat_group):
    group, _ = seat_group
    ada = create_user(scim, "ada@examples.gov")
    add(scim, group["id"], ada["id"])

    assert scim.delete(f"Groups/{group['id']}").status_code == 204

    assert live_seat(ada) is None and not ScimGroup.objects.exists()
    assert scim.get(f"Groups/{group['id']}").status_code == 404


def test_mapping_a_group_with_members_grants_their_seats(scim, vendor_pool):
    ada = create_user(scim, "ada@examples.gov")
    group = ScimGroup.objects.get(uuid=scim.post("Groups", group_body("Pilot", ada["id"])).json_body["id"])

    mapping = grants.scim_group_pool_create(group=group, allocation=vendor_pool, actor=ADMIN)
    assert grants.scim_group_pool_sync(mapping=mapping, actor=ADMIN) == 1

    assert live_seat(ada) is not None
    with pytest.raises(InvalidInput, match="already gives seats"):
        grants.scim_group_pool_create(group=group, allocation=vendor_pool, actor=ADMIN)


def test_a_group_cannot_be_mapped_to_another_agencys_pool(scim, other_department):
    group = ScimGroup.objects.get(uuid=scim.post("Groups", group_body("Pilot")).json_body["id"])
    foreign = AllocationFactory(program=ProgramFactory(), agency=other_department)
    with pytest.raises(ForeignAgency, match="not Department of Examples's"):
        grants.scim_group_pool_create(group=group, allocation=foreign, actor=ADMIN)


def test_a_suspended_member_waits_visibly_and_gets_the_seat_back_on_return(scim, seat_group):
    group, _ = seat_group
    ada = create_user(scim, "ada@examples.gov")
    add(scim, group["id"], ada["id"])
    scim.patch(f"Users/{ada['id']}", patch_body({"op": "replace", "path": "active", "value": False}))
    grant = ScimSeatGrant.objects.get()
    assert grant.state == ScimSeatGrant.State.FAILED and "Suspended" in grant.error

    scim.patch(f"Users/{ada['id']}", patch_body({"op": "replace", "path": "active", "value": True}))

    grant.refresh_from_db()
    assert grant.state == ScimSeatGrant.State.GRANTED and grant.seat == live_seat(ada)
    assert Seat.objects.live().filter(employee__uuid=ada["id"]).count() == 1


def test_deleting_a_user_removes_them_from_groups(scim, seat_group):
    group, _ = seat_group
    ada = create_user(scim, "ada@examples.gov")
    add(scim, group["id"], ada["id"])
    scim.delete(f"Users/{ada['id']}")
    assert "members" not in scim.get(f"Groups/{group['id']}").json_body


@pytest.mark.parametrize(
    "member, words",
    [
        ({"value": "2819c223-7f76-453a-919d-413861904646"}, "No user with id"),
        ({"value": "x", "type": "Group"}, "nested groups"),
    ],
)
def test_members_must_be_users_of_this_agency(scim, member, words):
    group = scim.post("Groups", group_body("G")).json_body
    response = scim.patch(
        f"Groups/{group['id']}", patch_body({"op": "add", "path": "members", "value": [member]})
    )
    assert response.status_code == 400 and words in response.json_body["detail"]


def test_put_replaces_the_member_list(scim):
    ada, alan = create_user(scim, "ada@examples.gov"), create_user(scim, "alan@examples.gov")
    group = scim.post("Groups", group_body("G", ada["id"])).json_body
    response = scim.put(f"Groups/{group['id']}", group_body("Renamed", alan["id"]))
    assert response.json_body["displayName"] == "Renamed"
    assert [m["value"] for m in response.json_body["members"]] == [alan["id"]]


def test_group_filters(scim):
    ada = create_user(scim, "ada@examples.gov")
    first = scim.post("Groups", group_body("Analysts", ada["id"])).json_body
    scim.post("Groups", group_body("Engineers"))
    by_name = scim.get("Groups", filter='displayName eq "analysts"').json_body
    assert [g["id"] for g in by_name["Resources"]] == [first["id"]]
    by_member = scim.get("Groups", filter=f'members[value eq "{ada["id"]}"]').json_body
    assert [g["id"] for g in by_member["Resources"]] == [first["id"]]
    assert scim.get("Groups", filter=f'members.value eq "{ada["id"]}"').json_body["totalResults"] == 1
    assert scim.get("Groups", filter='displayName sw "x"').json_body["totalResults"] == 0
    assert scim.get("Groups", filter='userName eq "x"').status_code == 400


def test_root_search_spans_users_and_groups(scim):
    create_user(scim, "ada@examples.gov")
    scim.post("Groups", group_body("Analysts"))
    everything = scim.post(
        ".search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    ).json_body
    assert everything["totalResults"] == 2
    assert [r["meta"]["resourceType"] for r in everything["Resources"]] == ["User", "Group"]
    groups_only = scim.post(".search", {"filter": 'displayName eq "Analysts"'}).json_body
    assert [r["meta"]["resourceType"] for r in groups_only["Resources"]] == ["Group"]
    second_page = scim.post(".search", {"startIndex": 2, "count": 1}).json_body
    assert [r["meta"]["resourceType"] for r in second_page["Resources"]] == ["Group"]


# --- many members at once: a worker gives the seats ----------------------------------------------
@pytest.fixture
def few_inline(monkeypatch):
    monkeypatch.setattr(grants, "INLINE_MAX", 2)


def test_many_members_added_in_one_request_get_their_seats_from_a_worker(
    scim, seat_group, few_inline, django_capture_on_commit_callbacks, celery_eager
):
    group, _ = seat_group
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    with django_capture_on_commit_callbacks() as queued:
        assert add(scim, group["id"], *[p["id"] for p in people]).status_code in (200, 204)
    assert not ScimSeatGrant.objects.exists()  # the SCIM request answered without claiming

    for callback in queued:
        callback()
    assert [live_seat(p) is not None for p in people] == [True, True, False]  # a two-seat pool
    assert ScimSeatGrant.objects.get(employee__email="p2@examples.gov").state == ScimSeatGrant.State.WAITING


def test_someone_removed_before_the_worker_ran_gets_no_seat(
    scim, seat_group, few_inline, django_capture_on_commit_callbacks, celery_eager
):
    group, _ = seat_group
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    with django_capture_on_commit_callbacks() as queued:
        add(scim, group["id"], *[p["id"] for p in people])
    remove(scim, group["id"], people[0]["id"])

    for callback in queued:
        callback()
    assert [live_seat(p) is not None for p in people] == [False, True, True]
    assert not ScimSeatGrant.objects.filter(employee__email="p0@examples.gov").exists()


def test_someone_removed_while_a_mapping_is_walked_keeps_no_seat(scim, vendor_pool, monkeypatch):
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(2)]
    group = scim.post("Groups", group_body("Pilot", *[p["id"] for p in people])).json_body
    mapping = grants.scim_group_pool_create(
        group=ScimGroup.objects.get(uuid=group["id"]), allocation=vendor_pool, actor=ADMIN
    )
    evaluate = grants.grant_evaluate

    def and_then_p1_leaves(**kwargs):
        granted = evaluate(**kwargs)
        if kwargs["employee"].email == "p0@examples.gov":
            remove(scim, group["id"], people[1]["id"])  # the IdP, between two members of the walk
        return granted

    monkeypatch.setattr(grants, "grant_evaluate", and_then_p1_leaves)
    assert grants.scim_group_pool_sync(mapping=mapping, actor=ADMIN) == 1
    assert live_seat(people[0]) is not None and live_seat(people[1]) is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_walk_over_a_mapping_and_removals_racing_it_leave_seats_only_with_members(
    scim, vendor_program, department
):
    """The worker walks the members it read at the start while the IdP removes some of them: each
    removal either comes first (no grant is made) or waits for the grant and gives it back."""
    import threading

    from django.db import connection

    pool = AllocationFactory(program=vendor_program, agency=department, quantity=20)
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(12)]
    group = scim.post("Groups", group_body("All staff", *[p["id"] for p in people])).json_body
    mapping = grants.scim_group_pool_create(
        group=ScimGroup.objects.get(uuid=group["id"]), allocation=pool, actor=ADMIN
    )
    leavers = people[1::2]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(work) -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    def walk() -> None:
        grants.scim_group_pool_sync(mapping=mapping, actor=ADMIN)

    def leave() -> None:
        for person in leavers:
            assert remove(scim, group["id"], person["id"]).status_code in (200, 204)

    threads = [threading.Thread(target=run, args=(work,)) for work in (walk, leave)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    members = set(
        ScimGroup.objects.get(uuid=group["id"]).memberships.values_list("employee__email", flat=True)
    )
    holders = set(Seat.objects.live().filter(allocation=pool).values_list("employee__email", flat=True))
    granted = set(ScimSeatGrant.objects.filter(mapping=mapping).values_list("employee__email", flat=True))
    assert members == {p["userName"] for p in people[0::2]}
    assert holders == members and granted == members


# --- the sweep: members whose worker message was lost -------------------------------------------
def test_a_lost_message_costs_no_request_and_the_sweep_gives_the_seats(
    scim, seat_group, few_inline, broker_down, django_capture_on_commit_callbacks, caplog
):
    group, _ = seat_group
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = add(scim, group["id"], *[p["id"] for p in people])
    assert response.status_code in (200, 204)  # the members are in; only the message was lost
    assert "group seats (grants_on_join" in caplog.text and "stay for the sweeper" in caplog.text
    assert not ScimSeatGrant.objects.exists()

    assert grants.grants_sweep() == 3
    assert [live_seat(p) is not None for p in people] == [True, True, False]
    assert grants.grants_sweep() == 0  # nothing left to do; nobody evaluated twice


def test_the_sweep_works_in_bounded_runs(scim, seat_group, few_inline, django_capture_on_commit_callbacks):
    group, _ = seat_group
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    with django_capture_on_commit_callbacks():  # the worker's messages are never sent
        add(scim, group["id"], *[p["id"] for p in people])
    assert grants.grants_sweep(limit=2) == 2
    assert grants.grants_sweep(limit=2) == 1
    assert ScimSeatGrant.objects.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_leaver_whose_grant_was_committed_while_they_were_locked_has_it_marked(scim, seat_group):
    """The IdP deactivates someone while a worker holds their row to give them a group seat. The
    deactivation waits for the lock, then sees the grant the worker committed and marks it; a check
    made in the locking read itself would use the snapshot from before the wait and miss it."""
    import threading
    import time

    from django.db import connection, transaction

    _, mapping = seat_group
    ada = create_user(scim, "ada@examples.gov")
    employee = Employee.objects.get(uuid=ada["id"])
    locked = threading.Event()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with transaction.atomic():
                Employee.objects.select_for_update().get(pk=employee.pk)
                locked.set()
                time.sleep(0.5)  # the deactivation is now waiting for this row
                grants.grant_evaluate(mapping=mapping, employee=employee, actor=ADMIN)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    assert locked.wait(timeout=30)
    response = scim.patch(
        f"Users/{ada['id']}", patch_body({"op": "replace", "path": "active", "value": False})
    )
    thread.join(timeout=60)

    assert not errors, errors
    assert response.status_code == 200 and response.json_body["active"] is False
    grant = ScimSeatGrant.objects.get(employee=employee)
    assert grant.state == ScimSeatGrant.State.FAILED and grant.seat is None
    assert "Suspended by the identity provider" in grant.error
    assert not Seat.objects.live().filter(employee=employee).exists()
