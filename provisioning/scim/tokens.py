"""SCIM bearer tokens: create (shown once), rotate, revoke; authenticate with a per-token rate limit.

Only a SHA-256 hash of a token is stored. A request's token is hashed and looked up by that hash
(a unique index), then compared again with ``hmac.compare_digest`` so no comparison of secret
material ever short-circuits. The rate limit is a fixed one-minute window per token, shared by
every process serving SCIM: in the shared cache (Redis, an atomic INCR) when one is configured,
otherwise on the token row, moved by one ``UPDATE ... RETURNING`` statement. Neither has a
read-check-write race.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency
from audit.actors import ActorLike, as_actor
from audit.services import audit_record
from core.db import constraint_violated
from core.errors import InvalidInput
from core.shared_cache import UNREACHABLE, count_in_window, fixed_window, is_shared, note_unreachable
from provisioning.scim.models import ScimToken

TOKEN_PREFIX = "scim_"  # noqa: S105 - a label, not a secret
PREFIX_LENGTH = 12
WINDOW_SECONDS = 60


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def default_rate_limit() -> int:
    return int(getattr(settings, "SCIM_RATE_LIMIT_PER_MINUTE", 600))


@dataclass(frozen=True)
class IssuedToken:
    """A token just made: ``secret`` is shown to the person once and never stored."""

    token: ScimToken
    secret: str


def _issue(
    *,
    agency: Agency,
    name: str,
    actor: ActorLike,
    now: datetime,
    rate_limit_per_minute: int,
    rotated_from: ScimToken | None = None,
) -> IssuedToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    who = as_actor(actor)
    try:
        with transaction.atomic():
            token = ScimToken.objects.create(
                agency=agency,
                name=name,
                prefix=secret[:PREFIX_LENGTH],
                token_hash=hash_token(secret),
                created_by_id=who.user_id,
                created_at=now,
                rate_limit_per_minute=rate_limit_per_minute,
                rotated_from=rotated_from,
            )
    except IntegrityError as exc:
        if constraint_violated(
            exc, "provisioning_scimtoken_one_current_name_per_agency", "provisioning_scimtoken.agency_id"
        ):
            raise InvalidInput(
                f"{agency.name} already has a SCIM token called “{name}”. Choose another name, or "
                "rotate that token instead."
            ) from exc
        raise
    return IssuedToken(token=token, secret=secret)


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput("Name the token after the system that will use it, such as “Entra ID production”.")
    if len(cleaned) > 100:
        raise InvalidInput("Keep the token's name under 100 characters.")
    return cleaned


def scim_token_create(
    *, agency: Agency, name: str, actor: ActorLike, rate_limit_per_minute: int | None = None
) -> IssuedToken:
    """Make a token for an agency's IdP. The secret in the result is shown once, then only its hash lives."""
    name = _clean_name(name)
    limit = rate_limit_per_minute or default_rate_limit()
    if limit < 1:
        raise InvalidInput("A token allows at least one request a minute.")
    if agency.kind == Agency.Kind.AGGREGATE:
        raise InvalidInput("The OPM aggregate is not an agency and cannot provision people.")
    now = timezone.now()
    with transaction.atomic():
        issued = _issue(agency=agency, name=name, actor=actor, now=now, rate_limit_per_minute=limit)
        audit_record(
            actor=actor,
            verb="scim_token.create",
            target=issued.token,
            agency_id=agency.pk,
            after={"name": name, "prefix": issued.token.prefix, "rate_limit_per_minute": limit},
            at=now,
        )
    return issued


def scim_token_rotate(
    *, token: ScimToken, actor: ActorLike, overlap: timedelta = timedelta(0)
) -> IssuedToken:
    """Replace a token with a new secret under the same name.

    With an ``overlap`` the old secret keeps working that long, so the IdP can be switched to the
    new one without a failed sync; with none it stops at once.
    """
    if overlap < timedelta(0) or overlap > timedelta(days=7):
        raise InvalidInput("The old token may keep working for at most seven days.")
    now = timezone.now()
    with transaction.atomic():
        current = ScimToken.objects.select_for_update().select_related("agency").get(pk=token.pk)
        if not current.is_usable(now) or current.expires_at is not None:
            raise InvalidInput(
                "This token has been revoked or already rotated; rotate the current token of that name."
            )
        if overlap:
            current.expires_at = now + overlap
            ScimToken.objects.filter(pk=current.pk).update(expires_at=current.expires_at)
        else:
            current.revoked_at = now
            ScimToken.objects.filter(pk=current.pk).update(revoked_at=now)
        forget_token(current, revoked=not overlap)
        issued = _issue(
            agency=current.agency,
            name=current.name,
            actor=actor,
            now=now,
            rate_limit_per_minute=current.rate_limit_per_minute,
            rotated_from=current,
        )
        audit_record(
            actor=actor,
            verb="scim_token.rotate",
            target=issued.token,
            agency_id=current.agency_id,
            before={"prefix": current.prefix},
            after={
                "prefix": issued.token.prefix,
                "old_token_valid_until": (current.expires_at or now).isoformat(),
            },
            at=now,
        )
    return issued


def scim_token_revoke(*, token: ScimToken, actor: ActorLike) -> ScimToken:
    """Stop a token now. Revoking twice changes nothing and records nothing."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            forget_token(token, revoked=True)
            audit_record(
                actor=actor,
                verb="scim_token.revoke",
                target=token,
                agency_id=token.agency_id,
                after={"name": token.name, "prefix": token.prefix},
                at=now,
            )
    token.refresh_from_db()
    return token


# --- authentication ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Admission:
    """The outcome of presenting a token: the token (or None) and, when throttled, the wait."""

    token: ScimToken | None
    retry_after: int = 0

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


def _count_in_database(token: ScimToken, now: datetime) -> int:
    """Count this request in the token row's window: one UPDATE ... RETURNING, race-free."""
    window, _ = fixed_window(now, WINDOW_SECONDS)
    table = ScimToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 - the table name is ours
            "window_count = CASE WHEN window_started_at = %s THEN window_count + 1 ELSE 1 END, "
            "window_started_at = %s, last_used_at = %s "
            "WHERE id = %s RETURNING window_count",
            [window, window, now, token.pk],
        )
        row = cursor.fetchone()
    return row[0] if row else 1


def _rate_key(digest: str, window: int) -> str:
    return f"scim:rate:{digest[:40]}:{window}"


def _count_in_cache(token: ScimToken, now: datetime) -> int:
    """Count this request in the shared cache (Redis in production): atomic INCR, no database commit."""
    window, _ = fixed_window(now, WINDOW_SECONDS)
    return count_in_window(_rate_key(token.token_hash, window), timeout=WINDOW_SECONDS * 2)


# With Redis, the cached token and this request's count come back in one round trip: the script
# counts only for a token the cache knows (so unknown tokens leave no keys behind).
_LOOKUP_AND_COUNT = """
local entry = redis.call('GET', KEYS[1])
if not entry then return 0 end
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {entry, count}
"""


def _redis_backend() -> RedisCache | None:
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _lookup_script(backend: RedisCache):  # type: ignore[no-untyped-def]
    """The lookup script, registered once per cache backend on one client (sent by its SHA).

    Building a redis client per request cost more than the round trip itself (redis-py fills a
    dict of response callbacks for every new client). The client is thread-safe and draws its
    connections from the backend's pool.
    """
    holder = backend._cache
    script = getattr(holder, "_scim_lookup_and_count", None)
    if script is None:
        script = holder.get_client(write=True).register_script(_LOOKUP_AND_COUNT)
        holder._scim_lookup_and_count = script
    return script


def _cached_entry_and_count(digest: str, now: datetime) -> tuple[object, int | None]:
    """The cache's entry for a token digest (None, REVOKED or a token dict) and, with Redis, the count."""
    backend = _redis_backend()
    if backend is None:
        return cache.get(_cache_key(digest)), None
    window, _ = fixed_window(now, WINDOW_SECONDS)
    reply = _lookup_script(backend)(
        keys=[
            backend.make_and_validate_key(_cache_key(digest)),
            backend.make_and_validate_key(_rate_key(digest, window)),
        ],
        args=[WINDOW_SECONDS * 2],
    )
    if not isinstance(reply, list):
        return None, None
    return backend._cache._serializer.loads(reply[0]), int(reply[1])


def limiter_backend() -> str:
    """``cache`` when the configured cache is shared between processes, else ``database``.

    ``SCIM_RATE_LIMIT_BACKEND`` forces one. An in-process cache (the development default) would
    give every worker process its own count, so it is never used for the limit.
    """
    forced = getattr(settings, "SCIM_RATE_LIMIT_BACKEND", "")
    if forced:
        return forced
    return "cache" if is_shared() else "database"


# When each token's last_used_at was last written by this process. The column says "used in the
# last minute or so": one conditional UPDATE a minute per token and process is all it needs.
_noted: dict[str, datetime] = {}


def _note_use(token: ScimToken, now: datetime) -> None:
    """Record ``last_used_at`` at most once a minute per token (a write per request would cost a commit).

    Only the database row is written, never the cached token: a cache write here could put back a
    token that was revoked a moment ago.
    """
    last = _noted.get(token.token_hash)
    if last is not None and timedelta(0) <= now - last < timedelta(seconds=WINDOW_SECONDS):
        return
    if len(_noted) > 10_000:
        _noted.clear()
    _noted[token.token_hash] = now
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=WINDOW_SECONDS))
    ScimToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)


# With a shared cache the token itself is kept there too, so a request costs the database nothing
# before its own work. Revoking or rotating replaces the entry with a tombstone once the change has
# committed, and entries are only ever added (never overwritten) by readers, so a reader that
# looked a token up just before it was revoked cannot put it back. A copy lives a minute: if a
# revocation happened while Redis was unreachable (the tombstone could not be written) and the
# same Redis comes back still holding the copy, the revoked token works a minute at most. The
# cost is one indexed read per token and minute across all processes.
TOKEN_CACHE_SECONDS = 60
REVOKED = "revoked"
_AGENCY_FIELDS = ("id", "parent_id", "slug", "name", "abbreviation", "kind", "path", "depth")
_TOKEN_FIELDS = (
    "id",
    "agency_id",
    "name",
    "prefix",
    "token_hash",
    "rate_limit_per_minute",
    "last_used_at",
    "revoked_at",
    "expires_at",
)


def _cache_key(digest: str) -> str:
    return f"scim:token:{digest}"


def _to_cache(token: ScimToken) -> dict:
    return {
        "token": {f: getattr(token, f) for f in _TOKEN_FIELDS},
        "agency": {f: getattr(token.agency, f) for f in _AGENCY_FIELDS},
    }


def _from_cache(entry: dict) -> ScimToken:
    agency = Agency(**entry["agency"])
    agency._state.adding = False
    token = ScimToken(**entry["token"])
    token._state.adding = False
    token.agency = agency
    return token


def forget_token(token: ScimToken, *, revoked: bool) -> None:
    """Once a revocation or rotation commits, no process may go on using an out-of-date cached copy."""
    if limiter_backend() != "cache":
        return
    key = _cache_key(token.token_hash)
    value = REVOKED if revoked else _to_cache(token)

    def overwrite() -> None:
        try:
            cache.set(key, value, timeout=TOKEN_CACHE_SECONDS * 2)
        except UNREACHABLE as exc:
            # The change is committed; a copy cached before the outage lives TOKEN_CACHE_SECONDS at most.
            note_unreachable("updating a changed SCIM token's cached copy", exc)

    transaction.on_commit(overwrite)


def _lookup(digest: str, *, shared_cache: bool, now: datetime) -> tuple[ScimToken | None, int | None]:
    """The token with this digest, and its request count when the cache already counted it."""
    if shared_cache:
        entry, count = _cached_entry_and_count(digest, now)
        if entry == REVOKED:
            return None, None
        if isinstance(entry, dict):
            return _from_cache(entry), count
    token = ScimToken.objects.select_related("agency").filter(token_hash=digest).order_by().first()
    if token is not None and shared_cache:
        cache.add(_cache_key(digest), _to_cache(token), timeout=TOKEN_CACHE_SECONDS)
    return token, None


def authenticate(raw: str) -> Admission:
    """Find the usable token a request presents and count the request against its limit."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return Admission(token=None)
    digest = hash_token(raw)
    shared_cache = limiter_backend() == "cache"
    now = timezone.now()
    try:
        token, count = _lookup(digest, shared_cache=shared_cache, now=now)
    except UNREACHABLE as exc:
        # The database has the token and can keep the count: slower, and the same answer.
        note_unreachable("looking up a SCIM token (read and counted in the database instead)", exc)
        shared_cache = False
        token, count = _lookup(digest, shared_cache=False, now=now)
    if token is None or not hmac.compare_digest(token.token_hash, digest) or not token.is_usable(now):
        return Admission(token=None)
    if shared_cache and count is None:
        try:
            count = _count_in_cache(token, now)
        except UNREACHABLE as exc:
            note_unreachable("counting a SCIM request (counted in the database instead)", exc)
            shared_cache = False
    if shared_cache:
        _note_use(token, now)
    else:
        count = _count_in_database(token, now)
    if count > token.rate_limit_per_minute:
        return Admission(token=token, retry_after=max(fixed_window(now, WINDOW_SECONDS)[1], 1))
    return Admission(token=token)
