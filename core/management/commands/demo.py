"""Run the complete local demo: migrate, load the federal data, create the demo data set
(printing the administrator's credentials), then serve on 127.0.0.1:8000."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.demo import build_demo


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Prepare the data, then exit.")
        parser.add_argument(
            "--addrport", default="127.0.0.1:8000", help="Where to serve (default 127.0.0.1:8000)."
        )
        parser.add_argument(
            "--password", help="Use this password for the demo accounts instead of a random one."
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "The demo creates accounts with printed passwords; it runs only with DEBUG=true."
            )
        self.stdout.write(self.style.MIGRATE_HEADING("1/3 Database"))
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("  migrated")
        self.stdout.write(self.style.MIGRATE_HEADING("2/3 Federal data"))
        call_command("load_federal_data", stdout=self.stdout)
        self.stdout.write(self.style.MIGRATE_HEADING("3/3 Demo data"))
        result = build_demo(password=options["password"])
        for allocation in result.pools:
            self.stdout.write(
                f"  pool {allocation.agency.name}: {allocation.quantity:,} seats "
                f"({'bureau pool' if allocation.parent_id else 'from GSA'})"
            )
        self.stdout.write(
            f"  {result.employees} demo employees; seats: "
            + ", ".join(f"{n} {label.lower()}" for label, n in result.seats.items() if n)
        )
        url = f"http://{options['addrport']}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo ready."))
        self.stdout.write(f"  Open {url}/admin/ and sign in as:")
        self.stdout.write(f"    GSA administrator     {result.username} / {result.password}")
        self.stdout.write(f"    HHS administrator     {result.agency_admin} / {result.password}")
        self.stdout.write(f"  Health: {url}/health/")
        if result.sign_in_examples:
            self.stdout.write(
                f"  Employees sign in at {url}/sso/discover/ through the development IdP, e.g.:"
            )
            for agency_name, email in result.sign_in_examples[:4]:
                self.stdout.write(f"    {email:<40} ({agency_name})")
            self.stdout.write(
                f"  then claim a seat at {url}/claim/ (SAML needs a dotted host: 127.0.0.1, not localhost)"
            )
        if options["no_serve"]:
            return
        call_command("runserver", options["addrport"], use_reloader=False)
