"""Reading an agency's IdP metadata and certificates, with errors an administrator can act on.

Nothing here writes: ``sso.services.identity_provider_register`` takes the ``IdpConfig`` this
module returns. Metadata is parsed with DTDs, entities and network access off.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import socket
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlparse

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.utils import timezone
from lxml import etree

from core.errors import IdentityProviderInvalid

MAX_METADATA_BYTES = 1_000_000
MAX_CERTIFICATES = 2
MIN_RSA_BITS = 2048
NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) CERTIFICATE-----")


@dataclass(frozen=True)
class CertificateInfo:
    """One X.509 certificate as the platform pins it: base64 DER body plus what a person checks."""

    body: str
    fingerprint_sha256: str
    subject: str
    not_before: datetime
    not_after: datetime

    @property
    def pem(self) -> str:
        lines = [self.body[i : i + 64] for i in range(0, len(self.body), 64)]
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


@dataclass(frozen=True)
class IdpConfig:
    """Everything needed to trust one IdP."""

    entity_id: str
    sso_url: str
    certificates: tuple[CertificateInfo, ...]
    slo_url: str = ""
    metadata_url: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def parse_xml(data: bytes, *, what: str) -> etree._Element:
    """Parse untrusted XML: no DTD (so no entity expansion), no network, bounded size."""
    if len(data) > MAX_METADATA_BYTES:
        raise IdentityProviderInvalid(f"The {what} is larger than {MAX_METADATA_BYTES // 1000} kB.")
    try:
        root = etree.fromstring(data, parser=_safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise IdentityProviderInvalid(f"The {what} is not well-formed XML: {exc}.") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise IdentityProviderInvalid(f"The {what} declares a DTD; metadata never needs one. Remove it.")
    return root


def parse_certificate(
    text: str, *, now: datetime | None = None, allow_future: bool = False
) -> CertificateInfo:
    """A PEM or bare base64 certificate, checked for expiry and key strength."""
    body = re.sub(r"\s+", "", _PEM_ARMOUR.sub("", text or ""))
    if not body:
        raise IdentityProviderInvalid("Paste the IdP's signing certificate (PEM, BEGIN CERTIFICATE ...).")
    try:
        der = base64.b64decode(body, validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise IdentityProviderInvalid(
            "The certificate cannot be read. Paste the whole PEM block, from "
            "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
        ) from exc
    subject = cert.subject.rfc4514_string()[:255]
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    moment = now or timezone.now()
    if not_after <= moment:
        raise IdentityProviderInvalid(
            f"The certificate {subject or '(no subject)'} expired on {not_after:%Y-%m-%d}. "
            "Ask the IdP's administrators for the current signing certificate or fresh metadata."
        )
    if not_before > moment and not allow_future:
        raise IdentityProviderInvalid(
            f"The certificate {subject or '(no subject)'} is not valid until {not_before:%Y-%m-%d}. "
            "Register it alongside the certificate in use today."
        )
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise IdentityProviderInvalid(
                f"The certificate's RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are required."
            )
    elif not isinstance(key, ec.EllipticCurvePublicKey):
        raise IdentityProviderInvalid(
            "The certificate's key must be RSA (2048 bits or more) or elliptic-curve."
        )
    digest = hashlib.sha256(der).hexdigest().upper()
    fingerprint = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
    return CertificateInfo(
        body=body,
        fingerprint_sha256=fingerprint,
        subject=subject,
        not_before=not_before,
        not_after=not_after,
    )


def parse_certificates(texts: list[str], *, now: datetime | None = None) -> tuple[CertificateInfo, ...]:
    """One or two certificates (two while the IdP rolls over); at least one valid today."""
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise IdentityProviderInvalid(
            "No signing certificate was given. The platform only trusts signed assertions, so it "
            "needs the IdP's signing certificate."
        )
    if len(texts) > MAX_CERTIFICATES:
        raise IdentityProviderInvalid(
            f"{len(texts)} signing certificates were given; pin at most {MAX_CERTIFICATES} "
            "(the current one and its successor during a rollover)."
        )
    moment = now or timezone.now()
    certs = tuple(parse_certificate(t, now=moment, allow_future=True) for t in texts)
    if not any(c.not_before <= moment for c in certs):
        raise IdentityProviderInvalid(
            "None of the certificates is valid yet. Register the certificate the IdP signs with today."
        )
    unique = {c.fingerprint_sha256: c for c in certs}
    return tuple(unique.values())


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_url(url: str, *, what: str, loopback_http: bool = False, allow_http: bool = False) -> str:
    """An https URL; plain http only to this machine, from an operator or in development."""
    value = (url or "").strip()
    parsed = urlparse(value)
    allowed = {"https"}
    if settings.DEBUG or allow_http or (loopback_http and _is_loopback(parsed.hostname or "")):
        allowed.add("http")
    if parsed.scheme not in allowed or not parsed.netloc:
        raise IdentityProviderInvalid(
            f"The {what} must be an https:// address; {value or 'nothing'!r} is not."
        )
    if len(value) > 1024:
        raise IdentityProviderInvalid(f"The {what} is longer than 1024 characters.")
    return value


def check_entity_id(entity_id: str) -> str:
    value = (entity_id or "").strip()
    if not value:
        raise IdentityProviderInvalid("The IdP entity id is missing (EntityDescriptor entityID).")
    if len(value) > 200:
        raise IdentityProviderInvalid("The IdP entity id is longer than 200 characters.")
    if any(ch.isspace() for ch in value):
        raise IdentityProviderInvalid("The IdP entity id contains spaces; copy it exactly from the metadata.")
    return value


def _endpoint(descriptor: etree._Element, tag: str) -> tuple[str, set[str]]:
    """The HTTP-Redirect location of an endpoint, and which bindings were offered at all."""
    offered: set[str] = set()
    location = ""
    for node in descriptor.findall(f"md:{tag}", NS):
        binding = node.get("Binding", "")
        offered.add(binding)
        if binding == BINDING_REDIRECT and not location:
            location = node.get("Location", "")
    return location, offered


def parse_metadata(
    data: bytes, *, entity_id: str = "", metadata_url: str = "", now: datetime | None = None
) -> IdpConfig:
    """Read an IdP's SAML 2.0 metadata (an EntityDescriptor, or an EntitiesDescriptor and an entity id)."""
    root = parse_xml(data, what="metadata")
    candidates = []
    for node in root.iter(f"{{{NS['md']}}}EntityDescriptor"):
        descriptor = node.find("md:IDPSSODescriptor", NS)
        if descriptor is not None:
            candidates.append((node, descriptor))
    if entity_id:
        candidates = [(n, d) for n, d in candidates if n.get("entityID") == entity_id]
    if not candidates:
        where = f" for {entity_id}" if entity_id else ""
        raise IdentityProviderInvalid(
            f"The metadata has no identity provider{where} (no EntityDescriptor with an "
            "IDPSSODescriptor). Is this the IdP's metadata rather than a service provider's?"
        )
    if len(candidates) > 1:
        ids = ", ".join(sorted(n.get("entityID", "?") for n, _ in candidates)[:5])
        raise IdentityProviderInvalid(
            f"The metadata describes several identity providers ({ids}, ...); name the one to use."
        )
    node, descriptor = candidates[0]
    if SAML2_PROTOCOL not in descriptor.get("protocolSupportEnumeration", "").split():
        raise IdentityProviderInvalid(
            "The IdP does not declare SAML 2.0 support (protocolSupportEnumeration)."
        )
    sso_url, offered = _endpoint(descriptor, "SingleSignOnService")
    if not offered:
        raise IdentityProviderInvalid(
            "The metadata has no SingleSignOnService endpoint, so there is nowhere to send people "
            "to sign in. Export the metadata again from the IdP, with its sign-on URL."
        )
    if not sso_url:
        raise IdentityProviderInvalid(
            "The IdP offers no HTTP-Redirect SingleSignOnService endpoint; this platform sends "
            "sign-in requests with the HTTP-Redirect binding. Enable it at the IdP."
        )
    slo_url, _ = _endpoint(descriptor, "SingleLogoutService")
    texts = []
    for key in descriptor.findall("md:KeyDescriptor", NS):
        if key.get("use", "signing") != "signing":
            continue
        for cert in key.iterfind(".//ds:X509Certificate", NS):
            texts.append(cert.text or "")
    certificates = parse_certificates(texts, now=now)
    warnings = []
    moment = now or timezone.now()
    for cert in certificates:
        days = (cert.not_after - moment).days
        if days < 30:
            warnings.append(
                f"The certificate {cert.subject} expires in {days} days ({cert.not_after:%Y-%m-%d})."
            )
    return IdpConfig(
        entity_id=check_entity_id(node.get("entityID", "")),
        sso_url=check_url(sso_url, what="sign-on URL"),
        slo_url=check_url(slo_url, what="logout URL") if slo_url else "",
        certificates=certificates,
        metadata_url=metadata_url,
        warnings=tuple(warnings),
    )


def _check_public(url: str) -> None:
    """Refuse a URL that resolves to this network (an administrator's URL must not reach inside)."""
    host = urlparse(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise IdentityProviderInvalid(f"{host} cannot be resolved; check the metadata URL.") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            raise IdentityProviderInvalid(
                f"{host} points at a private address; the metadata URL must be the IdP's public one."
            )


def fetch_metadata(url: str, *, timeout: float = 10.0, operator: bool = False) -> bytes:
    """Download metadata from the IdP's published URL, refusing anything oversized.

    ``operator`` (the register_idp command) may fetch from this machine; URLs typed into the
    web page must resolve to public addresses.
    """
    url = check_url(url, what="metadata URL", loopback_http=operator)
    if not operator:
        _check_public(url)
    try:
        headers = {"Accept": "application/samlmetadata+xml, */*"}
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url, headers=headers) as resp,
        ):
            if resp.status_code != 200:
                raise IdentityProviderInvalid(
                    f"{url} answered HTTP {resp.status_code}; check the address, or upload the "
                    "metadata file instead."
                )
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_METADATA_BYTES:
                    raise IdentityProviderInvalid(
                        f"The metadata at {url} is larger than {MAX_METADATA_BYTES // 1000} kB."
                    )
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise IdentityProviderInvalid(
            f"The metadata could not be fetched from {url} ({exc.__class__.__name__}). Check the "
            "address, or upload the metadata file instead."
        ) from exc
    return b"".join(chunks)


def manual_config(
    *,
    entity_id: str,
    sso_url: str,
    certificates: list[str],
    slo_url: str = "",
    now: datetime | None = None,
    allow_http: bool = False,
) -> IdpConfig:
    """An IdP described by hand: entity id, sign-on URL and one or two certificates.

    ``allow_http`` is for the development IdP only, which is served by the development server.
    """
    return IdpConfig(
        entity_id=check_entity_id(entity_id),
        sso_url=check_url(sso_url, what="sign-on URL", allow_http=allow_http),
        slo_url=check_url(slo_url, what="logout URL") if slo_url.strip() else "",
        certificates=parse_certificates(certificates, now=now),
    )
