"""Conditional requests on one resource (RFC 7644 §3.14, RFC 7232): ``If-Match`` and ``If-None-Match``.

Versions are weak ETags (``meta.version``), so both headers compare weakly: the opaque tags
must be equal, with or without ``W/``. SCIM clients send back the weak ``meta.version`` they read
in ``If-Match``, which a strong comparison would always refuse. A write checks ``If-Match``
against the row it has locked, so no other write can slip in between the check and the change.
"""

from __future__ import annotations

from django.http import HttpRequest

from provisioning.scim.payloads import ScimProblem


def _tags(header: str) -> list[str]:
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith(("W/", "w/")):
            tag = tag[2:]
        if tag:
            tags.append(tag)
    return tags


def _opaque(version: str) -> str:
    return version[2:] if version.startswith("W/") else version


def matches(header: str, version: str) -> bool:
    """Whether an If-Match or If-None-Match header names this version (or is ``*``)."""
    tags = _tags(header)
    return "*" in tags or _opaque(version) in tags


def require_match(request: HttpRequest, version: str) -> None:
    """Refuse a write with 412 when the client's If-Match names a version that is no longer current."""
    header = request.headers.get("If-Match")
    if header is not None and not matches(header, version):
        raise ScimProblem(
            f"The resource changed since you read it (it is now version {version}); read it again "
            "and send your change with its current version in If-Match.",
            412,
            None,
        )


def not_modified(request: HttpRequest, version: str) -> bool:
    """Whether a read may answer 304: the client's If-None-Match names the current version."""
    header = request.headers.get("If-None-Match")
    return header is not None and matches(header, version)
