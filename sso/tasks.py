"""Thin Celery tasks for sign-in housekeeping."""

from __future__ import annotations

from celery import shared_task

from sso.services import assertion_uses_prune


@shared_task(name="sso.prune_saml_assertions")
def prune_saml_assertions() -> int:
    """Forget assertion ids no validator would accept any more (the replay window is over)."""
    return assertion_uses_prune()
