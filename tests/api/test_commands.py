"""Each command endpoint: what it does when it may, and how it refuses when it may not."""

from __future__ import annotations

import csv
import io

import pytest

from agencies.models import AgencyDomain, Employee, RoleAssignment
from audit.models import AuditEvent
from audit.services import audit_record
from billing.models import RenewalOrder
from provisioning.scim.tokens import authenticate as scim_authenticate
from seats.models import Allocation, Seat
from tests.api.conftest import SYSTEM
from tests.portal import fake_dns


@pytest.fixture
def admin(world, bearer):
    return bearer(world.users["agency_admin"])


@pytest.fixture
def gsa(world, bearer):
    return bearer(world.users["gsa_admin"])


def pool_assigned(world) -> int:
    return Allocation.objects.get(pk=world.pool.pk).assigned


# --- seats ----------------------------------------------------------------------------------------
def test_an_employee_claims_a_seat_for_themselves(world, bearer):
    Seat.objects.filter(pk=world.active_seat.pk).update(
        state="revoked", ended_at=world.active_seat.claimed_at
    )
    Allocation.objects.filter(pk=world.pool.pk).update(assigned=1)
    response = bearer(world.users["employee"]).post(
        "/api/v1/seats/claim/", {"allocation": str(world.pool.uuid)}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["employee_email"] == "ada@examples.gov" and response.json()["state"] == "active"
    assert pool_assigned(world) == 2


def test_a_claim_on_a_full_pool_is_refused_and_changes_nothing(world, admin):
    Allocation.objects.filter(pk=world.pool.pk).update(quantity=2)
    response = admin.post(
        "/api/v1/seats/claim/",
        {"allocation": str(world.pool.uuid), "employee": str(world.carol.uuid)},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "pool_exhausted"
    assert pool_assigned(world) == 2 and not Seat.objects.filter(employee=world.carol).exists()


def test_a_second_claim_by_the_same_person_is_refused(world, admin):
    response = admin.post(
        "/api/v1/seats/claim/",
        {"allocation": str(world.pool.uuid), "employee": str(world.ada.uuid)},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "already_claimed"


def test_approving_a_requested_claim_activates_it_and_approving_twice_is_refused(world, admin):
    url = f"/api/v1/seats/{world.requested_seat.uuid}/approve/"
    first = admin.post(url)
    assert first.status_code == 200 and first.json()["state"] == "active"
    again = admin.post(url)
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_rejecting_a_claim_gives_its_place_back(world, admin):
    before = pool_assigned(world)
    response = admin.post(
        f"/api/v1/seats/{world.requested_seat.uuid}/reject/", {"reason": "duplicate"}, format="json"
    )
    assert response.status_code == 200 and response.json()["state"] == "rejected"
    assert pool_assigned(world) == before - 1
    refused = admin.post(f"/api/v1/seats/{world.active_seat.uuid}/reject/", {}, format="json")
    assert refused.status_code == 409


def test_revoking_ends_the_seat_and_needs_a_reason(world, bearer):
    staff = bearer(world.users["onboarding_staff"])
    url = f"/api/v1/seats/{world.active_seat.uuid}/revoke/"
    missing = staff.post(url, {}, format="json")
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"reason"}
    done = staff.post(url, {"reason": "left the agency"}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "revoked"
    assert done.json()["reason"] == "left the agency"
    assert staff.post(url, {"reason": "again"}, format="json").status_code == 409
    assert AuditEvent.objects.filter(verb="seat.revoke", target_id=str(world.active_seat.pk)).count() == 1


def test_reassigning_hands_the_seat_to_a_colleague_and_refuses_the_same_holder(world, admin):
    url = f"/api/v1/seats/{world.active_seat.uuid}/reassign/"
    same = admin.post(url, {"employee": str(world.ada.uuid)}, format="json")
    assert same.status_code == 400 and same.json()["code"] == "invalid_input"
    moved = admin.post(url, {"employee": str(world.carol.uuid)}, format="json")
    assert moved.status_code == 201 and moved.json()["employee_email"] == "carol@samples.gov"
    assert Seat.objects.get(pk=world.active_seat.pk).state == "revoked"


def test_reassigning_to_someone_outside_ones_scope_is_a_field_error(world, admin, make_employee):
    stranger = make_employee(world.other_department)
    response = admin.post(
        f"/api/v1/seats/{world.active_seat.uuid}/reassign/", {"employee": str(stranger.uuid)}, format="json"
    )
    assert response.status_code == 400 and set(response.json()["errors"]) == {"employee"}


# --- pools ----------------------------------------------------------------------------------------
def test_splitting_a_pool_to_a_bureau_and_refusing_more_than_is_free(world, admin):
    url = f"/api/v1/allocations/{world.pool.uuid}/split/"
    too_many = admin.post(url, {"agency": world.bureau.slug, "quantity": 9}, format="json")
    assert too_many.status_code == 409 and too_many.json()["code"] == "parent_pool_exceeded"
    made = admin.post(url, {"agency": world.bureau.slug, "quantity": 3}, format="json")
    assert made.status_code == 201 and made.json()["parent"] == str(world.pool.uuid)
    assert Allocation.objects.get(pk=world.pool.pk).reserved_for_children == 3


def test_gsa_resizes_a_department_pool_but_never_below_its_seats(world, gsa):
    url = f"/api/v1/allocations/{world.pool.uuid}/resize/"
    below = gsa.post(url, {"quantity": 1}, format="json")
    assert below.status_code == 409 and below.json()["code"] == "resize_below_assigned"
    grown = gsa.post(url, {"quantity": 50}, format="json")
    assert grown.status_code == 200 and grown.json()["quantity"] == 50


def test_gsa_allocates_a_pool_once_per_agency_and_program(world, gsa):
    body = {"program": world.program.slug, "agency": world.other_department.slug, "quantity": 25}
    assert gsa.post("/api/v1/allocations/", body, format="json").status_code == 201
    again = gsa.post("/api/v1/allocations/", body, format="json")
    assert again.status_code == 409 and again.json()["code"] == "allocation_exists"


# --- domains and the DNS boundary -----------------------------------------------------------------
def test_a_domain_is_added_then_verified_once_its_txt_record_is_published(world, admin):
    made = admin.post(
        "/api/v1/domains/", {"agency": world.department.slug, "domain": "Examples.NAVY.mil"}, format="json"
    )
    assert made.status_code == 201, made.content
    row = made.json()
    assert row["domain"] == "examples.navy.mil" and row["verified_at"] is None
    verify = f"/api/v1/domains/{row['id']}/verify/"
    early = admin.post(verify)
    assert early.status_code == 400 and "No TXT record" in early.json()["detail"]
    fake_dns.RECORDS["examples.navy.mil"] = ["v=spf1 -all", row["txt_record"]]
    done = admin.post(verify)
    assert done.status_code == 200 and done.json()["verified_at"] is not None
    assert AgencyDomain.objects.get(pk=row["id"]).verified_at is not None


def test_dns_that_does_not_answer_is_a_503_and_the_domain_stays_unverified(world, admin, settings):
    settings.DNS_TXT_RESOLVER = "tests.api.dns_down.unreachable"
    response = admin.post(f"/api/v1/domains/{world.pending_domain.pk}/verify/")
    assert response.status_code == 503 and response.json()["code"] == "dns_lookup_failed"
    world.pending_domain.refresh_from_db()
    assert world.pending_domain.verified_at is None


def test_a_domain_that_belongs_to_another_agency_is_refused(world, bearer):
    outsider = bearer(world.users["other_agency_admin"])
    response = outsider.post(
        "/api/v1/domains/", {"agency": world.other_department.slug, "domain": "examples.mil"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "domain_taken"


# --- employees and roles --------------------------------------------------------------------------
def test_staff_add_an_employee_and_cannot_move_them_out_of_the_department(world, bearer):
    staff = bearer(world.users["onboarding_staff"])
    made = staff.post(
        "/api/v1/employees/",
        {"agency": world.bureau.slug, "email": "Dora@Samples.gov", "given_name": "Dora"},
        format="json",
    )
    assert made.status_code == 201 and made.json()["email"] == "dora@samples.gov"
    url = f"/api/v1/employees/{made.json()['id']}/"
    moved = staff.patch(url, {"agency": world.department.slug, "family_name": "Explorer"}, format="json")
    assert moved.status_code == 200 and moved.json()["agency"]["slug"] == world.department.slug
    away = staff.patch(url, {"agency": world.other_department.slug}, format="json")
    assert away.status_code == 400 and set(away.json()["errors"]) == {"agency"}


def test_an_employee_on_another_agencys_domain_is_refused(world, admin):
    response = admin.post(
        "/api/v1/employees/", {"agency": world.department.slug, "email": "eve@elsewhere.gov"}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "foreign_agency"
    assert not Employee.objects.filter(email="eve@elsewhere.gov").exists()


def test_an_agency_admin_grants_staff_roles_but_not_gsa(world, admin):
    made = admin.post(
        "/api/v1/role-assignments/",
        {"username": "newcomer", "role": "onboarding_staff", "agency": world.bureau.slug},
        format="json",
    )
    assert made.status_code == 201 and made.json()["agency"]["slug"] == world.bureau.slug
    refused = admin.post(
        "/api/v1/role-assignments/", {"username": "newcomer", "role": "gsa_admin"}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_permitted"
    assert not RoleAssignment.objects.filter(user__username="newcomer", role="gsa_admin").exists()
    gone = admin.delete(f"/api/v1/role-assignments/{made.json()['id']}/")
    assert gone.status_code == 204
    assert not RoleAssignment.objects.filter(pk=made.json()["id"]).exists()


# --- SCIM tokens ----------------------------------------------------------------------------------
def test_a_scim_token_is_shown_once_never_listed_and_revoked_by_delete(world, admin):
    made = admin.post(
        "/api/v1/scim-tokens/", {"agency": world.department.slug, "name": "Okta"}, format="json"
    )
    assert made.status_code == 201
    secret = made.json()["token"]
    assert secret.startswith("scim_") and made.json()["scim_base_url"].endswith("/scim/v2/")
    assert scim_authenticate(secret).token is not None
    listed = admin.get("/api/v1/scim-tokens/").json()["results"]
    assert listed and all("token" not in row and "token_hash" not in row for row in listed)
    assert secret not in str(listed)
    detail = admin.get(f"/api/v1/scim-tokens/{made.json()['id']}/").json()
    assert "token" not in detail and detail["usable"] is True
    assert admin.delete(f"/api/v1/scim-tokens/{made.json()['id']}/").status_code == 204
    assert scim_authenticate(secret).token is None
    duplicate = admin.post(
        "/api/v1/scim-tokens/", {"agency": world.department.slug, "name": "Entra ID"}, format="json"
    )
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "invalid_input"


# --- renewals -------------------------------------------------------------------------------------
def test_an_agency_requests_a_renewal_once_and_gsa_renews_it_free(world, admin, gsa):
    body = {"allocation": str(world.pool.uuid), "seats": 12, "purchase_order": "PO-7"}
    made = admin.post("/api/v1/renewal-orders/", body, format="json")
    assert made.status_code == 201 and made.json()["state"] == "requested"
    again = admin.post("/api/v1/renewal-orders/", body, format="json")
    assert again.status_code == 409 and again.json()["code"] == "renewal_exists"
    assert (
        admin.post(f"/api/v1/renewal-orders/{made.json()['id']}/approve/", {}, format="json").status_code
        == 403
    )
    approved = gsa.post(
        f"/api/v1/renewal-orders/{made.json()['id']}/approve/", {"waive": True}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["state"] == "fulfilled"
    assert Allocation.objects.get(pk=world.pool.pk).quantity == 12


def test_gsa_declines_only_with_a_reason_and_an_agency_cancels_its_own(world, admin, gsa):
    url = f"/api/v1/renewal-orders/{world.order.uuid}/"
    assert gsa.post(url + "decline/", {}, format="json").status_code == 400
    cancelled = admin.post(url + "cancel/", {"reason": "bought elsewhere"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert gsa.post(url + "decline/", {"reason": "late"}, format="json").status_code == 409
    assert RenewalOrder.objects.get(pk=world.order.pk).state == "cancelled"


# --- audit export and reports ---------------------------------------------------------------------
def test_the_audit_export_is_csv_of_the_callers_scope_with_formulas_defused(world, admin):
    from django.db import transaction

    with transaction.atomic():
        audit_record(
            actor=SYSTEM,
            verb="test.note",
            target=world.ada,
            agency_id=world.department.pk,
            after={"x": "=1+1"},
        )
        audit_record(actor=SYSTEM, verb="test.note", target=world.carol, agency_id=world.other_department.pk)
    response = admin.get("/api/v1/audit-events/export/?verb_prefix=test.")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["occurred_at", "actor_label", "actor_kind", "agency", "verb"]
    assert [r[3] for r in rows[1:]] == [world.department.slug]
    assert rows[1][7] == "ada@examples.gov"
    everything = admin.get("/api/v1/audit-events/export/")
    lines = b"".join(everything.streaming_content).decode().splitlines()
    assert len(lines) - 1 == AuditEvent.objects.filter(agency__path__startswith=world.department.path).count()


def test_a_formula_in_a_label_is_quoted_in_the_export(world, gsa):
    from django.db import transaction

    with transaction.atomic():
        AuditEvent.objects.create(
            occurred_at=world.ada.created_at,
            actor_label="=HYPERLINK(evil)",
            actor_kind="user",
            agency=world.department,
            verb="test.formula",
            target_type="agencies.employee",
            target_id="1",
        )
    body = b"".join(gsa.get("/api/v1/audit-events/export/?verb=test.formula").streaming_content).decode()
    assert list(csv.reader(io.StringIO(body)))[1][1] == "'=HYPERLINK(evil)"


def test_the_audit_list_filters_by_verb_and_agency(world, admin):
    rows = admin.get(f"/api/v1/audit-events/?verb=seat.claim&agency={world.department.slug}").json()[
        "results"
    ]
    assert rows and {r["verb"] for r in rows} == {"seat.claim"}
    assert {r["agency"] for r in rows} == {world.department.slug}


def test_the_utilization_report_counts_bureau_pools_in_their_department(world, admin):
    admin.post(
        f"/api/v1/allocations/{world.pool.uuid}/split/",
        {"agency": world.bureau.slug, "quantity": 4},
        format="json",
    )
    admin.post(
        "/api/v1/seats/claim/",
        {
            "allocation": str(Allocation.objects.get(agency=world.bureau).uuid),
            "employee": str(world.carol.uuid),
        },
        format="json",
    )
    report = admin.get(f"/api/v1/reports/utilization/?agency={world.department.slug}").json()
    pool = next(p for p in report["pools"] if p["allocation"]["id"] == str(world.pool.uuid))
    assert pool["claimed"] == 3 and pool["bureau_pools"] == 1
    assert report["bureau_pools"][0]["claimed"] == 1
    assert report["totals"]["allocated"] == 15


def test_a_pool_term_far_beyond_the_calendar_is_a_field_error(world, gsa):
    body = {
        "program": world.program.slug,
        "agency": world.other_department.slug,
        "quantity": 5,
        "term_starts_at": "9999-12-01T00:00:00Z",
    }
    response = gsa.post("/api/v1/allocations/", body, format="json")
    assert response.status_code == 400 and set(response.json()["errors"]) == {"term_starts_at"}
    assert not Allocation.objects.filter(agency=world.other_department).exists()
