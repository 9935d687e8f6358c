"""The role-aware home page and the navigation, before and after other branches' pages exist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agencies.models import Agency
from core.portal import optional_agency_url, optional_url
from seats.models import Allocation, Seat
from seats.services import waitlist_join
from tests.conftest import complete_mfa
from tests.factories import AllocationFactory

pytestmark = pytest.mark.django_db
OTHERS = "tests.portal.urls_with_others"


def nav_labels(response) -> list[str]:
    return [item.label for item in response.context["primary_nav"]]


class TestSignedOut:
    def test_explains_and_offers_staff_sign_in(self, client):
        response = client.get("/")
        html = response.content.decode()
        assert "Enterprise AI seats for federal employees" in html
        assert 'href="/accounts/login/"' in html
        if not optional_url("sso:discover"):
            assert "Sign-in through your agency opens soon" in html
            assert nav_labels(response) == ["Staff sign-in"]

    def test_links_to_discovery_once_the_sso_branch_provides_it(self, client, settings):
        settings.ROOT_URLCONF = OTHERS
        response = client.get("/")
        assert f'href="{reverse("sso:discover")}"' in response.content.decode()
        assert nav_labels(response) == ["Employee sign-in", "Staff sign-in"]

    def test_the_page_has_the_government_banner_landmarks_and_skip_link(self, client):
        html = client.get("/").content.decode()
        assert "An official website of the United States government" in html
        assert '<a class="usa-skipnav" href="#main-content">' in html
        assert '<main id="main-content"' in html and "<footer" in html and 'aria-label="Primary"' in html


class TestEmployee:
    def test_shows_the_seat_its_end_and_the_workspace_link(
        self, client, employee_user, employee, pool, claim
    ):
        Allocation.objects.filter(pk=pool.pk)
        pool.program.workspace_url = "https://chatgpt.example/"
        pool.program.save()
        claim(pool, employee)
        complete_mfa(client, employee_user)
        html = client.get("/").content.decode()
        assert "Your seat is active" in html
        assert 'href="https://chatgpt.example/"' in html
        assert "Sign in there with your work email, ada.lovelace@examples.gov." in html

    def test_warns_when_the_seat_ends_within_30_days(self, client, employee_user, employee, pool, claim):
        seat = claim(pool, employee)
        Seat.objects.filter(pk=seat.pk).update(expires_at=timezone.now() + timedelta(days=9))
        complete_mfa(client, employee_user)
        html = client.get("/").content.decode()
        assert "usa-alert--warning" in html and "Your seat ends on" in html
        assert "Department of Examples decides whether to renew" in html

    def test_a_claim_waiting_for_approval_says_so(
        self, client, employee_user, employee, pool, department, claim
    ):
        department.claims_require_approval = True
        department.save()
        pool.agency.refresh_from_db()
        claim(pool, employee)
        complete_mfa(client, employee_user)
        assert "Waiting for approval" in client.get("/").content.decode()

    def test_shows_the_place_on_the_waitlist(
        self, client, employee_user, employee, program, department, make_employee, claim
    ):
        full = AllocationFactory(program=program, agency=department, quantity=1)
        claim(full, make_employee(department))
        waitlist_join(allocation=full, employee=make_employee(department), actor=employee_user)
        waitlist_join(allocation=full, employee=employee, actor=employee_user)
        complete_mfa(client, employee_user)
        html = client.get("/").content.decode()
        assert "with 1 person ahead of you" in html

    def test_no_seat_links_to_the_claim_page_when_it_exists(self, client, employee_user, settings):
        complete_mfa(client, employee_user)
        if not optional_url("claim"):
            assert "When Department of Examples opens claims" in client.get("/").content.decode()
        settings.ROOT_URLCONF = OTHERS
        response = client.get("/")
        assert f'href="{reverse("claim")}"' in response.content.decode()
        assert "Available seats" in nav_labels(response)

    def test_home_costs_the_same_queries_with_one_seat_or_several(
        self, client, employee_user, employee, program, department, claim, django_assert_num_queries
    ):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        claim(AllocationFactory(program=program, agency=department), employee)
        complete_mfa(client, employee_user)
        with CaptureQueriesContext(connection) as one:
            client.get("/")
        for _ in range(3):
            from tests.factories import ProgramFactory

            claim(AllocationFactory(program=ProgramFactory(), agency=department), employee)
        with django_assert_num_queries(len(one.captured_queries)):
            response = client.get("/")
        assert len(response.context["seats"]) == 4


class TestStaff:
    def test_gsa_administrators_get_the_dashboard_card_and_gsa_menu(self, client, gsa_admin):
        complete_mfa(client, gsa_admin)
        response = client.get("/")
        assert "Open the GSA dashboard" in response.content.decode()
        expected = ["Home", "Dashboard", "Programs", "Agencies"]
        expected += ["Renewals"] if optional_url("billing:gsa_renewals") else []
        assert nav_labels(response) == [*expected, "Audit log"]

    def test_the_renewals_link_appears_once_billing_provides_it(self, client, gsa_admin, settings):
        settings.ROOT_URLCONF = OTHERS
        complete_mfa(client, gsa_admin)
        nav = {item.label: item.url for item in client.get("/").context["primary_nav"]}
        assert nav["Renewals"] == reverse("billing:gsa_renewals")

    def test_agency_staff_get_a_card_per_agency_they_manage(self, client, agency_admin):
        complete_mfa(client, agency_admin)
        response = client.get("/")
        assert "Open DOX" in response.content.decode()
        assert nav_labels(response) == ["Home", "DOX"]

    def test_agency_side_menu_hides_admin_pages_from_onboarding_staff(self, client, onboarding_staff):
        complete_mfa(client, onboarding_staff)
        labels = [item.label for item in client.get("/agencies/doe-x/").context["agency_nav"]]
        assert "Seat pools" not in labels and "Email domains" not in labels and "Claim policy" not in labels
        assert {"Roster", "Approvals", "Import a roster", "Audit log"} <= set(labels)

    def test_agency_side_menu_links_sso_scim_and_renewals_only_when_they_exist(
        self, client, agency_admin, settings
    ):
        complete_mfa(client, agency_admin)
        others = {"Single sign-on": "sso:agency_sso", "SCIM tokens": "provisioning:scim_tokens"}
        others["Renewals"] = "billing:agency_renewals"
        labels = {item.label for item in client.get("/agencies/doe-x/").context["agency_nav"]}
        for label, name in others.items():
            assert (label in labels) == bool(optional_agency_url(name, Agency(slug="doe-x")))
        settings.ROOT_URLCONF = OTHERS
        nav = {item.label: item.url for item in client.get("/agencies/doe-x/").context["agency_nav"]}
        for label, name in others.items():
            assert nav[label] == reverse(name, kwargs={"slug": "doe-x"})

    def test_the_current_page_is_marked_in_the_side_menu(self, client, agency_admin, employee):
        complete_mfa(client, agency_admin)
        response = client.get(f"/agencies/doe-x/roster/{employee.uuid}/")
        assert [item.label for item in response.context["agency_nav"] if item.current] == ["Roster"]
        assert response.context["section"] == "Roster"

    def test_a_signed_in_person_without_any_role_is_told_how_to_get_one(self, client, nobody):
        complete_mfa(client, nobody)
        assert "Your account has no role here yet" in client.get("/").content.decode()
