"""A development identity provider, so the demo shows the whole SAML round trip with no outside service.

It exists only while ``settings.SSO_DEV_IDP`` is on, which production settings refuse (see
config/settings.py); its URLs are not even routed otherwise, and the ACS ignores IdPs registered
as development ones. It answers SP-initiated requests only: it lists the agency's employees,
and POSTs a response whose assertion is signed with a key kept under ``VAR_DIR/dev-idp/``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import xmlsec
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from agencies.models import Agency, Employee
from audit.actors import ActorLike
from sso.keys import stored_key_pair
from sso.metadata import manual_config
from sso.models import IdentityProvider

SAMLP, SAML = C.NS_SAMLP, C.NS_SAML
XS, XSI = "http://www.w3.org/2001/XMLSchema", "http://www.w3.org/2001/XMLSchema-instance"
ATTRIBUTES = (
    ("urn:oid:0.9.2342.19200300.100.1.3", "mail", "email"),
    ("urn:oid:2.5.4.42", "givenName", "given_name"),
    ("urn:oid:2.5.4.4", "sn", "family_name"),
    ("urn:oid:2.16.840.1.113730.3.1.3", "employeeNumber", "employee_number"),
)
_SIGN = {C.RSA_SHA256: xmlsec.Transform.RSA_SHA256, C.RSA_SHA1: xmlsec.Transform.RSA_SHA1}
_DIGEST = {C.SHA256: xmlsec.Transform.SHA256, C.SHA1: xmlsec.Transform.SHA1}


def _enabled() -> None:
    if not getattr(settings, "SSO_DEV_IDP", False):
        raise Http404("The development IdP is off.")


def entity_id_for(agency: Agency) -> str:
    return f"urn:ai-seats:dev-idp:{agency.slug}"


def key_pair(directory: Path | None = None) -> tuple[str, str]:
    """The development IdP's key and certificate (PEM), made once per machine under VAR_DIR."""
    return stored_key_pair(directory or Path(settings.VAR_DIR) / "dev-idp", "AI Seats development IdP")


def register(*, agency: Agency, actor: ActorLike) -> IdentityProvider:
    """Point an agency at the development IdP (development only)."""
    from sso.services import identity_provider_register

    _enabled()
    _, cert_pem = key_pair()
    sso_url = settings.SITE_URL.rstrip("/") + reverse("dev_idp:sso", kwargs={"slug": agency.slug})
    config = manual_config(
        entity_id=entity_id_for(agency), sso_url=sso_url, certificates=[cert_pem], allow_http=True
    )
    return identity_provider_register(agency=agency, config=config, actor=actor, is_development=True)


def register_demo_agencies(*, slugs: list[str], actor: ActorLike) -> list[tuple[str, str]]:
    """Register the development IdP for each agency that has none; (agency name, an employee to try)."""
    examples = []
    for agency in Agency.objects.filter(slug__in=slugs).order_by("name"):
        existing = IdentityProvider.objects.filter(agency=agency).first()
        if existing is None:
            register(agency=agency, actor=actor)
        elif not existing.is_development:
            continue
        person = Employee.objects.in_subtree(agency).order_by("email").values_list("email", flat=True).first()
        if person:
            examples.append((agency.name, person))
    return examples


# --- building a response ------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(parent: etree._Element | None, ns: str, tag: str, text: str | None = None, **attrs: str):
    node = (
        etree.Element(f"{{{ns}}}{tag}", nsmap={"samlp": SAMLP, "saml": SAML})
        if parent is None
        else (etree.SubElement(parent, f"{{{ns}}}{tag}"))
    )
    for name, value in attrs.items():
        node.set(name, value)
    if text is not None:
        node.text = text
    return node


def sign(
    element: etree._Element,
    key_pem: str,
    cert_pem: str,
    *,
    sign_algorithm: str = C.RSA_SHA256,
    digest_algorithm: str = C.SHA256,
) -> etree._Element:
    """Sign a Response or Assertion in place (enveloped, exclusive c14n), right after its Issuer."""
    signature = xmlsec.template.create(element, xmlsec.Transform.EXCL_C14N, _SIGN[sign_algorithm], ns="ds")
    issuer = element.find(f"{{{SAML}}}Issuer")
    if issuer is not None:
        issuer.addnext(signature)
    else:
        element.insert(0, signature)
    ref = xmlsec.template.add_reference(signature, _DIGEST[digest_algorithm], uri="#" + element.get("ID"))
    xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    ctx = xmlsec.SignatureContext()
    key = xmlsec.Key.from_memory(key_pem.encode(), xmlsec.KeyFormat.PEM)
    key.load_cert_from_memory(cert_pem.encode(), xmlsec.KeyFormat.PEM)
    ctx.key = key
    xmlsec.tree.add_ids(element, ["ID"])
    ctx.sign(signature)
    return element


def build_response(
    *,
    issuer: str,
    acs: str,
    audience: str,
    in_response_to: str,
    name_id: str,
    attributes: dict[str, str],
    key_pem: str,
    cert_pem: str,
    lifetime: timedelta = timedelta(minutes=5),
) -> bytes:
    """A SAML 2.0 Response with one signed assertion, as a careful IdP sends it."""
    now = _now()
    response = _el(
        None,
        SAMLP,
        "Response",
        ID="_" + secrets.token_hex(20),
        Version="2.0",
        IssueInstant=_stamp(now),
        Destination=acs,
        InResponseTo=in_response_to,
    )
    _el(response, SAML, "Issuer", issuer)
    status = _el(response, SAMLP, "Status")
    _el(status, SAMLP, "StatusCode", Value=C.STATUS_SUCCESS)
    assertion = _el(
        response, SAML, "Assertion", ID="_" + secrets.token_hex(20), Version="2.0", IssueInstant=_stamp(now)
    )
    _el(assertion, SAML, "Issuer", issuer)
    subject = _el(assertion, SAML, "Subject")
    _el(subject, SAML, "NameID", name_id, Format=C.NAMEID_PERSISTENT)
    confirmation = _el(subject, SAML, "SubjectConfirmation", Method=C.CM_BEARER)
    _el(
        confirmation,
        SAML,
        "SubjectConfirmationData",
        NotOnOrAfter=_stamp(now + lifetime),
        Recipient=acs,
        InResponseTo=in_response_to,
    )
    conditions = _el(
        assertion,
        SAML,
        "Conditions",
        NotBefore=_stamp(now - timedelta(minutes=1)),
        NotOnOrAfter=_stamp(now + lifetime),
    )
    _el(_el(conditions, SAML, "AudienceRestriction"), SAML, "Audience", audience)
    statement = _el(
        assertion, SAML, "AuthnStatement", AuthnInstant=_stamp(now), SessionIndex="_" + secrets.token_hex(12)
    )
    _el(_el(statement, SAML, "AuthnContext"), SAML, "AuthnContextClassRef", C.AC_PASSWORD_PROTECTED)
    values = _el(assertion, SAML, "AttributeStatement")
    for name, friendly, key in ATTRIBUTES:
        if attributes.get(key):
            attribute = _el(
                values, SAML, "Attribute", Name=name, FriendlyName=friendly, NameFormat=C.ATTRNAME_FORMAT_URI
            )
            value = etree.SubElement(attribute, f"{{{SAML}}}AttributeValue", nsmap={"xs": XS, "xsi": XSI})
            value.set(f"{{{XSI}}}type", "xs:string")
            value.text = attributes[key]
    sign(assertion, key_pem, cert_pem)
    return etree.tostring(response, xml_declaration=False)


# --- views ----------------------------------------------------------------------------------------
def _read_request(encoded: str) -> dict[str, str]:
    """The AuthnRequest's id, ACS URL and issuer; anything malformed is a 400."""
    xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(encoded)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(xml, parser=parser)
    if root.tag != f"{{{SAMLP}}}AuthnRequest":
        raise ValueError("not an AuthnRequest")
    issuer = root.find(f"{{{SAML}}}Issuer")
    return {
        "request_id": root.get("ID", ""),
        "acs": root.get("AssertionConsumerServiceURL", ""),
        "sp_entity_id": (issuer.text or "").strip() if issuer is not None else "",
    }


def _identity_provider(slug: str) -> IdentityProvider:
    idp = (
        IdentityProvider.objects.select_related("agency")
        .filter(agency__slug=slug, is_development=True)
        .first()
    )
    if idp is None:
        raise Http404("This agency does not use the development IdP.")
    return idp


@require_http_methods(["GET", "POST"])
def sso_view(request: HttpRequest, slug: str) -> HttpResponse:
    _enabled()
    idp = _identity_provider(slug)
    agency = idp.agency
    expected_acs_path = reverse("saml_acs", kwargs={"organization_slug": agency.slug})
    source = request.POST if request.method == "POST" else request.GET
    if request.method == "GET":
        try:
            wanted = _read_request(source.get("SAMLRequest", ""))
        except Exception:  # any garbage in the query string
            return HttpResponseBadRequest("The sign-in request is missing or malformed. Start from AI Seats.")
    else:
        wanted = {k: source.get(k, "") for k in ("request_id", "acs", "sp_entity_id")}
    if urlparse(wanted["acs"]).path != expected_acs_path or not wanted["request_id"]:
        return HttpResponseBadRequest("This IdP only answers AI Seats sign-in requests for this agency.")
    if request.method == "GET":
        people = (
            Employee.objects.in_subtree(agency)
            .filter(status=Employee.Status.ACTIVE)
            .select_related("agency")
            .order_by("email")[:40]
        )
        return render(
            request,
            "sso/dev_idp_login.html",
            {"agency": agency, "people": people, "relay_state": source.get("RelayState", ""), **wanted},
        )
    # A person's button sends "email"; the free-text box (someone not on the roster) "other_email".
    email = (source.get("email") or source.get("other_email") or "").strip().lower()
    if not email or "@" not in email:
        return HttpResponseBadRequest("Choose a person or type an email address.")
    person = Employee.objects.filter(email=email).first()
    key_pem, cert_pem = key_pair()
    xml = build_response(
        issuer=idp.entity_id,
        acs=wanted["acs"],
        audience=wanted["sp_entity_id"],
        in_response_to=wanted["request_id"],
        name_id=f"dev-{email}",
        attributes={
            "email": email,
            "given_name": person.given_name if person else email.partition(".")[0].title(),
            "family_name": person.family_name if person else "",
            "employee_number": person.employee_number if person else "",
        },
        key_pem=key_pem,
        cert_pem=cert_pem,
    )
    return render(
        request,
        "sso/dev_idp_post.html",
        {
            "acs": wanted["acs"],
            "saml_response": OneLogin_Saml2_Utils.b64encode(xml),
            "relay_state": source.get("RelayState", ""),
            "email": email,
        },
    )
