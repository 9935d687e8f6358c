"""The one place the platform asks DNS anything: TXT records, to verify an agency's email domain.

The resolver is named in settings (``DNS_TXT_RESOLVER``) so tests, and networks without
outside DNS, put their own in its place.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import DnsLookupFailed

TxtResolver = Callable[[str], list[str]]


def txt_records(domain: str) -> list[str]:
    """The TXT strings published at ``domain`` (empty when there are none)."""
    resolver: TxtResolver = import_string(settings.DNS_TXT_RESOLVER)
    return resolver(domain)


def dnspython_txt_records(domain: str) -> list[str]:
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(domain, "TXT", lifetime=5.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsLookupFailed(
            f"DNS did not answer for {domain} just now ({exc.__class__.__name__}). "
            "Nothing is wrong with your record; try again in a few minutes."
        ) from exc
    return ["".join(part.decode("utf-8", "replace") for part in record.strings) for record in answer]
