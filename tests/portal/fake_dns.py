"""Stand-in DNS for the domain-verification boundary (settings.DNS_TXT_RESOLVER)."""

from __future__ import annotations

RECORDS: dict[str, list[str]] = {}


def published(domain: str) -> list[str]:
    return list(RECORDS.get(domain, []))
