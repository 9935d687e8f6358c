"""Test plumbing for SAML: key pairs, a response forger with a knob for every attack, and a browser.

The forger builds responses with lxml and signs them with xmlsec, like a careful IdP; each knob
bends one thing. pysaml2 (tests/sso/test_pysaml2_e2e.py) is the independent IdP for the happy paths.
"""

from __future__ import annotations

import base64
import copy
import functools
import secrets
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from django.test import Client
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from sso.dev_idp import sign
from sso.keys import make_key_pair

HOST = "seats.test"
SAMLP, SAML, DS = C.NS_SAMLP, C.NS_SAML, C.NS_DS
NSMAP = {"samlp": SAMLP, "saml": SAML}
EMAIL_OID = "urn:oid:0.9.2342.19200300.100.1.3"


@functools.cache
def keys(name: str) -> tuple[str, str]:
    """A named RSA key pair and certificate, made once per test run."""
    return make_key_pair(f"{name} test IdP")


def acs_url(slug: str) -> str:
    return f"http://{HOST}/accounts/saml/{slug}/acs/"


def sp_entity_id(slug: str) -> str:
    return f"http://{HOST}/accounts/saml/{slug}/metadata/"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


MISSING = object()


@dataclass
class Forge:
    """One SAML response. ``MISSING`` leaves an attribute or element out."""

    slug: str
    issuer: str
    key: tuple[str, str]
    in_response_to: object = None
    email: str = "ada.lovelace@examples.gov"
    name_id: str = "ada-persistent-1"
    given_name: str = "Ada"
    family_name: str = "Lovelace"
    extra_attributes: dict[str, list[str]] = field(default_factory=dict)
    destination: object = None
    recipient: object = None
    audiences: object = None  # list of lists: one inner list per AudienceRestriction
    scd_in_response_to: object = None
    scd_not_on_or_after: object = None
    conditions_not_before: object = None
    conditions_not_on_or_after: object = None
    status: str = C.STATUS_SUCCESS
    sign_assertion: bool = True
    sign_response: bool = False
    sign_algorithm: str = C.RSA_SHA256
    digest_algorithm: str = C.SHA256
    version: str = "2.0"
    assertion_issuer: object = None
    lifetime: timedelta = timedelta(minutes=5)

    def _value(self, value: object, default: object) -> object:
        return default if value is None else value

    def build(self) -> etree._Element:
        now = datetime.now(UTC)
        acs = acs_url(self.slug)
        irt = self._value(self.in_response_to, MISSING)
        response = etree.Element(f"{{{SAMLP}}}Response", nsmap=NSMAP)
        response.set("ID", "_r" + secrets.token_hex(16))
        response.set("Version", self.version)
        response.set("IssueInstant", stamp(now))
        destination = self._value(self.destination, acs)
        if destination is not MISSING:
            response.set("Destination", destination)
        if irt is not MISSING:
            response.set("InResponseTo", irt)
        etree.SubElement(response, f"{{{SAML}}}Issuer").text = self.issuer
        status = etree.SubElement(response, f"{{{SAMLP}}}Status")
        etree.SubElement(status, f"{{{SAMLP}}}StatusCode").set("Value", self.status)
        response.append(self.assertion(now, acs, irt))
        if self.sign_assertion:
            sign(
                response.find(f"{{{SAML}}}Assertion"),
                *self.key,
                sign_algorithm=self.sign_algorithm,
                digest_algorithm=self.digest_algorithm,
            )
        if self.sign_response:
            sign(
                response,
                *self.key,
                sign_algorithm=self.sign_algorithm,
                digest_algorithm=self.digest_algorithm,
            )
        return response

    def assertion(self, now: datetime, acs: str, irt: object) -> etree._Element:
        assertion = etree.Element(f"{{{SAML}}}Assertion", nsmap=NSMAP)
        assertion.set("ID", "_a" + secrets.token_hex(16))
        assertion.set("Version", "2.0")
        assertion.set("IssueInstant", stamp(now))
        etree.SubElement(assertion, f"{{{SAML}}}Issuer").text = str(
            self._value(self.assertion_issuer, self.issuer)
        )
        subject = etree.SubElement(assertion, f"{{{SAML}}}Subject")
        name_id = etree.SubElement(subject, f"{{{SAML}}}NameID")
        name_id.set("Format", C.NAMEID_PERSISTENT)
        name_id.text = self.name_id
        confirmation = etree.SubElement(subject, f"{{{SAML}}}SubjectConfirmation")
        confirmation.set("Method", C.CM_BEARER)
        data = etree.SubElement(confirmation, f"{{{SAML}}}SubjectConfirmationData")
        for attr, value in (
            ("NotOnOrAfter", self._value(self.scd_not_on_or_after, stamp(now + self.lifetime))),
            ("Recipient", self._value(self.recipient, acs)),
            ("InResponseTo", self._value(self.scd_in_response_to, irt)),
        ):
            if value is not MISSING:
                data.set(attr, value)
        conditions = etree.SubElement(assertion, f"{{{SAML}}}Conditions")
        for attr, value in (
            ("NotBefore", self._value(self.conditions_not_before, stamp(now - timedelta(minutes=1)))),
            ("NotOnOrAfter", self._value(self.conditions_not_on_or_after, stamp(now + self.lifetime))),
        ):
            if value is not MISSING:
                conditions.set(attr, value)
        audiences = self._value(self.audiences, [[sp_entity_id(self.slug)]])
        if audiences is not MISSING:
            for group in audiences:
                restriction = etree.SubElement(conditions, f"{{{SAML}}}AudienceRestriction")
                for audience in group:
                    etree.SubElement(restriction, f"{{{SAML}}}Audience").text = audience
        statement = etree.SubElement(assertion, f"{{{SAML}}}AuthnStatement")
        statement.set("AuthnInstant", stamp(now))
        statement.set("SessionIndex", "_s" + secrets.token_hex(8))
        context = etree.SubElement(statement, f"{{{SAML}}}AuthnContext")
        etree.SubElement(context, f"{{{SAML}}}AuthnContextClassRef").text = C.AC_PASSWORD_PROTECTED
        attributes = etree.SubElement(assertion, f"{{{SAML}}}AttributeStatement")
        values = {
            EMAIL_OID: [self.email],
            "urn:oid:2.5.4.42": [self.given_name],
            "urn:oid:2.5.4.4": [self.family_name],
        }
        values.update(self.extra_attributes)
        for name, items in values.items():
            if not items or items == [""]:
                continue
            attribute = etree.SubElement(attributes, f"{{{SAML}}}Attribute")
            attribute.set("Name", name)
            attribute.set("NameFormat", C.ATTRNAME_FORMAT_URI)
            for item in items:
                etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = item
        return assertion

    def but(self, **changes) -> Forge:
        return replace(self, **changes)


def encode(document: etree._Element | bytes) -> str:
    raw = document if isinstance(document, bytes) else etree.tostring(document)
    return base64.b64encode(raw).decode()


def deflate_encode(document: etree._Element) -> str:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = compressor.compress(etree.tostring(document)) + compressor.flush()
    return base64.b64encode(raw).decode()


def find(document: etree._Element, path: str) -> etree._Element:
    node = document.find(path, {"samlp": SAMLP, "saml": SAML, "ds": DS})
    assert node is not None, path
    return node


def clone(document: etree._Element) -> etree._Element:
    return copy.deepcopy(document)


class SamlBrowser:
    """A browser on the dotted test host that starts SP-initiated sign-ins and posts responses."""

    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client(HTTP_HOST=HOST)

    def start(self, slug: str, next_url: str = "/claim/") -> str:
        """POST the agency's login URL; return the AuthnRequest id the browser's session now expects."""
        response = self.client.post(f"/accounts/saml/{slug}/login/", {"next": next_url}, HTTP_HOST=HOST)
        assert response.status_code == 302, response.content[:500]
        return self.request_id(response["Location"])

    @staticmethod
    def request_id(location: str) -> str:
        from onelogin.saml2.utils import OneLogin_Saml2_Utils

        encoded = parse_qs(urlparse(location).query)["SAMLRequest"][0]
        root = etree.fromstring(OneLogin_Saml2_Utils.decode_base64_and_inflate(encoded))
        return root.get("ID")

    def park(self, slug: str, saml_response: str | None, *, relay_state: str = "", **extra):
        """Step one only: the IdP's POST to the ACS, which parks the response and answers the hop."""
        data = {} if saml_response is None else {"SAMLResponse": saml_response, "RelayState": relay_state}
        return self.client.post(f"/accounts/saml/{slug}/acs/", data, HTTP_HOST=HOST, **extra)

    def post(self, slug: str, saml_response: str | None, *, relay_state: str = "", **extra):
        """POST to the ACS and follow its hop to step two; return the final response."""
        first = self.park(slug, saml_response, relay_state=relay_state, **extra)
        if first.status_code != 302:
            return first
        return self.client.get(first["Location"], HTTP_HOST=HOST)

    @property
    def signed_in_user_id(self) -> str | None:
        return self.client.session.get("_auth_user_id")
