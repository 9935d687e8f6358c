"""Personal API tokens: create (shown once), revoke, authenticate.

Only the SHA-256 hash of a token is stored and looked up (a unique index), then compared again
with ``hmac.compare_digest``. ``last_used_at`` moves at most once a minute per token, in one
conditional UPDATE, so a busy integration does not write on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import ActorLike
from audit.services import audit_record
from core.errors import InvalidInput
from core.models import ApiToken

TOKEN_PREFIX = "ais_"  # noqa: S105 - a label, not a secret
PREFIX_LENGTH = 12
MAX_LIFETIME_DAYS = 365
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedApiToken:
    """A token just made: ``secret`` is shown to its owner once and never stored."""

    token: ApiToken
    secret: str


def api_token_create(
    *,
    user: User,
    name: str,
    actor: ActorLike,
    scope: str = ApiToken.Scope.READ,
    expires_in_days: int = 90,
) -> IssuedApiToken:
    """Make a personal token for ``user``; it acts with exactly the user's roles, no more."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise InvalidInput("Name the token after what will use it, such as “HR sync job”.")
    if len(cleaned) > 100:
        raise InvalidInput("Keep the token's name under 100 characters.")
    if scope not in ApiToken.Scope.values:
        raise InvalidInput("A token's scope is “read” or “read_write”.")
    if not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise InvalidInput(f"A token lives between 1 and {MAX_LIFETIME_DAYS} days.")
    now = timezone.now()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=cleaned,
            prefix=secret[:PREFIX_LENGTH],
            token_hash=hash_token(secret),
            scope=scope,
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days),
        )
        audit_record(
            actor=actor,
            verb="api_token.create",
            target=token,
            after={
                "user": user.get_username(),
                "name": cleaned,
                "prefix": token.prefix,
                "scope": scope,
                "expires_at": token.expires_at.isoformat(),
            },
            at=now,
        )
    return IssuedApiToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken, actor: ActorLike) -> ApiToken:
    """Stop a token now. Revoking twice changes nothing and records nothing."""
    now = timezone.now()
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            audit_record(
                actor=actor,
                verb="api_token.revoke",
                target=token,
                after={"name": token.name, "prefix": token.prefix},
                at=now,
            )
    token.refresh_from_db()
    return token


def api_token_authenticate(raw: str, *, now: datetime | None = None) -> ApiToken | None:
    """The usable token this secret stands for (with its user), or None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = now or timezone.now()
    digest = hash_token(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest) or not token.is_usable(now):
        return None
    if not token.user.is_active:
        return None
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
