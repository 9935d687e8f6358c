"""What each agency's service provider publishes and trusts: metadata, requests, pinned keys."""

from __future__ import annotations

import pytest
from lxml import etree

from audit.actors import Actor
from sso.metadata import manual_config
from sso.services import identity_provider_register
from tests.sso.conftest import IDP_A
from tests.sso.saml_kit import HOST, SamlBrowser, encode, keys

pytestmark = pytest.mark.django_db
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


def test_sp_metadata_asks_for_signed_assertions_at_the_agency_acs(client, idp):
    response = client.get("/accounts/saml/doe-x/metadata/", HTTP_HOST=HOST)
    root = etree.fromstring(response.content)
    assert root.get("entityID") == f"http://{HOST}/accounts/saml/doe-x/metadata/"
    descriptor = root.find(f"{{{MD}}}SPSSODescriptor")
    assert descriptor.get("WantAssertionsSigned") == "true"
    acs = descriptor.find(f"{{{MD}}}AssertionConsumerService")
    assert acs.get("Location") == f"http://{HOST}/accounts/saml/doe-x/acs/"


def test_an_unknown_agency_has_no_service_provider(client, idp):
    assert client.get("/accounts/saml/nowhere/metadata/", HTTP_HOST=HOST).status_code == 404
    assert (
        client.post("/accounts/saml/nowhere/acs/", {"SAMLResponse": "x"}, HTTP_HOST=HOST).status_code == 404
    )


def test_the_login_page_confirms_then_sends_a_request_for_our_acs(client, idp):
    assert client.get("/accounts/saml/doe-x/login/", HTTP_HOST=HOST).status_code == 200
    response = client.post("/accounts/saml/doe-x/login/", HTTP_HOST=HOST)
    assert response["Location"].startswith(f"{IDP_A}/sso?SAMLRequest=")


def test_during_a_rollover_both_pinned_certificates_are_trusted_and_no_other(department, forge):
    config = manual_config(
        entity_id=IDP_A, sso_url=f"{IDP_A}/sso", certificates=[keys("examples")[1], keys("examples-next")[1]]
    )
    identity_provider_register(agency=department, config=config, actor=Actor.system("t"))
    for key_name, expected in (("examples", 302), ("examples-next", 302), ("stranger", 403)):
        browser = SamlBrowser()
        request_id = browser.start("doe-x")
        response = browser.post(
            "doe-x", encode(forge.but(in_response_to=request_id, key=keys(key_name)).build())
        )
        assert response.status_code == expected, key_name
