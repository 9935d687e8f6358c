"""Leavers and returners: active=false or DELETE suspends and revokes; active=true restores by policy."""

from __future__ import annotations

import pytest
from django.db import connection

from agencies import lifecycle
from agencies.models import Employee
from audit.actors import Actor
from audit.models import AuditEvent
from provisioning.models import ProvisioningJob
from seats import services as seat_services
from seats.models import Seat, WaitlistEntry
from tests.provisioning.scim.conftest import create_user, patch_body

pytestmark = pytest.mark.django_db
ADMIN = Actor.system("test")


def with_seat(scim, pool, email):
    user = create_user(scim, email)
    employee = Employee.objects.get(uuid=user["id"])
    seat = seat_services.seat_claim(allocation=pool, employee=employee, actor=ADMIN)
    seat_services.seat_activate(seat=seat, actor=ADMIN, vendor_user_id="vendor-1")
    return user, employee, seat


def deactivate(scim, user_id):
    return scim.patch(f"Users/{user_id}", patch_body({"op": "replace", "path": "active", "value": False}))


def test_active_false_suspends_revokes_and_queues_the_vendor_deactivation(scim, vendor_pool):
    user, employee, seat = with_seat(scim, vendor_pool, "ada@examples.gov")

    response = deactivate(scim, user["id"])

    assert response.status_code == 200 and response.json_body["active"] is False
    employee.refresh_from_db()
    seat.refresh_from_db()
    assert employee.status == Employee.Status.SUSPENDED
    assert seat.state == Seat.State.REVOKED and seat.reason == "deprovisioned by identity provider"
    assert ProvisioningJob.objects.filter(seat=seat, action="deactivate", state="queued").count() == 1
    vendor_pool.refresh_from_db()
    assert vendor_pool.assigned == 0
    revoke = AuditEvent.objects.get(verb="seat.revoke")
    assert revoke.actor_label == "Entra ID production" and revoke.actor_kind == "token"


def test_a_freed_seat_goes_to_the_head_of_the_waitlist(scim, vendor_pool, make_employee, department):
    user, _, _ = with_seat(scim, vendor_pool, "ada@examples.gov")
    with_seat(scim, vendor_pool, "alan@examples.gov")
    waiting = make_employee(department)
    seat_services.waitlist_join(allocation=vendor_pool, employee=waiting, actor=ADMIN)

    deactivate(scim, user["id"])

    assert Seat.objects.live().filter(employee=waiting).count() == 1


def test_suspension_gives_up_waitlist_places(scim, vendor_pool, make_employee, department):
    for person in (make_employee(department), make_employee(department)):
        seat_services.seat_claim(allocation=vendor_pool, employee=person, actor=ADMIN)
    user = create_user(scim, "ada@examples.gov")
    employee = Employee.objects.get(uuid=user["id"])
    seat_services.waitlist_join(allocation=vendor_pool, employee=employee, actor=ADMIN)

    deactivate(scim, user["id"])

    assert WaitlistEntry.objects.get(employee=employee).state == WaitlistEntry.State.CANCELLED


def test_delete_suspends_and_the_user_is_gone_for_scim(scim, vendor_pool):
    user, employee, seat = with_seat(scim, vendor_pool, "ada@examples.gov")

    assert scim.delete(f"Users/{user['id']}").status_code == 204

    employee.refresh_from_db()
    seat.refresh_from_db()
    assert employee.status == Employee.Status.SUSPENDED and seat.state == Seat.State.REVOKED
    assert scim.get(f"Users/{user['id']}").status_code == 404
    assert scim.get("Users", filter='userName eq "ada@examples.gov"').json_body["totalResults"] == 0
    assert (
        scim.patch(
            f"Users/{user['id']}", patch_body({"op": "replace", "path": "active", "value": True})
        ).status_code
        == 404
    )
    assert scim.delete(f"Users/{user['id']}").status_code == 404


def test_creating_a_deleted_user_again_brings_them_back_with_their_seat(scim, vendor_pool):
    user, employee, _ = with_seat(scim, vendor_pool, "ada@examples.gov")
    scim.delete(f"Users/{user['id']}")

    again = create_user(scim, "ada@examples.gov")

    assert again["id"] == user["id"] and again["active"] is True
    employee.refresh_from_db()
    assert employee.status == Employee.Status.ACTIVE
    restored = Seat.objects.live().get(employee=employee)
    assert restored.allocation == vendor_pool and restored.state == Seat.State.PENDING
    assert ProvisioningJob.objects.filter(seat=restored, action="create").exists()


def test_active_true_restores_revoked_seats_when_the_pool_agency_allows(scim, vendor_pool):
    user, employee, _ = with_seat(scim, vendor_pool, "ada@examples.gov")
    deactivate(scim, user["id"])

    response = scim.patch(f"Users/{user['id']}", patch_body({"op": "replace", "value": {"active": True}}))

    assert response.json_body["active"] is True
    assert Seat.objects.live().filter(employee=employee, allocation=vendor_pool).count() == 1


def test_active_true_restores_nothing_when_the_agency_policy_says_no(scim, vendor_pool, department):
    department.restore_seats_on_reactivation = False
    department.save()
    user, employee, _ = with_seat(scim, vendor_pool, "ada@examples.gov")
    deactivate(scim, user["id"])

    scim.patch(f"Users/{user['id']}", patch_body({"op": "replace", "path": "active", "value": True}))

    employee.refresh_from_db()
    assert employee.status == Employee.Status.ACTIVE
    assert not Seat.objects.live().filter(employee=employee).exists()


def test_a_seat_an_administrator_revoked_for_another_reason_stays_revoked(scim, vendor_pool):
    user, employee, seat = with_seat(scim, vendor_pool, "ada@examples.gov")
    seat_services.seat_revoke(seat=seat, actor=ADMIN, reason="left the pilot")
    deactivate(scim, user["id"])

    scim.patch(f"Users/{user['id']}", patch_body({"op": "replace", "path": "active", "value": True}))

    assert not Seat.objects.live().filter(employee=employee).exists()


def test_a_full_pool_puts_a_returner_on_its_waitlist(scim, vendor_pool, make_employee, department):
    user, employee, _ = with_seat(scim, vendor_pool, "ada@examples.gov")
    deactivate(scim, user["id"])
    for person in (make_employee(department), make_employee(department)):
        seat_services.seat_claim(allocation=vendor_pool, employee=person, actor=ADMIN)

    outcomes = lifecycle.employee_reactivate(employee=employee, actor=ADMIN)

    assert [o.outcome for o in outcomes] == ["waiting"]
    assert WaitlistEntry.objects.get(employee=employee).state == WaitlistEntry.State.WAITING


def test_suspending_twice_changes_nothing_more(scim, vendor_pool):
    user, _employee, _ = with_seat(scim, vendor_pool, "ada@examples.gov")
    deactivate(scim, user["id"])
    deactivate(scim, user["id"])
    assert AuditEvent.objects.filter(verb="employee.suspend").count() == 1
    assert AuditEvent.objects.filter(verb="seat.revoke").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class TestOneTransactionOnPostgres:
    def test_deactivation_commits_suspension_revocation_and_outbox_together(self, scim, vendor_pool):
        user, employee, seat = with_seat(scim, vendor_pool, "ada@examples.gov")

        assert deactivate(scim, user["id"]).status_code == 200

        # Read back on a fresh connection: all three are committed.
        connection.close()
        employee.refresh_from_db()
        seat.refresh_from_db()
        assert employee.status == Employee.Status.SUSPENDED and seat.state == Seat.State.REVOKED
        assert ProvisioningJob.objects.filter(seat=seat, action="deactivate").count() == 1

    def test_when_the_outbox_write_fails_nothing_changes(self, scim, vendor_pool):
        user, employee, seat = with_seat(scim, vendor_pool, "ada@examples.gov")
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION refuse_deactivation() RETURNS trigger AS $$ BEGIN "
                "IF NEW.action = 'deactivate' THEN RAISE EXCEPTION 'outbox unavailable'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_deactivation BEFORE INSERT ON provisioning_provisioningjob "
                "FOR EACH ROW EXECUTE FUNCTION refuse_deactivation()"
            )
        try:
            failed = deactivate(scim, user["id"])
            assert failed.status_code == 500 and failed.json_body["status"] == "500"
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TRIGGER refuse_deactivation ON provisioning_provisioningjob")
                cursor.execute("DROP FUNCTION refuse_deactivation()")

        employee.refresh_from_db()
        seat.refresh_from_db()
        assert employee.status == Employee.Status.ACTIVE and seat.state == Seat.State.ACTIVE
        assert not ProvisioningJob.objects.filter(action="deactivate").exists()
        assert not AuditEvent.objects.filter(verb__in=["employee.suspend", "seat.revoke"]).exists()
