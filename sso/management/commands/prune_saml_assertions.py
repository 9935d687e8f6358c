"""Forget SAML assertion ids past their NotOnOrAfter plus clock skew (no validator accepts them now).

Celery beat runs it daily (sso.prune_saml_assertions); the ACS also prunes every 256 sign-ins.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from sso.services import assertion_uses_prune


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options) -> None:
        forgotten = assertion_uses_prune()
        self.stdout.write(f"Forgot {forgotten} expired assertion id{'s' if forgotten != 1 else ''}.")
