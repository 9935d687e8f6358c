"""Encrypted assertions: the service offers its certificate in each agency's SP metadata, and an IdP
that encrypts to it (pysaml2 here) signs people in; encryption never stands in for a signature."""

from __future__ import annotations

import base64

import pytest
from django.core.exceptions import ImproperlyConfigured
from lxml import etree

from agencies.models import Employee
from audit.models import AuditEvent
from sso import sp_keys
from sso.keys import make_key_pair
from tests.sso.saml_kit import HOST, SamlBrowser
from tests.sso.test_pysaml2_e2e import _connect

pytestmark = pytest.mark.django_db
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
ASSERTION = "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
ENCRYPTED = "{urn:oasis:names:tc:SAML:2.0:assertion}EncryptedAssertion"
XENC = "{http://www.w3.org/2001/04/xmlenc#}"


def _pem_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


@pytest.fixture
def sp_key(settings, tmp_path):
    """The service's own key pair, made for this test (as development makes one under var/)."""
    settings.SAML_SP_KEY_FILE = settings.SAML_SP_CERT_FILE = ""
    settings.SAML_SP_KEY_DIR = str(tmp_path / "saml-sp")
    pair = sp_keys.sp_key_pair()
    assert pair is not None
    return pair


@pytest.fixture
def no_sp_key(settings):
    settings.SAML_SP_KEY_FILE = settings.SAML_SP_CERT_FILE = settings.SAML_SP_KEY_DIR = ""
    assert sp_keys.sp_key_pair() is None


def _start(slug: str, idp) -> tuple[SamlBrowser, str]:
    browser = SamlBrowser()
    response = browser.client.post(f"/accounts/saml/{slug}/login/", {"next": "/claim/"}, HTTP_HOST=HOST)
    assert response.status_code == 302 and response["Location"].startswith(idp.sso_url)
    return browser, response["Location"]


def _refusal_reason() -> str:
    return AuditEvent.objects.filter(verb="sso.sign_in.refused").latest("occurred_at").after["reason"]


def _sent(value: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(value))


def test_the_sp_metadata_offers_the_service_certificate_for_encryption(sp_key, client, department):
    from audit.actors import Actor
    from sso.dev_idp import register

    register(agency=department, actor=Actor.system("test"))
    metadata = client.get(f"/accounts/saml/{department.slug}/metadata/", HTTP_HOST=HOST)
    assert metadata.status_code == 200
    root = etree.fromstring(metadata.content)
    uses = {
        descriptor.get("use"): descriptor.findtext(f".//{{{DS}}}X509Certificate").strip()
        for descriptor in root.iter(f"{{{MD}}}KeyDescriptor")
    }
    assert uses == {"signing": _pem_body(sp_key.certificate), "encryption": _pem_body(sp_key.certificate)}


def test_without_a_key_the_sp_metadata_offers_none(no_sp_key, client, department):
    from audit.actors import Actor
    from sso.dev_idp import register

    register(agency=department, actor=Actor.system("test"))
    metadata = client.get(f"/accounts/saml/{department.slug}/metadata/", HTTP_HOST=HOST)
    assert metadata.status_code == 200 and b"KeyDescriptor" not in metadata.content


def _sign_in(tmp_path, client, department, email: str, **answer) -> tuple[SamlBrowser, str, object]:
    """One sign-in through a pysaml2 IdP that answers with ``answer`` (encrypt, sign, encrypt_cert):
    the browser, the base64 response the IdP sent, and the ACS's final answer."""
    idp = _connect(department, "https://idp.examples.gov/pysaml2", tmp_path, client)
    browser, location = _start("doe-x", idp)
    value = idp.answer(location, {"mail": [email], "givenName": ["Ada"]}, email.split("@")[0], **answer)
    return browser, value, browser.post("doe-x", value)


def test_an_idp_that_encrypts_to_the_service_signs_the_person_in(sp_key, tmp_path, client, department):
    browser, value, final = _sign_in(tmp_path, client, department, "ada@examples.gov", encrypt=True)
    sent = _sent(value)
    assert sent.find(ENCRYPTED) is not None and sent.find(ASSERTION) is None  # nothing in the clear
    methods = [m.get("Algorithm") for m in sent.iter(f"{XENC}EncryptionMethod")]
    assert sorted(methods) == [f"{XENC[1:-1]}aes256-cbc", f"{XENC[1:-1]}rsa-oaep-mgf1p"]
    assert final.status_code == 302 and final["Location"] == "/claim/", final.content[:600]
    assert browser.signed_in_user_id
    assert Employee.objects.get(email="ada@examples.gov").given_name == "Ada"


def test_encryption_does_not_stand_in_for_the_signature(sp_key, tmp_path, client, department):
    browser, _, final = _sign_in(tmp_path, client, department, "eve@examples.gov", encrypt=True, sign=False)
    assert final.status_code == 403 and not browser.signed_in_user_id
    assert not Employee.objects.filter(email="eve@examples.gov").exists()
    assert _refusal_reason() == "no_signed_assertion"


@pytest.mark.parametrize(
    "weakness", [{"cipher": "3des"}, {"key_transport": "rsa-1_5"}], ids=["3des", "rsa-pkcs1-v1.5"]
)
def test_weak_encryption_is_refused_before_anything_is_decrypted(
    weakness, sp_key, tmp_path, client, department, monkeypatch
):
    """3DES is disallowed for federal use; RSA PKCS#1 v1.5 key transport would make the ACS a
    padding oracle on the service's key. Both are refused on sight, and nothing is decrypted."""
    from onelogin.saml2.response import OneLogin_Saml2_Response

    def never(*args, **kwargs):
        raise AssertionError("decryption was tried")

    monkeypatch.setattr(OneLogin_Saml2_Response, "_decrypt_assertion", never)
    browser, _, final = _sign_in(tmp_path, client, department, "ada@examples.gov", encrypt=True, **weakness)
    assert final.status_code == 403 and not browser.signed_in_user_id
    assert _refusal_reason() == "weak_encryption"
    assert "AES and RSA-OAEP" in final.content.decode()


def test_an_assertion_encrypted_to_another_key_is_refused(sp_key, tmp_path, client, department):
    _, stranger = make_key_pair("someone else's SP")
    browser, _, final = _sign_in(
        tmp_path, client, department, "ada@examples.gov", encrypt=True, encrypt_cert=stranger
    )
    assert final.status_code == 400 and not browser.signed_in_user_id
    assert _refusal_reason() == "invalid_response"  # it cannot be decrypted


def test_without_a_key_an_encrypted_assertion_is_refused_saying_why(no_sp_key, tmp_path, client, department):
    _, cert = make_key_pair("an SP key the service does not have")
    browser, _, final = _sign_in(
        tmp_path, client, department, "ada@examples.gov", encrypt=True, encrypt_cert=cert
    )
    assert final.status_code == 403 and not browser.signed_in_user_id
    assert "no key to read it" in final.content.decode()
    assert _refusal_reason() == "encrypted_assertion"


def test_a_configured_key_that_is_not_the_certificates_stops_with_a_clear_error(settings, tmp_path):
    key, _ = make_key_pair("one")
    _, cert = make_key_pair("two")
    (tmp_path / "sp.key").write_text(key)
    (tmp_path / "sp.crt").write_text(cert)
    settings.SAML_SP_KEY_FILE, settings.SAML_SP_CERT_FILE = str(tmp_path / "sp.key"), str(tmp_path / "sp.crt")
    with pytest.raises(ImproperlyConfigured, match="does not belong to its certificate"):
        sp_keys.sp_key_pair()


def test_configured_files_are_used(settings, tmp_path):
    key, cert = make_key_pair("AI Seats production SP")
    (tmp_path / "sp.key").write_text(key)
    (tmp_path / "sp.crt").write_text(cert)
    settings.SAML_SP_KEY_FILE, settings.SAML_SP_CERT_FILE = str(tmp_path / "sp.key"), str(tmp_path / "sp.crt")
    pair = sp_keys.sp_key_pair()
    assert pair is not None and pair.certificate == cert and pair.private_key == key


@pytest.mark.parametrize("with_key", [True, False])
def test_the_agency_page_says_whether_assertions_may_be_encrypted(
    with_key, request, client, agency_admin, staff_login
):
    pair = request.getfixturevalue("sp_key" if with_key else "no_sp_key")
    staff_login(client, agency_admin)
    text = client.get("/agencies/doe-x/sso/", HTTP_HOST=HOST).content.decode()
    if with_key:
        assert "may encrypt assertions" in text and pair.fingerprint_display in text
        assert "no encryption key" not in text
    else:
        assert "this service has no encryption key" in text and "may encrypt" not in text
