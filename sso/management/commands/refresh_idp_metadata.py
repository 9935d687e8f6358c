"""Fetch the metadata of IdPs registered from a URL again and apply what changed (the daily beat job).

    manage.py refresh_idp_metadata          every IdP registered from a URL
    manage.py refresh_idp_metadata hhs      one agency's

Run by an operator, like register_idp, so the URL may be on this machine or a private network.
Exits non-zero when any refresh failed; those IdPs keep their settings and show the reason.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from sso.metadata_refresh import FAILED, UPDATED, identity_provider_refresh_metadata
from sso.selectors import identity_providers_to_refresh


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("agency", nargs="?", default="", help="One agency's slug, e.g. hhs")

    def handle(self, *args, **options) -> None:
        slug: str = options["agency"]
        idps = identity_providers_to_refresh(slug)
        if not idps and slug:
            raise CommandError(f"The agency {slug!r} has no IdP registered from a metadata URL.")
        if not idps:
            self.stdout.write("No IdP is registered from a metadata URL; nothing to refresh.")
            return
        actor = Actor.system("refresh_idp_metadata command")
        failed = 0
        for number, idp in enumerate(idps, start=1):
            self.stdout.write(f"[{number}/{len(idps)}] {idp.agency.slug}: {idp.metadata_url} ... ", ending="")
            self.stdout.flush()
            outcome = identity_provider_refresh_metadata(
                identity_provider=idp, actor=actor, allow_private=True
            )
            line = f"{outcome.status}{': ' + outcome.detail if outcome.detail else ''}"
            if outcome.status == FAILED:
                failed += 1
                self.stdout.write(self.style.ERROR(line))
            elif outcome.status == UPDATED:
                self.stdout.write(self.style.SUCCESS(line))
            else:
                self.stdout.write(line)
        if failed:
            raise CommandError(f"{failed} of {len(idps)} refreshes failed; those IdPs keep their settings.")
        self.stdout.write(self.style.SUCCESS(f"{len(idps)} checked."))
