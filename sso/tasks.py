"""Thin Celery tasks for sign-in housekeeping."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from audit.actors import Actor
from sso.metadata_refresh import identity_provider_refresh_metadata
from sso.models import IdentityProvider
from sso.selectors import identity_providers_to_refresh
from sso.services import assertion_uses_prune


@shared_task(name="sso.prune_saml_assertions")
def prune_saml_assertions() -> int:
    """Forget assertion ids no validator would accept any more (the replay window is over)."""
    return assertion_uses_prune()


@shared_task(name="sso.refresh_idp_metadata")
def refresh_idp_metadata() -> int:
    """Queue one refresh per IdP registered from a URL, so a slow IdP holds up only itself."""
    ids = [idp.pk for idp in identity_providers_to_refresh()]
    for pk in ids:
        refresh_one_idp_metadata.delay(pk)
    return len(ids)


@shared_task(name="sso.refresh_one_idp_metadata")
def refresh_one_idp_metadata(identity_provider_id: int) -> str:
    """Fetch one IdP's metadata again and apply what changed (or record why it could not)."""
    idp = (
        IdentityProvider.objects.select_related("agency", "social_app")
        .exclude(metadata_url="")
        .filter(pk=identity_provider_id)
        .first()
    )
    if idp is None:
        return "skipped"  # removed, or re-registered from a file, since it was queued
    outcome = identity_provider_refresh_metadata(
        identity_provider=idp,
        actor=Actor.system("sso.refresh_idp_metadata"),
        allow_private=settings.SSO_METADATA_REFRESH_PRIVATE_URLS,
    )
    return outcome.status
