"""Test sign-in: the administrator sees what their IdP sent and what would happen, and stays themselves."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from agencies.models import Employee
from audit.models import AuditEvent
from sso.test_sign_in import SESSION_KEY
from tests.conftest import complete_mfa
from tests.factories import EmployeeFactory
from tests.sso.saml_kit import HOST, SamlBrowser, encode

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, agency_admin, idp):
    complete_mfa(client, agency_admin)
    return SamlBrowser(client)


def start_test(browser: SamlBrowser, slug: str = "doe-x") -> str:
    response = browser.client.post(f"/agencies/{slug}/sso/test/", HTTP_HOST=HOST)
    assert response.status_code == 302, response.content[:300]
    return browser.request_id(response["Location"])


def test_a_new_person_is_reported_not_created_and_the_administrator_stays_signed_in(
    admin_browser, agency_admin, forge
):
    request_id = start_test(admin_browser)
    page = admin_browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    html = page.content.decode()
    assert page.status_code == 200
    assert "ada.lovelace@examples.gov would be signed in." in html
    assert "A new roster entry would be created" in html
    assert "ada-persistent-1" in html and "Lovelace" in html  # the NameID and the raw attributes
    assert admin_browser.signed_in_user_id == str(agency_admin.pk)
    assert not Employee.objects.filter(email="ada.lovelace@examples.gov").exists()
    assert not SocialAccount.objects.exists()
    assert get_user_model().objects.count() == 1
    assert not AuditEvent.objects.filter(verb__in=["sso.sign_in", "employee.create"]).exists()
    test = AuditEvent.objects.get(verb="sso.test_sign_in")
    assert test.actor_id == agency_admin.pk and test.after["outcome"] == "would sign in"
    assert SESSION_KEY not in admin_browser.client.session


def test_a_rostered_person_is_found_and_left_as_they_were(admin_browser, department, forge):
    rostered = EmployeeFactory(agency=department, email="ada.lovelace@examples.gov", source="scim")
    request_id = start_test(admin_browser)
    page = admin_browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert "already on the roster" in page.content.decode()
    rostered.refresh_from_db()
    assert rostered.user_id is None and rostered.last_seen_at is None


def test_a_person_who_would_be_refused_is_reported_with_the_reason(
    admin_browser, agency_admin, forge, other_department
):
    request_id = start_test(admin_browser)
    forged = forge.but(in_response_to=request_id, email="someone@elsewhere.gov")
    page = admin_browser.post("doe-x", encode(forged.build()))
    html = page.content.decode()
    assert page.status_code == 200
    assert "This person would be refused." in html and "Department of Elsewhere" in html
    assert admin_browser.signed_in_user_id == str(agency_admin.pk)
    assert AuditEvent.objects.get(verb="sso.test_sign_in").after["outcome"] == "would refuse: foreign_agency"


def test_a_response_failing_the_checks_is_refused_as_always_and_the_administrator_stays(
    admin_browser, agency_admin, forge
):
    request_id = start_test(admin_browser)
    forged = forge.but(in_response_to=request_id, sign_assertion=False)
    page = admin_browser.post("doe-x", encode(forged.build()))
    assert page.status_code == 403
    assert admin_browser.signed_in_user_id == str(agency_admin.pk)
    assert not AuditEvent.objects.filter(verb="sso.test_sign_in").exists()


def test_a_replayed_test_response_is_refused(admin_browser, forge):
    request_id = start_test(admin_browser)
    value = encode(forge.but(in_response_to=request_id).build())
    assert admin_browser.post("doe-x", value).status_code == 200
    start_test(admin_browser)
    assert admin_browser.post("doe-x", value).status_code == 403


@pytest.mark.parametrize("who", ["outsider_admin", "nobody"])
def test_only_the_agencys_administrators_can_start_one(client, idp, who, request):
    if who != "nobody":
        complete_mfa(client, request.getfixturevalue(who))
    response = client.post("/agencies/doe-x/sso/test/", HTTP_HOST=HOST)
    assert response.status_code in (302, 404)
    if response.status_code == 302:  # the anonymous visitor is sent to sign in, not to the IdP
        assert "/accounts/login/" in response["Location"]
    assert SESSION_KEY not in client.session


def test_an_ordinary_sign_in_in_another_browser_is_not_a_test(admin_browser, forge):
    start_test(admin_browser)
    employee_browser = SamlBrowser()
    request_id = employee_browser.start("doe-x")
    final = employee_browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert final.status_code == 302 and employee_browser.signed_in_user_id is not None
    assert Employee.objects.filter(email="ada.lovelace@examples.gov").exists()
