"""Agency staff's pages: pools and bureau pools, approvals, waitlist, revoke and reassign, roster,
domains, policy, reports and the audit log. Writes go through the services; refusals read as
USWDS alerts that say what to do; tables and charts cost a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyDomain, Employee
from audit.actors import Actor
from audit.models import AuditEvent
from seats.models import Allocation, Seat, WaitlistEntry
from seats.services import allocation_split, waitlist_join
from tests.conftest import complete_mfa
from tests.factories import EmployeeFactory

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")


@pytest.fixture
def admin(client, agency_admin):
    complete_mfa(client, agency_admin)
    return client


@pytest.fixture
def staff(client, onboarding_staff):
    complete_mfa(client, onboarding_staff)
    return client


def alerts(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


class TestPools:
    def test_split_confirms_then_carves_a_bureau_pool(self, admin, pool, bureau):
        url = f"/agencies/doe-x/pools/{pool.uuid}/split/"
        confirm = admin.post(url, {"agency": bureau.pk, "quantity": 4})
        assert ("To", "Bureau of Samples") in confirm.context["confirmation"]
        assert not Allocation.objects.filter(agency=bureau).exists()
        response = admin.post(url, {"agency": bureau.pk, "quantity": 4, "confirm": "1"}, follow=True)
        child = Allocation.objects.get(agency=bureau)
        assert (child.quantity, child.parent_id) == (4, pool.pk)
        assert "Bureau of Samples now has 4 seats of its own." in alerts(response)

    def test_splitting_more_than_is_free_says_how_many_are_free(self, admin, pool, bureau):
        response = admin.post(
            f"/agencies/doe-x/pools/{pool.uuid}/split/", {"agency": bureau.pk, "quantity": 50, "confirm": "1"}
        )
        assert response.status_code == 409
        assert (
            "has 10 free seats in ChatGPT Enterprise (OneGov), fewer than the 50 asked for"
            in response.content.decode()
        )

    def test_only_bureaus_without_a_pool_are_offered(self, admin, pool, bureau):
        allocation_split(parent=pool, agency=bureau, quantity=2, actor=ACTOR)
        response = admin.get(f"/agencies/doe-x/pools/{pool.uuid}/split/")
        assert list(response.context["form"].fields["agency"].queryset) == []

    def test_resizing_a_bureau_pool_takes_seats_from_the_parent(self, admin, pool, bureau):
        child = allocation_split(parent=pool, agency=bureau, quantity=2, actor=ACTOR)
        admin.post(f"/agencies/doe-x/pools/{child.uuid}/resize/", {"quantity": 6, "confirm": "1"})
        pool.refresh_from_db()
        child.refresh_from_db()
        assert (child.quantity, pool.reserved_for_children) == (6, 6)

    def test_a_department_pool_cannot_be_resized_by_the_agency(self, admin, pool):
        assert admin.get(f"/agencies/doe-x/pools/{pool.uuid}/resize/").status_code == 404

    def test_pools_page_lists_own_and_bureau_pools(self, admin, pool, bureau):
        allocation_split(parent=pool, agency=bureau, quantity=2, actor=ACTOR)
        response = admin.get("/agencies/doe-x/pools/")
        assert [row.agency.slug for row in response.context["own"]] == ["doe-x"]
        assert [row.agency.slug for row in response.context["bureaus"]] == ["bos"]


class TestApprovalsAndWaitlist:
    @pytest.fixture
    def requests(self, pool, department, make_employee, claim):
        department.claims_require_approval = True
        department.save()
        pool.agency.refresh_from_db()
        return [claim(pool, make_employee(department)) for _ in range(3)]

    def test_approving_the_ticked_claims(self, staff, requests):
        response = staff.post(
            "/agencies/doe-x/approvals/",
            {"seat": [str(s.uuid) for s in requests[:2]], "approve": "1"},
            follow=True,
        )
        assert "Approved 2 claims." in alerts(response)
        states = sorted(Seat.objects.values_list("state", flat=True))
        assert states == ["active", "active", "requested"]

    def test_rejecting_gives_the_seat_back_with_the_reason(self, staff, requests, pool):
        staff.post(
            "/agencies/doe-x/approvals/",
            {"seat": [str(requests[0].uuid)], "reject": "1", "reason": "not eligible"},
        )
        requests[0].refresh_from_db()
        pool.refresh_from_db()
        assert (requests[0].state, requests[0].reason, pool.assigned) == ("rejected", "not eligible", 2)

    def test_seats_of_another_agency_cannot_be_ticked(
        self, staff, requests, other_department, program, claim
    ):
        from tests.factories import AllocationFactory

        other_department.claims_require_approval = True
        other_department.save()
        foreign = claim(
            AllocationFactory(program=program, agency=other_department),
            EmployeeFactory(agency=other_department),
        )
        response = staff.post(
            "/agencies/doe-x/approvals/", {"seat": [str(foreign.uuid)], "approve": "1"}, follow=True
        )
        foreign.refresh_from_db()
        assert foreign.state == "requested"
        assert "Tick at least one claim first." in alerts(response)

    def test_the_queue_costs_the_same_queries_for_one_claim_or_many(
        self, staff, requests, pool, department, make_employee, claim
    ):
        with CaptureQueriesContext(connection) as few:
            staff.get("/agencies/doe-x/approvals/")
        for _ in range(6):
            claim(pool, make_employee(department))
        with CaptureQueriesContext(connection) as many:
            response = staff.get("/agencies/doe-x/approvals/")
        assert len(response.context["page"].object_list) == 9
        assert len(many.captured_queries) == len(few.captured_queries)

    def test_waitlist_shows_places_and_removes_a_person(
        self, staff, program, department, make_employee, claim
    ):
        from tests.factories import AllocationFactory

        full = AllocationFactory(program=program, agency=department, quantity=1)
        claim(full, make_employee(department))
        first, second = make_employee(department), make_employee(department)
        entry = waitlist_join(allocation=full, employee=first, actor=ACTOR)
        waitlist_join(allocation=full, employee=second, actor=ACTOR)
        response = staff.get("/agencies/doe-x/waitlist/")
        assert [e.position for e in response.context["page"].object_list] == [1, 2]
        staff.post("/agencies/doe-x/waitlist/", {"entry": str(entry.pk)})
        entry.refresh_from_db()
        assert entry.state == WaitlistEntry.State.CANCELLED


class TestRevokeAndReassign:
    def test_revoke_needs_a_reason_and_returns_the_seat_to_the_pool(self, staff, pool, employee, claim):
        seat = claim(pool, employee)
        url = f"/agencies/doe-x/seats/{seat.uuid}/revoke/"
        assert staff.post(url, {"reason": ""}).context["form"].errors["reason"]
        response = staff.post(url, {"reason": "left the agency"})
        assert response["Location"] == f"/agencies/doe-x/roster/{employee.uuid}/"
        seat.refresh_from_db()
        pool.refresh_from_db()
        assert (seat.state, seat.reason, pool.assigned) == ("revoked", "left the agency", 0)
        assert AuditEvent.objects.get(verb="seat.revoke").actor_label == "staff@examples.gov"

    def test_revoking_a_seat_that_already_ended_says_so(self, staff, pool, employee, claim):
        from seats.services import seat_revoke

        seat = claim(pool, employee)
        seat_revoke(seat=seat, actor=ACTOR, reason="gone")
        response = staff.post(f"/agencies/doe-x/seats/{seat.uuid}/revoke/", {"reason": "again"})
        assert "This seat is revoked; it cannot be revoked from that state." in response.content.decode()

    def test_reassign_confirms_then_moves_the_seat(
        self, staff, pool, employee, department, make_employee, claim
    ):
        seat = claim(pool, employee)
        other = make_employee(department)
        url = f"/agencies/doe-x/seats/{seat.uuid}/reassign/"
        confirm = staff.post(url, {"email": other.email.upper()})
        assert ("From", employee.email) in confirm.context["confirmation"]
        staff.post(url, {"email": other.email, "confirm": "1"})
        assert Seat.objects.get(employee=other, state="active").allocation == pool
        seat.refresh_from_db()
        assert seat.state == "revoked"

    def test_reassigning_to_someone_not_on_the_roster_says_what_to_do(self, staff, pool, employee, claim):
        seat = claim(pool, employee)
        response = staff.post(f"/agencies/doe-x/seats/{seat.uuid}/reassign/", {"email": "ghost@examples.gov"})
        assert "Add them to the roster first, then reassign the seat." in str(response.context["form"].errors)


class TestRoster:
    @pytest.fixture
    def people(self, department, bureau, pool, claim):
        made = [
            EmployeeFactory(agency=department, email=f"person{i:02d}@examples.gov", family_name=f"Zed{i:02d}")
            for i in range(60)
        ]
        EmployeeFactory(agency=bureau, email="smith@samples.gov", family_name="Smith")
        claim(pool, made[0])
        return made

    def test_pages_are_windows_of_fifty_without_a_full_count(self, staff, people):
        first = staff.get("/agencies/doe-x/roster/")
        page = first.context["page"]
        assert (len(page.object_list), page.has_next, page.start_index) == (50, True, 1)
        second = staff.get("/agencies/doe-x/roster/?page=2")
        assert (len(second.context["page"].object_list), second.context["page"].has_next) == (11, False)
        assert str(first.context["matching"]) == "61"

    @pytest.mark.parametrize(
        "query, expected",
        [
            ("q=smith", ["smith@samples.gov"]),
            ("q=SMI", ["smith@samples.gov"]),
            ("q=person59@", ["person59@examples.gov"]),
            ("seat=live", ["person00@examples.gov"]),
            ("seat=active", ["person00@examples.gov"]),
            ("bureau=BUREAU", ["smith@samples.gov"]),
        ],
    )
    def test_search_and_filters(self, staff, people, bureau, query, expected):
        query = query.replace("BUREAU", str(bureau.pk))
        response = staff.get(f"/agencies/doe-x/roster/?{query}")
        assert [e.email for e in response.context["page"].object_list] == expected

    def test_seat_none_filter_and_status_filter(self, staff, people):
        Employee.objects.filter(email="person01@examples.gov").update(status="departed")
        response = staff.get("/agencies/doe-x/roster/?seat=none&status=departed")
        assert [e.email for e in response.context["page"].object_list] == ["person01@examples.gov"]

    def test_the_roster_costs_the_same_queries_for_one_person_or_sixty(
        self, staff, department, employee, pool, claim
    ):
        claim(pool, employee)
        with CaptureQueriesContext(connection) as one:
            staff.get("/agencies/doe-x/roster/")
        for i in range(59):
            claim(
                pool, EmployeeFactory(agency=department, email=f"more{i}@examples.gov")
            ) if i < 5 else EmployeeFactory(agency=department, email=f"more{i}@examples.gov")
        with CaptureQueriesContext(connection) as many:
            response = staff.get("/agencies/doe-x/roster/")
        assert len(response.context["page"].object_list) == 50
        assert len(many.captured_queries) == len(one.captured_queries)

    def test_employee_page_shows_seats_and_history(self, staff, pool, employee, claim):
        claim(pool, employee)
        response = staff.get(f"/agencies/doe-x/roster/{employee.uuid}/")
        assert [s.state for s in response.context["seats"]] == ["active"]
        assert "Revoke" in response.content.decode()

    def test_adding_a_person_on_an_unverified_domain_explains_how_to_fix_it(self, staff, department):
        response = staff.post(
            "/agencies/doe-x/roster/add/", {"email": "someone@unknown.gov", "bureau": department.pk}
        )
        assert response.status_code == 400
        assert "An agency administrator can add and verify it under Domains." in response.content.decode()

    def test_adding_a_person(self, staff, bureau):
        response = staff.post(
            "/agencies/doe-x/roster/add/",
            {
                "email": "New.Person@Samples.gov",
                "given_name": "New",
                "family_name": "Person",
                "bureau": bureau.pk,
            },
        )
        person = Employee.objects.get(email="new.person@samples.gov")
        assert (person.agency, person.source) == (bureau, "manual")
        assert response["Location"] == f"/agencies/doe-x/roster/{person.uuid}/"


class TestDomains:
    def test_adding_a_non_federal_domain_says_why_not(self, admin):
        from tests.factories import RegisteredDomainFactory

        RegisteredDomainFactory(
            domain="springfield.gov", domain_type="City", organization_name="City of Springfield"
        )
        response = admin.post("/agencies/doe-x/domains/", {"domain": "springfield.gov"})
        assert response.status_code == 400
        assert (
            "registered to City of Springfield (City), not to a federal executive agency"
            in response.content.decode()
        )

    def test_add_then_verify_through_the_dns_boundary(self, admin, department, settings):
        admin.post("/agencies/doe-x/domains/", {"domain": "examples.mil"})
        row = AgencyDomain.objects.get(domain="examples.mil")
        page = admin.get("/agencies/doe-x/domains/").content.decode()
        assert f"ai-seats-verification={row.verification_token}" in page
        settings.DNS_TXT_RESOLVER = "tests.portal.fake_dns.published"
        from tests.portal import fake_dns

        fake_dns.RECORDS["examples.mil"] = ["v=spf1 -all", f"ai-seats-verification={row.verification_token}"]
        response = admin.post("/agencies/doe-x/domains/", {"verify": str(row.pk)}, follow=True)
        row.refresh_from_db()
        assert row.verified_at is not None
        assert "examples.mil is verified" in alerts(response)

    def test_a_missing_record_says_what_to_publish(self, admin, settings):
        admin.post("/agencies/doe-x/domains/", {"domain": "examples.mil"})
        row = AgencyDomain.objects.get(domain="examples.mil")
        settings.DNS_TXT_RESOLVER = "tests.portal.fake_dns.published"
        response = admin.post("/agencies/doe-x/domains/", {"verify": str(row.pk)}, follow=True)
        assert (
            f"No TXT record on examples.mil reads 'ai-seats-verification={row.verification_token}' yet"
            in alerts(response)
        )

    def test_dns_that_does_not_answer_is_not_blamed_on_the_record(self, admin, monkeypatch):
        import dns.exception
        import dns.resolver

        def timeout(*args, **kwargs):
            raise dns.exception.Timeout

        admin.post("/agencies/doe-x/domains/", {"domain": "examples.mil"})
        row = AgencyDomain.objects.get(domain="examples.mil")
        monkeypatch.setattr(dns.resolver, "resolve", timeout)
        response = admin.post("/agencies/doe-x/domains/", {"verify": str(row.pk)}, follow=True)
        assert "DNS did not answer for examples.mil just now (Timeout)." in alerts(response)
        assert "Nothing is wrong with your record" in alerts(response)


def test_policy_saves_through_the_service(admin, department):
    response = admin.post(
        "/agencies/doe-x/policy/",
        {"claims_require_approval": "on", "inactivity_reclaim_days": "30", "reclaim_grace_days": "14"},
    )
    assert response.status_code == 302
    department.refresh_from_db()
    assert (department.claims_require_approval, department.inactivity_reclaim_days) == (True, 30)
    assert department.restore_seats_on_reactivation is False
    assert AuditEvent.objects.get(verb="agency.policy").after["claims_require_approval"] is True


def test_reports_cost_the_same_queries_for_one_pool_or_many(
    admin, pool, department, bureau, make_employee, claim
):
    claim(pool, make_employee(department))
    with CaptureQueriesContext(connection) as one:
        admin.get("/agencies/doe-x/reports/")
    child = allocation_split(parent=pool, agency=bureau, quantity=3, actor=ACTOR)
    for _ in range(3):
        claim(child, make_employee(bureau))
    with CaptureQueriesContext(connection) as many:
        response = admin.get("/agencies/doe-x/reports/")
    assert len(response.context["rows"]) == 2
    assert sum(response.context["states"].datasets["Seats"]) == 4
    assert len(many.captured_queries) == len(one.captured_queries)


def test_overview_counts_what_needs_attention(staff, pool, department, make_employee, claim):
    department.claims_require_approval = True
    department.save()
    pool.agency.refresh_from_db()
    claim(pool, make_employee(department))
    response = staff.get("/agencies/doe-x/")
    assert str(response.context["requested"]) == "1"
    assert "Review approvals" in response.content.decode()


def test_audit_log_shows_the_subtree_only_and_filters(
    staff, pool, employee, claim, other_department, program
):
    from tests.factories import AllocationFactory

    claim(pool, employee)
    claim(
        AllocationFactory(program=program, agency=other_department), EmployeeFactory(agency=other_department)
    )
    response = staff.get("/agencies/doe-x/audit/")
    assert {e.agency_id for e in response.context["page"].object_list} == {pool.agency_id}
    assert not staff.get("/agencies/doe-x/audit/?subject=domain.").context["page"].object_list
    assert staff.get("/agencies/doe-x/audit/?actor=test").context["page"].object_list
