"""The attack corpus: every case is refused with a 4xx, leaves no session, creates no user or
employee, and writes an audit row; a valid control signs in during the same run.

Each case builds its response with the forger in saml_kit (lxml + xmlsec, like a real IdP),
bends one thing, and posts it through the ACS exactly as a browser would.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from agencies.models import Employee
from audit.models import AuditEvent
from sso.dev_idp import sign
from sso.models import AssertionUse
from tests.sso.saml_kit import (
    DS,
    EMAIL_OID,
    MISSING,
    SAML,
    SAMLP,
    Forge,
    SamlBrowser,
    acs_url,
    clone,
    deflate_encode,
    encode,
    find,
    keys,
    sp_entity_id,
    stamp,
)

pytestmark = pytest.mark.django_db
SLUG = "doe-x"
VICTIM = "grace.hopper@examples.gov"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}


@dataclass
class Case:
    browser: SamlBrowser
    forge: Forge
    other_forge: Forge
    forge_agency_id: int = 0
    snapshot: Callable[[], None] = field(default=lambda: None)

    def pending(self) -> Forge:
        """Start a sign-in in this browser; the forge now answers it."""
        return self.forge.but(in_response_to=self.browser.start(SLUG))

    def post(self, document, browser: SamlBrowser | None = None):
        value = document if isinstance(document, str) else encode(document)
        return (browser or self.browser).post(SLUG, value)

    def sign_in(self) -> str:
        """A legitimate sign-in; returns the base64 response it used."""
        value = encode(self.pending().build())
        response = self.browser.post(SLUG, value)
        assert response.status_code == 302 and self.browser.signed_in_user_id, response.content[:300]
        return value


def _assertion(document) -> etree._Element:
    return find(document, "saml:Assertion")


def _email_value(node) -> etree._Element:
    return node.find(f".//saml:Attribute[@Name='{EMAIL_OID}']/saml:AttributeValue", NS)


def _strip_signature(node) -> etree._Element:
    signature = node.find("ds:Signature", NS)
    if signature is not None:
        node.remove(signature)
    return node


def _evil_copy(assertion, *, keep_signature: bool, new_id: bool) -> etree._Element:
    evil = clone(assertion)
    _email_value(evil).text = VICTIM
    if not keep_signature:
        _strip_signature(evil)
    if new_id:
        evil.set("ID", "_evil" + evil.get("ID"))
    return evil


# --- the cases ----------------------------------------------------------------------------------
def unsigned_assertion(c: Case):
    return c.post(c.pending().but(sign_assertion=False).build())


def stripped_signature(c: Case):
    document = c.pending().build()
    _strip_signature(_assertion(document))
    return c.post(document)


def attacker_key_with_certificate_in_keyinfo(c: Case):
    return c.post(c.pending().but(key=keys("attacker")).build())


def content_edited_after_signing(c: Case):
    document = c.pending().build()
    _email_value(_assertion(document)).text = VICTIM
    return c.post(document)


def name_id_edited_after_signing(c: Case):
    document = c.pending().build()
    find(document, "saml:Assertion/saml:Subject/saml:NameID").text = "grace-persistent-2"
    return c.post(document)


def xsw1_signed_response_cloned_into_signature(c: Case):
    original = c.pending().but(sign_response=True, sign_assertion=False).build()
    evil = clone(original)
    evil.set("ID", "_evil" + original.get("ID"))
    signature = clone(original.find("ds:Signature", NS))
    _strip_signature(evil)
    _email_value(_assertion(evil)).text = VICTIM
    signature.append(_strip_signature(clone(original)))
    evil.insert(1, signature)
    return c.post(evil)


def xsw2_signed_response_detached_before_signature(c: Case):
    original = c.pending().but(sign_response=True, sign_assertion=False).build()
    evil = clone(original)
    evil.set("ID", "_evil" + original.get("ID"))
    _strip_signature(evil)
    _email_value(_assertion(evil)).text = VICTIM
    evil.insert(1, clone(original.find("ds:Signature", NS)))
    evil.insert(1, _strip_signature(clone(original)))
    return c.post(evil)


def xsw3_evil_assertion_before_signed_one(c: Case):
    document = c.pending().build()
    original = _assertion(document)
    original.addprevious(_evil_copy(original, keep_signature=False, new_id=True))
    return c.post(document)


def xsw4_evil_assertion_wrapping_signed_one(c: Case):
    document = c.pending().build()
    original = _assertion(document)
    evil = _evil_copy(original, keep_signature=False, new_id=True)
    document.replace(original, evil)
    evil.append(original)
    return c.post(document)


def xsw5_signature_moved_to_evil_copy_original_appended(c: Case):
    document = c.pending().build()
    original = _assertion(document)
    evil = _evil_copy(original, keep_signature=True, new_id=False)
    document.replace(original, evil)
    document.append(_strip_signature(clone(original)))
    return c.post(document)


def xsw6_original_inside_evil_signature(c: Case):
    document = c.pending().build()
    original = _assertion(document)
    evil = _evil_copy(original, keep_signature=True, new_id=False)
    document.replace(original, evil)
    evil.find("ds:Signature", NS).append(_strip_signature(clone(original)))
    return c.post(document)


def xsw7_original_in_extensions(c: Case):
    document = c.pending().build()
    original = _assertion(document)
    evil = _evil_copy(original, keep_signature=False, new_id=True)
    extensions = etree.Element(f"{{{SAMLP}}}Extensions")
    document.replace(original, evil)
    find(document, "saml:Issuer").addnext(extensions)
    extensions.append(original)
    return c.post(document)


def xsw8_original_in_signature_object(c: Case):
    document = c.pending().build()
    original = _assertion(document)
    evil = _evil_copy(original, keep_signature=True, new_id=False)
    document.replace(original, evil)
    holder = etree.SubElement(evil.find("ds:Signature", NS), f"{{{DS}}}Object")
    holder.append(_strip_signature(clone(original)))
    return c.post(document)


def signature_reference_points_elsewhere(c: Case):
    document = c.pending().build()
    reference = find(document, "saml:Assertion/ds:Signature/ds:SignedInfo/ds:Reference")
    reference.set("URI", "#" + document.get("ID"))
    return c.post(document)


def comment_injection_in_email_attribute(c: Case):
    # CVE-2017-11427 family: the IdP signed "...examples.gov.evil.test"; a comment splits the text.
    document = c.pending().but(email="ada.lovelace@examples.gov.evil.test").build()
    value = _email_value(_assertion(document))
    value.text = "ada.lovelace@examples.gov"
    comment = etree.Comment("")
    comment.tail = ".evil.test"
    value.append(comment)
    return c.post(document)


def comment_injection_in_name_id(c: Case):
    document = c.pending().but(email="").build()
    name_id = find(document, "saml:Assertion/saml:Subject/saml:NameID")
    name_id.set("Format", C.NAMEID_EMAIL_ADDRESS)
    # Re-sign the NameID as the IdP would have issued it, then split its text with a comment.
    _strip_signature(_assertion(document))
    name_id.text = "ada.lovelace@examples.gov.evil.test"
    sign(_assertion(document), *keys("examples"))
    name_id.text = "ada.lovelace@examples.gov"
    comment = etree.Comment("")
    comment.tail = ".evil.test"
    name_id.append(comment)
    return c.post(document)


def rsa_sha1_signature(c: Case):
    return c.post(c.pending().but(sign_algorithm=C.RSA_SHA1, digest_algorithm=C.SHA1).build())


def sha1_digest(c: Case):
    return c.post(c.pending().but(digest_algorithm=C.SHA1).build())


def expired(c: Case):
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(minutes=20)
    return c.post(
        c.pending()
        .but(
            scd_not_on_or_after=stamp(past),
            conditions_not_on_or_after=stamp(past),
            conditions_not_before=stamp(past - timedelta(minutes=5)),
        )
        .build()
    )


def not_yet_valid(c: Case):
    from datetime import UTC, datetime, timedelta

    return c.post(
        c.pending().but(conditions_not_before=stamp(datetime.now(UTC) + timedelta(minutes=30))).build()
    )


def lifetime_of_a_year(c: Case):
    from datetime import timedelta

    return c.post(c.pending().but(lifetime=timedelta(days=365)).build())


def missing_not_on_or_after(c: Case):
    return c.post(c.pending().but(scd_not_on_or_after=MISSING, conditions_not_on_or_after=MISSING).build())


def wrong_audience(c: Case):
    return c.post(c.pending().but(audiences=[["https://other-service.example.com/sp"]]).build())


def missing_audience(c: Case):
    return c.post(c.pending().but(audiences=MISSING).build())


def audience_missing_from_one_restriction(c: Case):
    return c.post(c.pending().but(audiences=[[sp_entity_id(SLUG)], ["https://other.example.com/sp"]]).build())


def audience_of_another_agency(c: Case):
    return c.post(c.pending().but(audiences=[[sp_entity_id("elsewhere")]]).build())


def wrong_recipient(c: Case):
    return c.post(c.pending().but(recipient=acs_url("elsewhere")).build())


def recipient_containing_our_url(c: Case):
    # python3-saml accepts this (substring test); the platform compares exactly.
    return c.post(c.pending().but(recipient="https://evil.example.com/?" + acs_url(SLUG)).build())


def missing_recipient(c: Case):
    return c.post(c.pending().but(recipient=MISSING).build())


def wrong_destination(c: Case):
    return c.post(c.pending().but(destination=acs_url("elsewhere")).build())


def destination_with_our_url_as_prefix(c: Case):
    # python3-saml accepts this (prefix test); the platform compares exactly.
    return c.post(c.pending().but(destination=acs_url(SLUG) + "evil/").build())


def missing_destination(c: Case):
    return c.post(c.pending().but(destination=MISSING).build())


def wrong_issuer(c: Case):
    return c.post(c.pending().but(issuer="https://evil.example.com/idp").build())


def wrong_assertion_issuer(c: Case):
    return c.post(c.pending().but(assertion_issuer="https://evil.example.com/idp").build())


def in_response_to_mismatch(c: Case):
    c.browser.start(SLUG)
    return c.post(c.forge.but(in_response_to="ONELOGIN_not_the_request_we_sent").build())


def unsolicited_response(c: Case):
    return c.post(c.forge.but(in_response_to=MISSING).build())


def unsolicited_assertion_with_unsigned_in_response_to(c: Case):
    # allauth reads the unsigned Response@InResponseTo; the signed assertion answers nothing.
    return c.post(c.pending().but(scd_in_response_to=MISSING).build())


def signed_in_response_to_differs(c: Case):
    return c.post(c.pending().but(scd_in_response_to="ONELOGIN_another_request").build())


def request_started_for_another_agency(c: Case):
    other_request = c.browser.start("elsewhere")
    return c.post(c.forge.but(in_response_to=other_request).build())


def replay_in_the_same_browser(c: Case):
    value = c.sign_in()
    c.browser.client.logout()
    c.browser.start(SLUG)
    c.snapshot()
    return c.browser.post(SLUG, value)


def replay_in_another_browser(c: Case):
    value = c.sign_in()
    thief = SamlBrowser()
    thief.start(SLUG)
    c.snapshot()
    response = thief.post(SLUG, value)
    c.browser = thief
    return response


def replay_with_a_copied_pending_session(c: Case):
    # The thief copied the victim's cookies before the victim finished signing in.
    forge = c.pending()
    thief = SamlBrowser()
    thief.client.cookies = c.browser.client.cookies.__class__(c.browser.client.cookies)
    value = encode(forge.build())
    assert c.browser.post(SLUG, value).status_code == 302
    c.snapshot()
    response = thief.post(SLUG, value)
    c.browser = thief
    return response


def two_assertions(c: Case):
    forge = c.pending()
    document = forge.build()
    document.append(_assertion(forge.build()))
    return c.post(document)


def failed_status(c: Case):
    return c.post(c.pending().but(status=C.STATUS_RESPONDER).build())


def another_agencys_idp_at_this_acs(c: Case):
    request_id = c.browser.start(SLUG)
    return c.post(c.other_forge.but(slug=SLUG, in_response_to=request_id).build())


def another_agencys_email(c: Case):
    return c.post(c.pending().but(email="someone@elsewhere.gov").build())


def unknown_email_domain(c: Case):
    return c.post(c.pending().but(email="ada@gmail.com").build())


def no_email(c: Case):
    return c.post(c.pending().but(email="").build())


def repeated_attribute_name(c: Case):
    document = c.pending().but(sign_assertion=False).build()
    statement = find(document, "saml:Assertion/saml:AttributeStatement")
    statement.append(clone(statement.find(f"saml:Attribute[@Name='{EMAIL_OID}']", NS)))
    statement[-1][0].text = VICTIM
    sign(_assertion(document), *keys("examples"))
    return c.post(document)


def saml_version_1_1(c: Case):
    return c.post(c.pending().but(version="1.1").build())


def xxe_external_entity(c: Case):
    c.browser.start(SLUG)
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0">'
        b"&x;</samlp:Response>"
    )
    return c.post(base64.b64encode(xml).decode())


def entity_expansion(c: Case):
    c.browser.start(SLUG)
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e0 "laugh">{entities}]>'
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&e9;</samlp:Response>'
    ).encode()
    return c.post(base64.b64encode(xml).decode())


def not_base64(c: Case):
    c.browser.start(SLUG)
    return c.post("<samlp:Response>this is not base64!</samlp:Response>")


def deflated_body(c: Case):
    return c.post(deflate_encode(c.pending().build()))


def json_body(c: Case):
    c.browser.start(SLUG)
    return c.post(base64.b64encode(b'{"SAMLResponse": "hello"}').decode())


def oversized_post(c: Case):
    c.browser.start(SLUG)
    return c.post("A" * 400_000)


def empty_post(c: Case):
    c.browser.start(SLUG)
    return c.browser.post(SLUG, None)


def finish_without_a_posted_response(c: Case):
    c.browser.start(SLUG)
    return c.browser.client.get(f"/accounts/saml/{SLUG}/acs/finish/", HTTP_HOST="seats.test")


# Each attack and the check that must refuse it (the reason in the audit row).
CASES = {
    unsigned_assertion: "no_signed_assertion",
    stripped_signature: "no_signed_assertion",
    attacker_key_with_certificate_in_keyinfo: "invalid_signature",
    content_edited_after_signing: "invalid_signature",
    name_id_edited_after_signing: "invalid_signature",
    xsw1_signed_response_cloned_into_signature: "wrong_number_of_assertions",
    xsw2_signed_response_detached_before_signature: "wrong_number_of_assertions",
    xsw3_evil_assertion_before_signed_one: "wrong_number_of_assertions",
    xsw4_evil_assertion_wrapping_signed_one: "wrong_number_of_assertions",
    xsw5_signature_moved_to_evil_copy_original_appended: "wrong_number_of_assertions",
    xsw6_original_inside_evil_signature: "wrong_number_of_assertions",
    xsw7_original_in_extensions: "wrong_number_of_assertions",
    xsw8_original_in_signature_object: "wrong_number_of_assertions",
    signature_reference_points_elsewhere: "invalid_signed_element",
    comment_injection_in_email_attribute: "email_domain_unknown",
    comment_injection_in_name_id: "email_domain_unknown",
    rsa_sha1_signature: "deprecated_signature_method",
    sha1_digest: "deprecated_digest_method",
    expired: "assertion_expired",
    not_yet_valid: "assertion_too_early",
    lifetime_of_a_year: "lifetime_too_long",
    missing_not_on_or_after: "missing_not_on_or_after",
    wrong_audience: "wrong_audience",
    missing_audience: "missing_audience",
    audience_missing_from_one_restriction: "wrong_audience",
    audience_of_another_agency: "wrong_audience",
    wrong_recipient: "wrong_subjectconfirmation",
    recipient_containing_our_url: "wrong_recipient",
    missing_recipient: "missing_recipient",
    wrong_destination: "wrong_destination",
    destination_with_our_url_as_prefix: "wrong_destination",
    missing_destination: "missing_destination",
    wrong_issuer: "wrong_issuer",
    wrong_assertion_issuer: "wrong_issuer",
    in_response_to_mismatch: "unsolicited",
    unsolicited_response: "unsolicited",
    unsolicited_assertion_with_unsigned_in_response_to: "unsolicited",
    signed_in_response_to_differs: "wrong_subjectconfirmation",
    request_started_for_another_agency: "unsolicited",
    replay_in_the_same_browser: "replayed",
    replay_in_another_browser: "replayed",
    replay_with_a_copied_pending_session: "replayed",
    two_assertions: "wrong_number_of_assertions",
    failed_status: "status_code_is_not_success",
    another_agencys_idp_at_this_acs: "wrong_issuer",
    another_agencys_email: "foreign_agency",
    unknown_email_domain: "email_domain_unknown",
    no_email: "no_email",
    repeated_attribute_name: "duplicated_attribute_name_found",
    saml_version_1_1: "unsupported_saml_version",
    xxe_external_entity: "dtd",
    entity_expansion: "dtd",
    not_base64: "not_base64",
    deflated_body: "not_xml",
    json_body: "not_xml",
    oversized_post: "oversized",
    empty_post: "missing_response",
    finish_without_a_posted_response: "no_parked_response",
}


@pytest.fixture
def case(browser, forge, idp, other_idp):
    return Case(
        browser=browser,
        forge=forge,
        other_forge=Forge(slug="elsewhere", issuer=other_idp.entity_id, key=keys("elsewhere")),
        forge_agency_id=idp.agency_id,
    )


def _counts() -> tuple[int, int, int, int]:
    return (
        get_user_model().objects.count(),
        Employee.objects.count(),
        SocialAccount.objects.count(),
        AuditEvent.objects.filter(verb="sso.sign_in.refused").count(),
    )


def test_the_corpus_has_at_least_forty_cases():
    assert len(CASES) >= 40


def test_valid_control_signs_in_in_the_same_run(case):
    before = _counts()
    response = case.post(case.pending().build())
    assert response.status_code == 302 and response["Location"] == "/claim/"
    assert case.browser.signed_in_user_id
    after = _counts()
    assert after[:3] == (before[0] + 1, before[1] + 1, before[2] + 1) and after[3] == before[3]
    assert AssertionUse.objects.count() == 1


@pytest.mark.parametrize("attack", list(CASES), ids=[f.__name__ for f in CASES])
def test_attack_is_refused_without_session_user_or_employee_and_is_audited(case, attack):
    seen: dict[str, tuple[int, int, int, int]] = {}

    def snapshot() -> None:
        seen["before"] = _counts()

    case.snapshot = snapshot
    snapshot()
    response = attack(case)
    before = seen["before"]
    after = _counts()
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:400])
    assert case.browser.signed_in_user_id is None
    assert after[:3] == before[:3], "a user, employee or linked account was created"
    assert after[3] >= before[3] + 1, "the refusal was not audited"
    assert not Employee.objects.filter(email=VICTIM).exists()
    refusal = AuditEvent.objects.filter(verb="sso.sign_in.refused").order_by("-id").first()
    assert refusal.after["reason"] == CASES[attack], refusal.after
    assert refusal.agency_id == case.forge_agency_id and refusal.actor_kind == "system"
