"""Keeping an IdP registered from a URL in step with the metadata it publishes (a service).

Daily, each IdP's metadata is fetched again and checked exactly as registration checks it. A new
signing certificate (a key rollover) or a moved sign-on URL is applied with an audit row; the
same metadata changes nothing but the time of the check. When the metadata cannot be fetched or
trusted (unreachable, malformed, an expired certificate, another entity id) the IdP keeps its
settings and certificates, and the reason is kept on the IdP for its agency's administrators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.actors import ActorLike
from audit.services import audit_record
from core.errors import IdentityProviderInvalid
from sso.metadata import IdpConfig, fetch_metadata, parse_metadata
from sso.models import IdentityProvider
from sso.services import identity_provider_config_apply, identity_provider_snapshot

logger = logging.getLogger(__name__)

UPDATED, UNCHANGED, FAILED, SKIPPED = "updated", "unchanged", "failed", "skipped"


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did: ``status`` is updated, unchanged, failed or skipped; ``detail`` says why."""

    status: str
    detail: str = ""


def _read(idp: IdentityProvider, *, allow_private: bool, now: datetime) -> IdpConfig:
    """The metadata at the IdP's URL, validated as registration validates it, for the same entity id."""
    url = idp.metadata_url
    data = fetch_metadata(url, operator=allow_private)
    try:
        # The entity id picks the IdP out of a federation's aggregate, as register_idp --entity-id does.
        return parse_metadata(data, entity_id=idp.entity_id, metadata_url=url, now=now)
    except IdentityProviderInvalid as missing:
        try:
            other = parse_metadata(data, metadata_url=url, now=now)
        except IdentityProviderInvalid:
            raise missing from None
        raise IdentityProviderInvalid(
            f"The metadata at {url} now describes the IdP {other.entity_id}, not {idp.entity_id}. "
            "An IdP's entity id does not change in a refresh: if your agency moved to a new IdP, "
            "register it again on this page (employees keep signing in through the old one until then)."
        ) from missing


def _unchanged(idp: IdentityProvider, config: IdpConfig) -> bool:
    pinned = {c.fingerprint_sha256 for c in idp.certificates.all()}
    published = {c.fingerprint_sha256 for c in config.certificates}
    return (idp.sso_url, idp.slo_url, pinned) == (config.sso_url, config.slo_url, published)


def identity_provider_metadata_failure_record(
    *, identity_provider: IdentityProvider, error: str, now: datetime | None = None
) -> None:
    """Keep the IdP as it is and say on it why its metadata could not be used (no audit: nothing changed)."""
    with transaction.atomic(durable=True):
        IdentityProvider.objects.filter(pk=identity_provider.pk).update(
            metadata_error=error[:2000], metadata_checked_at=now or timezone.now()
        )


def identity_provider_refresh_metadata(
    *,
    identity_provider: IdentityProvider,
    actor: ActorLike,
    allow_private: bool = False,
    now: datetime | None = None,
) -> RefreshOutcome:
    """Fetch the IdP's metadata again and apply what changed; on any failure keep the old settings.

    The fetch runs outside any transaction (it may take seconds); the write locks the IdP row and
    applies only if its URL and entity id are still the ones fetched for.
    """
    moment = now or timezone.now()
    idp = identity_provider
    url = idp.metadata_url
    if not url:
        return RefreshOutcome(SKIPPED, "registered without a metadata URL")
    try:
        config = _read(idp, allow_private=allow_private, now=moment)
    except IdentityProviderInvalid as exc:
        logger.warning("IdP metadata refresh for %s failed: %s", idp.agency.slug, exc.message)
        identity_provider_metadata_failure_record(identity_provider=idp, error=exc.message, now=moment)
        return RefreshOutcome(FAILED, exc.message)
    with transaction.atomic(durable=True):
        locked = (
            IdentityProvider.objects.select_for_update()
            .select_related("agency", "social_app")
            .filter(pk=idp.pk, metadata_url=url, entity_id=config.entity_id)
            .first()
        )
        if locked is None:
            return RefreshOutcome(SKIPPED, "re-registered while its metadata was being fetched")
        if _unchanged(locked, config):
            IdentityProvider.objects.filter(pk=locked.pk).update(
                metadata_checked_at=moment, metadata_error=""
            )
            return RefreshOutcome(UNCHANGED)
        before = identity_provider_snapshot(locked)
        locked = identity_provider_config_apply(
            identity_provider=locked,
            config=config,
            mapping=locked.attribute_mapping,
            is_development=locked.is_development,
            now=moment,
        )
        after = identity_provider_snapshot(locked) or {}
        audit_record(
            actor=actor,
            verb="sso.idp.metadata_refresh",
            target=locked,
            agency_id=locked.agency_id,
            before=before,
            after=after | {"metadata_url": url},
        )
    earlier = before or {}
    changes = [
        what
        for what, key in (
            ("sign-on URL", "sso_url"),
            ("logout URL", "slo_url"),
            ("certificates", "certificates"),
        )
        if earlier.get(key) != after.get(key)
    ]
    logger.info("IdP metadata refresh for %s applied: %s", idp.agency.slug, ", ".join(changes))
    return RefreshOutcome(UPDATED, ", ".join(changes) or "settings")
