"""Single logout from the agency's IdP: signed messages only, any pinned certificate."""

from __future__ import annotations

import base64
import secrets
import zlib
from datetime import UTC, datetime
from urllib.parse import quote_plus

import pytest
import xmlsec
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from audit.actors import Actor
from sso.metadata import manual_config
from sso.services import identity_provider_register
from tests.sso.conftest import IDP_A
from tests.sso.saml_kit import HOST, Forge, SamlBrowser, encode, keys, stamp

pytestmark = pytest.mark.django_db
SLS = f"http://{HOST}/accounts/saml/doe-x/sls/"


@pytest.fixture
def idp_with_logout(department):
    config = manual_config(
        entity_id=IDP_A,
        sso_url=f"{IDP_A}/sso",
        slo_url=f"{IDP_A}/slo",
        certificates=[keys("examples")[1], keys("examples-next")[1]],
    )
    return identity_provider_register(agency=department, config=config, actor=Actor.system("t"))


def logout_query(key_name: str | None, *, sig_alg: str = C.RSA_SHA256) -> dict[str, str]:
    """An IdP-initiated LogoutRequest on the HTTP-Redirect binding, signed as the binding says."""
    xml = (
        f'<samlp:LogoutRequest xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" '
        f'ID="_lr{secrets.token_hex(8)}" Version="2.0" IssueInstant="{stamp(datetime.now(UTC))}" '
        f'Destination="{SLS}"><saml:Issuer>{IDP_A}</saml:Issuer>'
        "<saml:NameID>ada-persistent-1</saml:NameID></samlp:LogoutRequest>"
    ).encode()
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    query = {"SAMLRequest": base64.b64encode(deflater.compress(xml) + deflater.flush()).decode()}
    if key_name is None:
        return query
    query["SigAlg"] = sig_alg
    signed = f"SAMLRequest={quote_plus(query['SAMLRequest'])}&SigAlg={quote_plus(sig_alg)}"
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(keys(key_name)[0].encode(), xmlsec.KeyFormat.PEM)
    transform = xmlsec.Transform.RSA_SHA256 if sig_alg == C.RSA_SHA256 else xmlsec.Transform.RSA_SHA1
    query["Signature"] = base64.b64encode(ctx.sign_binary(signed.encode(), transform)).decode()
    return query


@pytest.fixture
def signed_in(idp_with_logout):
    browser = SamlBrowser()
    request_id = browser.start("doe-x")
    forge = Forge(slug="doe-x", issuer=IDP_A, key=keys("examples"), in_response_to=request_id)
    assert browser.post("doe-x", encode(forge.build())).status_code == 302
    return browser


@pytest.mark.parametrize("key_name", ["examples", "examples-next"])
def test_a_logout_signed_with_a_pinned_key_signs_out_and_answers_the_idp(signed_in, key_name):
    response = signed_in.client.get("/accounts/saml/doe-x/sls/", logout_query(key_name), HTTP_HOST=HOST)
    assert response.status_code == 302 and response["Location"].startswith(f"{IDP_A}/slo?SAMLResponse=")
    assert signed_in.signed_in_user_id is None


@pytest.mark.parametrize(
    "query",
    [
        lambda: logout_query(None),
        lambda: logout_query("stranger"),
        lambda: logout_query("examples", sig_alg=C.RSA_SHA1),
        lambda: {"SAMLRequest": "not base64 at all", "Signature": "x", "SigAlg": C.RSA_SHA256},
        dict,
    ],
    ids=["unsigned", "unknown-key", "rsa-sha1", "garbage", "empty"],
)
def test_other_logout_messages_are_refused_and_keep_the_session(signed_in, query):
    response = signed_in.client.get("/accounts/saml/doe-x/sls/", query(), HTTP_HOST=HOST)
    assert response.status_code == 400
    assert signed_in.signed_in_user_id is not None
