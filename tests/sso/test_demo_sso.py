"""The demo signs employees in through the development IdP: the full SAML round trip, no outside service."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from core.demo import build_demo
from seats.models import Seat
from sso.models import IdentityProvider
from tests.sso.saml_kit import HOST, SamlBrowser

pytestmark = pytest.mark.django_db


def test_demo_connects_its_agencies_to_the_dev_idp_and_an_employee_claims_through_it(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_federal_data", stdout=io.StringIO())
    result = build_demo(password="demo-password-123")
    assert (
        IdentityProvider.objects.filter(is_development=True, agency__slug__in=["va", "hhs", "oge"]).count()
        == 3
    )
    build_demo(password="demo-password-123")
    assert IdentityProvider.objects.filter(is_development=True).count() == 7
    email = next(e for name, e in result.sign_in_examples if name == "Department of Veterans Affairs")

    browser = SamlBrowser()
    to_idp = browser.client.post("/sso/discover/", {"email": email}, HTTP_HOST=HOST)
    page = browser.client.get(to_idp["Location"].replace(settings.SITE_URL, ""), HTTP_HOST=HOST)
    assert email.encode() in page.content
    fields = {k: page.context[k] for k in ("request_id", "acs", "sp_entity_id")}
    posted = browser.client.post("/dev-idp/va/sso/", {**fields, "email": email}, HTTP_HOST=HOST)
    assert browser.post("va", posted.context["saml_response"])["Location"] == "/claim/"
    claim_page = browser.client.get("/claim/", HTTP_HOST=HOST)
    assert claim_page.context["employee"].email == email and email.encode() in claim_page.content
    (option,) = claim_page.context["options"]
    assert option.allocation.agency.slug == "va"
    assert option.seat == Seat.objects.filter(employee__email=email).live().first()
