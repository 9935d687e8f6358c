"""Run the complete local demo: migrate, load the federal data, create the demo data set
(printing the administrator's credentials), then serve on 127.0.0.1:8000 with a Celery worker
beside the web server (roster imports, vendor calls and notices run in the background as they
would in production, on the filesystem broker under var/)."""

from __future__ import annotations

import subprocess
import sys

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
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not start the Celery worker (background jobs then wait for `./run worker`).",
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
        self.stdout.write(f"  Open {url}/ and sign in as:")
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
        self.stdout.write(f"  Django admin (GSA administrators): {url}/admin/")
        if options["no_serve"]:
            return
        worker = None if options["no_worker"] else self._start_worker()
        try:
            call_command("runserver", options["addrport"], use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    worker.kill()

    def _start_worker(self) -> subprocess.Popen[bytes]:
        """One solo-pool worker: enough for a demo, and one writer at a time suits SQLite."""
        self.stdout.write("  starting a Celery worker for background jobs (--no-worker to skip)")
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING"],
            cwd=settings.BASE_DIR,
        )
