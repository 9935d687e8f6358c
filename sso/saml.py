"""The SAML checks the platform adds on top of python3-saml, and the strict settings every agency gets.

python3-saml validates signatures, schema, timestamps, issuer and status, but lets through a
signed assertion with no AudienceRestriction, no NotOnOrAfter, no Recipient or a response with
no Destination; it compares Recipient and Destination loosely (substring and prefix); and it
only compares the *signed* ``SubjectConfirmationData@InResponseTo`` when that is present, while
allauth decides "SP-initiated" from the *unsigned* ``Response@InResponseTo``. ``inspect_post``
runs before python3-saml (so malformed input is a 400, never a 500) and ``enforce_strict``
after it, on the one signed assertion.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from allauth.socialaccount.providers.saml.utils import build_saml_config
from django.http import HttpRequest
from django.urls import reverse
from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from core.errors import SignInRefused
from sso.sp_keys import sp_key_pair

NS = {"samlp": C.NS_SAMLP, "saml": C.NS_SAML, "ds": C.NS_DS, "xenc": C.NS_XENC}
# What an encrypted assertion may be encrypted with. The content: AES only (3DES is disallowed for
# federal use since 2023, NIST SP 800-131A). The content key: RSA-OAEP only; RSA PKCS#1 v1.5 key
# transport is refused before any decryption is tried, since a decryption that fails differently
# from one that succeeds is a padding oracle (Bleichenbacher) on the service's key.
XENC11 = "http://www.w3.org/2009/xmlenc11#"
CONTENT_CIPHERS = frozenset(
    {
        C.AES128_CBC,
        C.AES192_CBC,
        C.AES256_CBC,
        f"{XENC11}aes128-gcm",
        f"{XENC11}aes192-gcm",
        f"{XENC11}aes256-gcm",
    }
)
KEY_TRANSPORTS = frozenset({C.RSA_OAEP_MGF1P, f"{XENC11}rsa-oaep"})
CLOCK_SKEW = timedelta(seconds=C.ALLOWED_CLOCK_DRIFT)
# Base64 of a response this large is far beyond any real assertion (they run 4-20 kB).
MAX_SAML_RESPONSE_CHARS = 256_000
# A bearer assertion lives minutes; one that claims to live longer is refused, which also bounds
# how long its id must be remembered for replay protection.
MAX_ASSERTION_LIFETIME = timedelta(hours=24)
_WHITESPACE = re.compile(rb"\s+")
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

# Every agency's SocialApp gets these; registration never lets them be loosened.
STRICT_ADVANCED: dict[str, Any] = {
    "strict": True,
    "want_assertion_signed": True,
    "want_message_signed": False,
    "reject_deprecated_algorithm": True,
    "want_name_id": True,
    "want_attribute_statement": True,
    "allow_repeat_attribute_name": False,
    "allow_single_label_domains": False,
    "reject_idp_initiated_sso": True,
    "authn_request_signed": False,
    "digest_algorithm": C.SHA256,
    "signature_algorithm": C.RSA_SHA256,
    "want_assertion_encrypted": False,
    "name_id_encrypted": False,
    "want_name_id_encrypted": False,
}


def social_app_settings(
    *, entity_id: str, sso_url: str, slo_url: str, certificates: list[str], mapping: dict[str, list[str]]
) -> dict[str, Any]:
    """The SocialApp.settings allauth's SAML provider reads, with every check switched on."""
    idp: dict[str, Any] = {
        "entity_id": entity_id,
        "sso_url": sso_url,
        "x509cert": certificates[0],
        # Read by build_auth below: python3-saml tries each pinned certificate in turn.
        "x509cert_multi": list(certificates),
    }
    if slo_url:
        idp["slo_url"] = slo_url
    return {"idp": idp, "attribute_mapping": mapping, "advanced": dict(STRICT_ADVANCED)}


def saml_config(request: HttpRequest, app_settings: dict[str, Any], slug: str) -> dict[str, Any]:
    """allauth's python3-saml settings for an agency, plus every pinned certificate and the
    service's own key pair when it has one (sso.sp_keys)."""
    config = build_saml_config(request, app_settings, slug)
    certs = app_settings.get("idp", {}).get("x509cert_multi") or []
    if len(certs) > 1:
        config["idp"]["x509certMulti"] = {"signing": list(certs), "encryption": [certs[0]]}
    pair = sp_key_pair()
    if pair is not None:
        config["sp"]["x509cert"] = pair.certificate
        config["sp"]["privateKey"] = pair.private_key
    return config


class _EncryptionMetadata(OneLogin_Saml2_Metadata):
    """SP metadata that offers the certificate for encryption as well as signing.

    python3-saml publishes it for encryption only when encryption is *required*; an agency's IdP
    may encrypt, and one that does not is accepted all the same.
    """

    @classmethod
    def add_x509_key_descriptors(cls, metadata: Any, cert: Any = None, add_encryption: bool = True) -> Any:
        return super().add_x509_key_descriptors(metadata, cert, add_encryption=True)


class SpSettings(OneLogin_Saml2_Settings):
    metadata_class = _EncryptionMetadata


# Built python3-saml settings per (agency, scheme and host, SocialApp settings). The key holds a
# digest of the agency's settings themselves, pinned certificates included, so a new certificate
# or new metadata is a new key: a changed IdP can never be validated with its old settings, and
# nothing has to be told to forget anything. Bounded, least recently used first out.
_SETTINGS_CACHE_SIZE = 512
_settings_cache: OrderedDict[tuple[str, str, str, str], SpSettings] = OrderedDict()
_settings_lock = threading.Lock()


def _settings_digest(app_settings: dict[str, Any]) -> str:
    canonical = json.dumps(app_settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def saml_settings(request: HttpRequest, app_settings: dict[str, Any], slug: str) -> SpSettings:
    """The agency's python3-saml settings object, built once per settings version and host.

    python3-saml only reads a settings object while validating, so one object serves every request.
    """
    pair = sp_key_pair()
    version = _settings_digest(app_settings) + (pair.fingerprint if pair else "")
    key = (slug, request.scheme or "", request.get_host(), version)
    with _settings_lock:
        built = _settings_cache.get(key)
        if built is not None:
            _settings_cache.move_to_end(key)
            return built
    built = SpSettings(saml_config(request, app_settings, slug), sp_validation_only=False)
    with _settings_lock:
        _settings_cache[key] = built
        while len(_settings_cache) > _SETTINGS_CACHE_SIZE:
            _settings_cache.popitem(last=False)
    return built


def saml_settings_forget() -> None:
    """Drop every built settings object (tests; a changed IdP never needs it, see above)."""
    with _settings_lock:
        _settings_cache.clear()


# python3-saml compiles the SAML protocol XSD (and the schemas it imports) from disk for every
# message it validates, which costs more than the rest of its validation together. The compiled
# schema is kept per thread (lxml documents and validators are not shared between threads) and
# python3-saml's schema check is pointed at it; the check itself is the same XSD, unchanged.
_SCHEMA_DIR = Path(xml_utils.__file__).parent / "schemas"
_schemas = threading.local()
STOCK_VALIDATE_XML = OneLogin_Saml2_XML.validate_xml


def compiled_schema(name: str) -> etree.XMLSchema:
    """python3-saml's XSD called ``name`` (a file in its schemas folder), compiled once per thread."""
    cache: dict[str, etree.XMLSchema] | None = getattr(_schemas, "by_name", None)
    if cache is None:
        cache = _schemas.by_name = {}
    schema = cache.get(name)
    if schema is None:
        path = _SCHEMA_DIR / name
        if Path(name).name != name or not path.is_file():
            raise ValueError(f"no python3-saml schema called {name!r}")
        schema = cache[name] = etree.XMLSchema(etree.parse(str(path)))
    return schema


def validate_xml(xml: Any, schema: str, debug: bool = False) -> Any:
    """python3-saml's ``OneLogin_Saml2_XML.validate_xml`` contract, on a compiled schema kept per thread."""
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:
        return "unloaded_xml"
    if not compiled_schema(schema).validate(document):
        return "invalid_xml"
    return document


def install_schema_cache() -> None:
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)  # type: ignore[method-assign]


def acs_url(request: HttpRequest, slug: str) -> str:
    return request.build_absolute_uri(reverse("saml_acs", kwargs={"organization_slug": slug}))


def request_data(request: HttpRequest, slug: str, post: dict[str, str]) -> dict[str, Any]:
    """What python3-saml needs to know about the request that reached the ACS."""
    return {
        "https": "on" if request.is_secure() else "off",
        "http_host": request.get_host(),
        "script_name": "",
        "path_info": reverse("saml_acs", kwargs={"organization_slug": slug}),
        "get_data": {},
        "post_data": post,
    }


def build_auth(request: HttpRequest, app_settings: dict[str, Any], slug: str, post: dict[str, str]):
    return OneLogin_Saml2_Auth(request_data(request, slug, post), saml_settings(request, app_settings, slug))


# --- before python3-saml ------------------------------------------------------------------------
def _refuse(message: str, reason: str, status: int = 400) -> SignInRefused:
    return SignInRefused(message, reason=reason, http_status=status)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def inspect_post(value: str | None) -> etree._Element:
    """Refuse what is not a plain, base64-encoded SAML Response document before parsing it for real."""
    if not value:
        raise _refuse("The sign-in response was empty.", "missing_response")
    if len(value) > MAX_SAML_RESPONSE_CHARS:
        raise _refuse("The sign-in response is too large.", "oversized", 413)
    raw = _WHITESPACE.sub(b"", value.encode("ascii", "replace"))
    try:
        xml = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _refuse("The sign-in response is not base64-encoded.", "not_base64") from exc
    if _DTD.search(xml):
        raise _refuse("The sign-in response declares a DTD, which SAML never uses.", "dtd")
    head = xml.lstrip()[:1]
    if head != b"<":
        # A deflated body (the Redirect binding's encoding, never valid on the POST binding),
        # JSON, or random bytes.
        raise _refuse("The sign-in response is not an XML document.", "not_xml")
    try:
        root = etree.fromstring(xml, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _refuse("The sign-in response is not well-formed XML.", "malformed_xml") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse("The sign-in response declares a DTD, which SAML never uses.", "dtd")
    if root.tag != f"{{{C.NS_SAMLP}}}Response":
        raise _refuse("The message is not a SAML Response.", "not_a_response")
    check_encryption_methods(root)
    return root


def check_encryption_methods(root: etree._Element) -> None:
    """Refuse anything encrypted in the response (an assertion, a NameID) whose content or key was
    encrypted with an algorithm this service does not accept (``CONTENT_CIPHERS``,
    ``KEY_TRANSPORTS``), before anything tries to decrypt it. The content key may sit inside the
    encrypted data or beside it (as ADFS and Shibboleth place it): both are checked."""
    for path, accepted, message in (
        (
            ".//xenc:EncryptedData",
            CONTENT_CIPHERS,
            "The assertion is encrypted with a cipher this service does not accept; use AES.",
        ),
        (
            ".//xenc:EncryptedKey",
            KEY_TRANSPORTS,
            "The assertion's key is encrypted in a way this service does not accept; use RSA-OAEP.",
        ),
    ):
        for node in root.iterfind(path, NS):
            method = node.find("xenc:EncryptionMethod", NS)
            if method is None or method.get("Algorithm") not in accepted:
                raise _refuse(message, "weak_encryption", 403)


# --- after python3-saml -------------------------------------------------------------------------
@dataclass(frozen=True)
class AssertionFacts:
    """What the strict checks established about the one signed assertion."""

    assertion_id: str
    in_response_to: str
    expires_at: datetime


def _time(value: str, what: str) -> datetime:
    try:
        stamp = OneLogin_Saml2_Utils.parse_SAML_to_time(value)
    except (ValueError, TypeError) as exc:
        raise _refuse(f"The assertion's {what} is not a valid time.", "bad_time", 403) from exc
    return datetime.fromtimestamp(stamp, tz=UTC)


def enforce_strict(document: etree._Element, *, acs: str, sp_entity_id: str, now: datetime) -> AssertionFacts:
    """The checks python3-saml leaves out, on the document it has just validated."""
    destination = document.get("Destination")
    if not destination:
        raise _refuse("The response names no Destination.", "missing_destination", 403)
    if destination != acs:
        raise _refuse("The response was meant for another address.", "wrong_destination", 403)
    ids = [node.get("ID") for node in document.iter() if isinstance(node.tag, str) and node.get("ID")]
    if len(ids) != len(set(ids)):
        raise _refuse("The response repeats an element id.", "duplicate_id", 403)
    if document.findall(".//saml:EncryptedAssertion", NS):
        # One encrypted assertion has been decrypted in place by now: another is one too many.
        raise _refuse("The response must carry exactly one assertion.", "assertion_count", 403)
    assertions = document.findall("saml:Assertion", NS)
    if len(assertions) != 1 or len(document.findall(".//saml:Assertion", NS)) != 1:
        raise _refuse("The response must carry exactly one assertion.", "assertion_count", 403)
    assertion = assertions[0]
    if assertion.find("ds:Signature", NS) is None:
        raise _refuse("The assertion is not signed.", "unsigned_assertion", 403)
    assertion_id = assertion.get("ID") or ""

    restrictions = assertion.findall("saml:Conditions/saml:AudienceRestriction", NS)
    if not restrictions:
        raise _refuse("The assertion names no audience.", "missing_audience", 403)
    for restriction in restrictions:
        audiences = [(a.text or "").strip() for a in restriction.findall("saml:Audience", NS)]
        if sp_entity_id not in audiences:
            raise _refuse("The assertion was issued for another service.", "wrong_audience", 403)

    response_irt = document.get("InResponseTo")
    bearer = [
        sc
        for sc in assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
        if sc.get("Method") == C.CM_BEARER
    ]
    if not bearer:
        raise _refuse("The assertion has no bearer subject confirmation.", "no_bearer_confirmation", 403)
    latest: datetime | None = None
    for confirmation in bearer:
        data = confirmation.find("saml:SubjectConfirmationData", NS)
        if data is None:
            raise _refuse("The assertion's subject confirmation is empty.", "missing_recipient", 403)
        recipient = data.get("Recipient")
        if not recipient:
            raise _refuse("The assertion names no Recipient.", "missing_recipient", 403)
        if recipient != acs:
            raise _refuse("The assertion was meant for another address.", "wrong_recipient", 403)
        not_on_or_after = data.get("NotOnOrAfter")
        if not not_on_or_after:
            raise _refuse("The assertion has no expiry (NotOnOrAfter).", "missing_not_on_or_after", 403)
        expiry = _time(not_on_or_after, "NotOnOrAfter")
        signed_irt = data.get("InResponseTo")
        if not signed_irt:
            raise _refuse(
                "The assertion does not answer a sign-in request from this site (unsolicited).",
                "unsolicited",
                403,
            )
        if signed_irt != response_irt:
            raise _refuse(
                "The assertion answers a different sign-in request.", "in_response_to_mismatch", 403
            )
        latest = expiry if latest is None or expiry > latest else latest
    conditions = assertion.find("saml:Conditions", NS)
    conditions_nooa = conditions.get("NotOnOrAfter") if conditions is not None else None
    if conditions_nooa:
        expiry = _time(conditions_nooa, "NotOnOrAfter")
        latest = expiry if latest is None or expiry > latest else latest
    assert latest is not None
    if latest - now > MAX_ASSERTION_LIFETIME:
        raise _refuse("The assertion claims to stay valid for more than a day.", "lifetime_too_long", 403)
    return AssertionFacts(
        assertion_id=assertion_id, in_response_to=response_irt or "", expires_at=latest + CLOCK_SKEW
    )
