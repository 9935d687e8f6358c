from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.models import AuditEvent
from seats import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(pool, employee, agency_admin):
    services.seat_claim(allocation=pool, employee=employee, actor=agency_admin)
    return AuditEvent.objects.get(verb="seat.claim")


def test_an_audit_row_names_the_actor_the_target_and_the_request(event, agency_admin):
    assert (event.actor_id, event.actor_label, event.actor_kind) == (
        agency_admin.pk,
        "admin@examples.gov",
        "user",
    )
    assert event.target_type == "seats.seat" and event.after["state"] == "active"


def test_the_orm_refuses_to_change_or_delete_audit_rows(event):
    event.verb = "forged"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(verb="forged")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql", ["UPDATE audit_auditevent SET verb = 'forged'", "DELETE FROM audit_auditevent"]
)
def test_postgres_refuses_update_and_delete_of_audit_rows_even_in_raw_sql(event, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.filter(verb="seat.claim").count() == 1


@pytest.mark.postgres
def test_postgres_refuses_truncate_of_the_audit_trail_unless_the_session_allows_it(event):
    # (No foreign key constraint points from the audit trail, so no TRUNCATE ... CASCADE reaches it.)
    with transaction.atomic(), connection.cursor() as cursor:
        # The test database allows it (Django empties tables so); production sessions do not.
        cursor.execute("SET LOCAL seats.audit_truncate_allowed = 'off'")
        with pytest.raises(DatabaseError, match="TRUNCATE on audit_auditevent refused"), transaction.atomic():
            cursor.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(verb="seat.claim").count() == 1


@pytest.mark.django_db(transaction=True)
def test_audit_outside_a_transaction_is_a_programming_error(employee, agency_admin):
    from audit.services import audit_record

    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record(actor=agency_admin, verb="x", target=employee)
