"""Issue 8, item 5: a full pool, an ended term, a domain that is not federal and a misconfigured
IdP each tell the person what happened and what to do, on the page they were using."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from agencies.models import AgencyDomain, RegisteredDomain
from audit.actors import Actor
from seats.models import Allocation, Seat, WaitlistEntry
from seats.services import seat_claim
from sso.models import IdentityProvider
from tests.conftest import complete_mfa
from tests.factories import AllocationFactory, EmployeeFactory, RegisteredDomainFactory
from tests.sso.saml_kit import HOST, SamlBrowser

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def text(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, whitespace squeezed."""
    words = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(words).split())


@pytest.fixture
def admin_client(agency_admin):
    client = Client()
    complete_mfa(client, agency_admin)
    return client


@pytest.fixture
def ada_client(employee_user):
    client = Client()
    client.force_login(employee_user)
    return client


def ended(pool: Allocation) -> Allocation:
    """The pool's term ran out (as time does; no service moves a term into the past)."""
    Allocation.objects.filter(pk=pool.pk).update(
        term_starts_at=timezone.now() - timedelta(days=400), term_ends_at=timezone.now() - timedelta(days=5)
    )
    pool.refresh_from_db()
    return pool


# --- a full pool ----------------------------------------------------------------------------------
def test_an_employee_claiming_from_a_full_pool_is_told_it_is_full_and_put_in_line(
    ada_client, department, program, employee
):
    pool = AllocationFactory(program=program, agency=department, quantity=1)
    seat_claim(allocation=pool, employee=EmployeeFactory(agency=department), actor=SYSTEM)
    page = text(ada_client.get("/claim/"))
    assert "0 of 1 seats free" in page and "Join the waitlist" in page

    response = ada_client.post("/claim/", {"action": "claim", "allocation": str(pool.uuid)}, follow=True)
    page = text(response)
    assert "All seats in Department of Examples's ChatGPT Enterprise (OneGov) pool are taken." in page
    assert "You are on the waitlist at position 1; the next free seat goes to the person at the head" in page
    assert WaitlistEntry.objects.filter(employee=employee, state=WaitlistEntry.State.WAITING).count() == 1
    assert not Seat.objects.filter(employee=employee).exists()


def test_splitting_more_seats_than_are_free_says_how_many_are_and_what_to_do(
    admin_client, department, bureau, pool
):
    response = admin_client.post(
        f"/agencies/{department.slug}/pools/{pool.uuid}/split/",
        {"agency": bureau.pk, "quantity": 11, "confirm": "1"},
    )
    page = text(response)
    assert response.status_code == 409
    assert "Nothing was changed" in page
    assert (
        "Department of Examples has 10 free seats in ChatGPT Enterprise (OneGov), fewer than the 11 asked"
    ) in page
    assert "Split fewer seats or ask GSA to enlarge the pool." in page
    assert not Allocation.objects.filter(agency=bureau).exists()


# --- an ended term --------------------------------------------------------------------------------
def test_the_claim_page_explains_that_the_term_ended_and_when_seats_come_back(
    ada_client, department, program
):
    pool = ended(AllocationFactory(program=program, agency=department, quantity=5))
    page = text(ada_client.get("/claim/"))
    assert "The term has ended" in page
    ended_on = f"{pool.term_ends_at:%B} {pool.term_ends_at.day}, {pool.term_ends_at.year}"
    assert f"Department of Examples's ChatGPT Enterprise (OneGov) term ended on {ended_on}" in page
    assert "Seats open again when the pool is renewed" in page
    assert "Claim a seat" not in page


def test_claiming_after_the_term_ended_meanwhile_says_so_instead_of_not_found(
    ada_client, department, program, employee
):
    pool = AllocationFactory(program=program, agency=department, quantity=5)
    ada_client.get("/claim/")  # the page is opened with the pool still open...
    ended(pool)  # ...and the term ends before the button is pressed.
    response = ada_client.post("/claim/", {"action": "claim", "allocation": str(pool.uuid)}, follow=True)
    assert response.status_code == 200
    page = text(response)
    assert "term ended on" in page and "no seat can be claimed from it now" in page
    assert not Seat.objects.filter(employee=employee).exists()


def test_splitting_an_ended_pool_says_to_renew_it_first(admin_client, department, bureau, pool):
    ended(pool)
    response = admin_client.post(
        f"/agencies/{department.slug}/pools/{pool.uuid}/split/",
        {"agency": bureau.pk, "quantity": 2, "confirm": "1"},
    )
    assert response.status_code >= 400
    assert "has ended; renew it before splitting." in text(response)


# --- a domain that is not federal -----------------------------------------------------------------
def test_adding_a_public_mail_domain_says_why_and_which_domain_to_add(admin_client, department):
    response = admin_client.post(f"/agencies/{department.slug}/domains/", {"domain": "gmail.com"})
    page = text(response)
    assert response.status_code >= 400
    assert "gmail.com is a public email service, not a federal agency's own domain." in page
    assert "Add the domain of your agency's work email addresses, such as agency.gov." in page
    assert not AgencyDomain.objects.filter(domain="gmail.com").exists()


def test_adding_a_gov_domain_of_a_city_names_its_owner_and_what_to_add(admin_client, department):
    RegisteredDomainFactory(
        domain="springfield.gov", domain_type="City", organization_name="City of Springfield"
    )
    assert RegisteredDomain.objects.get(domain="springfield.gov").is_federal_executive is False
    response = admin_client.post(f"/agencies/{department.slug}/domains/", {"domain": "springfield.gov"})
    page = text(response)
    assert "springfield.gov is registered to City of Springfield (City)" in page
    assert "Add the domain of your agency's work email addresses instead." in page
    assert not AgencyDomain.objects.filter(domain="springfield.gov").exists()


def test_an_employee_discovering_with_a_personal_address_is_asked_for_the_work_one(client, department):
    response = client.post("/sso/discover/", {"email": "ada.lovelace@gmail.com"})
    assert response.status_code == 400
    page = text(response)
    assert "gmail.com is not the email domain of a federal agency." in page
    assert "Enter your work email address, for example firstname.lastname@agency.gov." in page


# --- a misconfigured IdP --------------------------------------------------------------------------
def test_registering_an_idp_with_a_broken_certificate_says_what_to_paste(admin_client, department):
    response = admin_client.post(
        f"/agencies/{department.slug}/sso/",
        {
            "action": "manual",
            "entity_id": "https://idp.examples.gov/saml",
            "sso_url": "https://idp.examples.gov/sso",
            "certificate": "my certificate",
        },
    )
    page = text(response)
    assert response.status_code == 400
    assert "The IdP was not saved The certificate cannot be read." in page
    assert "Paste the whole PEM block, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----" in page
    assert not IdentityProvider.objects.exists()


def test_an_idp_signing_with_a_key_nobody_registered_gets_a_page_saying_who_must_fix_what(
    department, settings, tmp_path
):
    """The IdP's key changed and nobody uploaded its new metadata: the employee learns it is not
    their fault, whom to tell and what the administrator must change."""
    from sso import dev_idp

    settings.VAR_DIR = tmp_path
    settings.SITE_URL = f"http://{HOST}"
    dev_idp.register(agency=department, actor=SYSTEM)
    for pem in (tmp_path / "dev-idp").iterdir():
        pem.unlink()  # the IdP now signs with a new key pair
    EmployeeFactory(agency=department, email="ada.lovelace@examples.gov", given_name="Ada", user=None)

    browser = SamlBrowser()
    start = browser.client.post("/accounts/saml/doe-x/login/", {"next": "/claim/"}, HTTP_HOST=HOST)
    idp_page = browser.client.get(start["Location"].removeprefix(f"http://{HOST}"), HTTP_HOST=HOST)
    form = {k: idp_page.context[k] for k in ("request_id", "acs", "sp_entity_id")}
    answer = browser.client.post(
        "/dev-idp/doe-x/sso/", {**form, "email": "ada.lovelace@examples.gov"}, HTTP_HOST=HOST
    )
    response = browser.post("doe-x", answer.context["saml_response"])

    assert response.status_code == 403
    page = text(response)
    assert "Department of Examples's sign-in is not set up correctly for AI Seats" in page
    assert "This is not something you did wrong and trying again will not help." in page
    assert "upload the identity provider's current metadata on the Single sign-on page" in page
    assert browser.signed_in_user_id is None
