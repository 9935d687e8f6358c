"""Connect an agency to its SAML identity provider from the IdP's metadata (a file or an https URL).

    manage.py register_idp hhs --metadata hhs-idp.xml
    manage.py register_idp va --metadata https://idp.va.gov/metadata --entity-id https://idp.va.gov/

Running it again with new metadata replaces the IdP's settings (new endpoints, rolled-over keys).
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agencies.models import Agency
from audit.actors import Actor
from core.errors import DomainError
from sso.metadata import MAX_METADATA_BYTES, fetch_metadata, parse_metadata
from sso.services import identity_provider_register


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("agency", help="The agency's slug, e.g. hhs")
        parser.add_argument("--metadata", required=True, help="IdP metadata: a file path or an https:// URL")
        parser.add_argument(
            "--entity-id", default="", help="Which IdP to take when the metadata describes several"
        )

    def handle(self, *args, **options) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency with the slug {options['agency']!r}; see the admin's agency list.")
        source: str = options["metadata"]
        try:
            if source.startswith(("https://", "http://")):
                data, url = fetch_metadata(source, operator=True), source
            else:
                path = Path(source)
                if not path.is_file():
                    raise CommandError(f"{source} is not a file (or an https:// URL).")
                if path.stat().st_size > MAX_METADATA_BYTES:
                    raise CommandError(f"{source} is larger than 1 MB; IdP metadata is a few kB.")
                data, url = path.read_bytes(), ""
            config = parse_metadata(data, entity_id=options["entity_id"], metadata_url=url)
            idp = identity_provider_register(
                agency=agency, config=config, actor=Actor.system("register_idp command")
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(self.style.SUCCESS(f"{agency.name} now signs in through {idp.entity_id}"))
        self.stdout.write(f"  sign-on URL   {idp.sso_url}")
        for cert in idp.certificates.all():
            self.stdout.write(f"  certificate   {cert.subject} (expires {cert.not_after:%Y-%m-%d})")
        for warning in config.warnings:
            self.stdout.write(self.style.WARNING(f"  {warning}"))
        self.stdout.write(f"  SP metadata   /accounts/saml/{agency.slug}/metadata/")
