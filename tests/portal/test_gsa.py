"""GSA administrators' pages: the dashboard and its export, programs, and allocating, resizing and
renewing pools, each with a confirmation step and friendly refusals."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from seats.models import Allocation, Program
from tests.conftest import complete_mfa
from tests.factories import AgencyFactory, AllocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def gsa(client, gsa_admin):
    complete_mfa(client, gsa_admin)
    return client


@pytest.fixture
def busy_pool(pool, department, make_employee, claim):
    for _ in range(3):
        claim(pool, make_employee(department))
    return pool


class TestDashboard:
    def test_shows_every_pool_with_its_numbers_and_the_totals(self, gsa, busy_pool):
        response = gsa.get("/gsa/")
        assert response.status_code == 200
        row = response.context["rows"][0]
        assert (row.agency.slug, row.allocated, row.claimed, row.active) == ("doe-x", 10, 3, 3)
        assert response.context["totals"].utilization == pytest.approx(0.3)
        html = response.content.decode()
        assert "Department of Examples" in html and "30.0%" in html
        assert "data-sortable" in html

    def test_every_chart_has_a_table_with_the_same_numbers(self, gsa, busy_pool):
        html = gsa.get("/gsa/").content.decode()
        for chart_id in ("chart-utilization", "chart-claims", "chart-expiry"):
            assert f'<canvas id="{chart_id}"' in html
            assert f'id="{chart_id}-data"' in html
        assert '<caption class="usa-sr-only">Utilization by agency</caption>' in html

    @pytest.mark.parametrize(
        "query, expected",
        [
            ("q=examples", {"doe-x"}),
            ("q=DOX", {"doe-x"}),
            ("usage=high", {"busy"}),
            ("usage=low", {"idle"}),
            ("", {"doe-x", "busy", "idle"}),
        ],
    )
    def test_filters(self, gsa, busy_pool, program, query, expected):
        AllocationFactory(program=program, agency=AgencyFactory(slug="busy"), quantity=4, assigned=4)
        AllocationFactory(program=program, agency=AgencyFactory(slug="idle"), quantity=4)
        response = gsa.get(f"/gsa/?{query}")
        assert {row.agency.slug for row in response.context["rows"]} == expected

    def test_expiring_filter_keeps_pools_with_seats_ending_within_30_days(self, gsa, busy_pool, program):
        AllocationFactory(program=program, agency=AgencyFactory(slug="quiet"))
        Allocation.objects.filter(pk=busy_pool.pk).update(term_ends_at=timezone.now() + timedelta(days=3))
        from seats.models import Seat

        Seat.objects.update(expires_at=timezone.now() + timedelta(days=3))
        response = gsa.get("/gsa/?expiring=on")
        assert [row.agency.slug for row in response.context["rows"]] == ["doe-x"]

    def test_makes_the_same_number_of_queries_for_one_pool_or_many(self, gsa, busy_pool, program, claim):
        with CaptureQueriesContext(connection) as one:
            gsa.get("/gsa/")
        for n in range(8):
            agency = AgencyFactory(slug=f"extra-{n}")
            from tests.factories import AgencyDomainFactory, EmployeeFactory

            AgencyDomainFactory(agency=agency)
            extra = AllocationFactory(program=program, agency=agency)
            claim(extra, EmployeeFactory(agency=agency))
        with CaptureQueriesContext(connection) as many:
            response = gsa.get("/gsa/")
        assert len(response.context["rows"]) == 9
        assert len(many.captured_queries) == len(one.captured_queries)

    def test_csv_export_has_a_line_per_pool_with_the_same_filters(self, gsa, busy_pool, program):
        AllocationFactory(program=program, agency=AgencyFactory(slug="other", name="Other Agency"))
        response = gsa.get("/gsa/pools.csv?q=examples")
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert lines[0][:5] == ["agency", "abbreviation", "program", "allocated", "claimed"]
        assert len(lines) == 2
        assert lines[1][0] == "Department of Examples" and lines[1][3:6] == ["10", "3", "3"]
        assert lines[1][8] == "30.0"


class TestAllocate:
    def form(self, program, agency, quantity=500, **extra):
        return {"program": program.pk, "agency": agency.pk, "quantity": quantity, **extra}

    def test_shows_a_confirmation_before_allocating(self, gsa, program, department):
        response = gsa.post("/gsa/allocate/", self.form(program, department))
        assert response.status_code == 200
        assert response.context["confirming"] is True
        assert ("Seats", "500") in response.context["confirmation"]
        assert not Allocation.objects.exists()
        assert b"Please check before you confirm" in response.content

    def test_confirming_allocates_audits_and_goes_to_the_pool(self, gsa, program, department):
        response = gsa.post("/gsa/allocate/", self.form(program, department, confirm="1"))
        allocation = Allocation.objects.get()
        assert response.status_code == 302 and response["Location"] == f"/gsa/pools/{allocation.uuid}/"
        assert allocation.quantity == 500
        assert AuditEvent.objects.filter(verb="allocation.create", actor_label="admin@gsa.gov").count() == 1

    def test_change_the_values_goes_back_to_the_filled_form(self, gsa, program, department):
        response = gsa.post("/gsa/allocate/", self.form(program, department, edit="1"))
        assert not response.context.get("confirming")
        assert response.context["form"]["quantity"].value() == "500"

    def test_a_second_pool_for_the_same_agency_reads_as_a_friendly_alert(
        self, gsa, pool, program, department
    ):
        response = gsa.post("/gsa/allocate/", self.form(program, department, confirm="1"))
        assert response.status_code == 409
        html = response.content.decode()
        assert "usa-alert--error" in html
        assert "already has a pool in ChatGPT Enterprise (OneGov); resize that pool instead." in html

    def test_bureaus_are_not_offered(self, gsa, program, bureau):
        response = gsa.post("/gsa/allocate/", self.form(program, bureau, confirm="1"))
        assert "agency" in response.context["form"].errors
        assert not Allocation.objects.exists()


class TestResizeAndRenew:
    def test_resize_confirms_then_resizes(self, gsa, busy_pool):
        url = f"/gsa/pools/{busy_pool.uuid}/resize/"
        confirm = gsa.post(url, {"quantity": 20})
        assert ("Seats after", "20") in confirm.context["confirmation"]
        assert gsa.post(url, {"quantity": 20, "confirm": "1"}).status_code == 302
        busy_pool.refresh_from_db()
        assert busy_pool.quantity == 20

    def test_shrinking_below_the_seats_in_use_says_what_to_do(self, gsa, busy_pool):
        response = gsa.post(f"/gsa/pools/{busy_pool.uuid}/resize/", {"quantity": 1, "confirm": "1"})
        assert response.status_code == 409
        assert "Revoke seats or shrink the bureau pools first." in response.content.decode()
        busy_pool.refresh_from_db()
        assert busy_pool.quantity == 10

    def test_renew_moves_the_term_and_the_live_seats(self, gsa, busy_pool):
        new_end = (busy_pool.term_ends_at + timedelta(days=365)).date()
        url = f"/gsa/pools/{busy_pool.uuid}/renew/"
        assert gsa.get(url).context["form"].initial["ends_on"] > busy_pool.term_ends_at.date()
        gsa.post(url, {"ends_on": new_end.isoformat(), "confirm": "1"})
        busy_pool.refresh_from_db()
        assert busy_pool.term_ends_at.date() == new_end
        assert {seat.expires_at for seat in busy_pool.seats.all()} == {busy_pool.term_ends_at}

    def test_renewing_to_an_earlier_date_is_refused_kindly(self, gsa, busy_pool):
        earlier = (busy_pool.term_ends_at - timedelta(days=30)).date()
        response = gsa.post(
            f"/gsa/pools/{busy_pool.uuid}/renew/", {"ends_on": earlier.isoformat(), "confirm": "1"}
        )
        assert "a renewal must end later than that" in response.content.decode()

    def test_a_bureau_pool_is_not_a_gsa_pool(self, gsa, pool, bureau):
        from seats.services import allocation_split

        child = allocation_split(parent=pool, agency=bureau, quantity=2, actor=_actor())
        assert gsa.get(f"/gsa/pools/{child.uuid}/").status_code == 404


def _actor():
    from audit.actors import Actor

    return Actor.system("test")


class TestPrograms:
    def test_create_confirms_then_creates(self, gsa):
        data = {
            "name": "Claude for Government",
            "vendor": "Anthropic",
            "product": "Claude Enterprise",
            "term_months": 12,
            "price_per_agency": "1.00",
            "price_per_seat": "0",
            "starts_on": timezone.now().date().isoformat(),
            "connector": "none",
            "workspace_url": "https://claude.example/",
        }
        assert gsa.post("/gsa/programs/new/", data).context["confirming"]
        response = gsa.post("/gsa/programs/new/", {**data, "confirm": "1"})
        program = Program.objects.get()
        assert response["Location"] == f"/gsa/programs/{program.slug}/"
        assert program.workspace_url == "https://claude.example/"

    def test_edit_closes_a_program(self, gsa, program):
        response = gsa.post(
            f"/gsa/programs/{program.slug}/edit/",
            {"name": program.name, "description": "", "workspace_url": "", "renewal_terms": ""},
        )
        assert response.status_code == 302
        program.refresh_from_db()
        assert program.is_active is False
        assert "Closed" in gsa.get("/gsa/programs/").content.decode()

    def test_program_page_lists_its_pools(self, gsa, busy_pool):
        response = gsa.get(f"/gsa/programs/{busy_pool.program.slug}/")
        assert [row.agency.slug for row in response.context["rows"]] == ["doe-x"]


def test_gsa_audit_log_filters_by_kind_of_change(gsa, busy_pool):
    response = gsa.get("/gsa/audit/?subject=seat.")
    verbs = {event.verb for event in response.context["page"].object_list}
    assert verbs == {"seat.claim"}


def test_gsa_audit_log_reads_as_sentences_with_the_code_beside_them(gsa, busy_pool):
    html = gsa.get("/gsa/audit/?subject=seat.").content.decode()
    assert "Seat claimed" in html
    assert "<code" in html and "seat.claim" in html
    # The details are one field per line, not a dictionary's repr.
    assert "state: " in html
    assert "{&#x27;" not in html
