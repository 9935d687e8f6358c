"""A DNS boundary that does not answer (settings.DNS_TXT_RESOLVER in one test)."""

from __future__ import annotations

from core.errors import DnsLookupFailed


def unreachable(domain: str) -> list[str]:
    raise DnsLookupFailed(f"DNS did not answer for {domain} just now (Timeout). Try again in a few minutes.")
