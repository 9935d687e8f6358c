"""Per-client limits on the sign-in endpoints anyone can reach, counted in the shared cache.

Discovery tells a stranger whether a domain is known, the SP-initiated login signs a request, and
the ACS runs XML signature checks: each is cheap to ask for and dearer to answer, so each is
limited per client address in fixed one-minute windows. The ACS also has a ceiling per agency,
counted only for requests its address limit let through, so one noisy address cannot use up the
agency's allowance. With Redis every count is one round trip (a script: INCR, EXPIRE); other
caches use add/incr. An in-process cache (development, tests) counts per process, which is
enough there; production shares the cache through CACHE_URL. If that cache cannot be reached,
nothing is limited until it is back (and each request says so in the log): a Redis outage must
not lock a department out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone

from core.client_address import address_bucket
from core.shared_cache import UNREACHABLE, count_in_window, fixed_window, note_unreachable

WINDOW_SECONDS = 60

DISCOVERY = "discovery"
LOGIN = "login"
ACS = "acs"
_ADDRESS_LIMITS = {
    DISCOVERY: "SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE",
    LOGIN: "SSO_LOGIN_RATE_LIMIT_PER_MINUTE",
    ACS: "SSO_ACS_RATE_LIMIT_PER_MINUTE",
}
_AGENCY_LIMITS = {ACS: "SSO_ACS_AGENCY_RATE_LIMIT_PER_MINUTE"}


@dataclass(frozen=True)
class Throttled:
    """A request over its limit: which limit, how long until the window turns, and whether to note it."""

    scope: str
    per: str  # "address" or "agency"
    limit: int
    retry_after: int
    client_ip: str
    first_in_window: bool


def _limit(table: dict[str, str], scope: str) -> int:
    name = table.get(scope)
    return int(getattr(settings, name, 0) or 0) if name else 0


# KEYS[1] the address's counter, KEYS[2] (optional) the agency's; ARGV[1] expiry, ARGV[2] the
# address limit. The agency counts only what the address limit lets through.
_COUNT = """
local address = redis.call('INCR', KEYS[1])
if address == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if #KEYS < 2 or address > tonumber(ARGV[2]) then return {address, 0} end
local agency = redis.call('INCR', KEYS[2])
if agency == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {address, agency}
"""


def _count(address_key: str, agency_key: str, address_limit: int) -> tuple[int, int]:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        keys = [backend.make_and_validate_key(address_key)]
        if agency_key:
            keys.append(backend.make_and_validate_key(agency_key))
        client = backend._cache.get_client(write=True)
        reply = client.eval(_COUNT, len(keys), *keys, WINDOW_SECONDS * 2, address_limit)
        return int(reply[0]), int(reply[1])
    address = count_in_window(address_key, timeout=WINDOW_SECONDS * 2)
    if not agency_key or address > address_limit:
        return address, 0
    return address, count_in_window(agency_key, timeout=WINDOW_SECONDS * 2)


def _first_refusal(scope: str, per: str, who: str, start: int) -> bool:
    """True for the first refusal of this address (or agency) in this window: only that one is recorded."""
    try:
        return bool(
            cache.add(f"sso:throttle:noted:{scope}:{per}:{who}:{start}", 1, timeout=WINDOW_SECONDS * 2)
        )
    except UNREACHABLE as exc:
        note_unreachable("noting a sign-in refusal", exc)
        return False


def check(*, scope: str, client: str, agency_slug: str = "", now: datetime | None = None) -> Throttled | None:
    """Count one request; a ``Throttled`` when it is over a limit (a limit of 0 is off)."""
    address_limit = _limit(_ADDRESS_LIMITS, scope)
    agency_limit = _limit(_AGENCY_LIMITS, scope) if agency_slug else 0
    if address_limit <= 0 and agency_limit <= 0:
        return None
    start, retry_after = fixed_window(now or timezone.now(), WINDOW_SECONDS)
    bucket = address_bucket(client)
    address_key = f"sso:throttle:{scope}:ip:{bucket}:{start}"
    agency_key = f"sso:throttle:{scope}:agency:{agency_slug[:100]}:{start}" if agency_limit > 0 else ""
    ceiling = address_limit if address_limit > 0 else 2**31
    try:
        address_count, agency_count = _count(address_key, agency_key, ceiling)
    except UNREACHABLE as exc:
        # Without the shared count there is no limit to apply: let people sign in.
        note_unreachable(f"counting {scope} sign-in requests (not limited meanwhile)", exc)
        return None
    if address_count > ceiling:
        per, who, limit = "address", bucket, address_limit
    elif agency_key and agency_count > agency_limit:
        per, who, limit = "agency", agency_slug[:100], agency_limit
    else:
        return None
    return Throttled(
        scope=scope,
        per=per,
        limit=limit,
        retry_after=retry_after,
        client_ip=client,
        first_in_window=_first_refusal(scope, per, who, start),
    )
