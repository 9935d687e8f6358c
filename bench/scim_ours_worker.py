"""Our side of the SCIM benchmark, with production settings (DEBUG off). Prints one JSON line.

    BENCH_DATABASE_URL=postgres://... .venv/bin/python -m bench.scim_ours_worker N RUN_ID
    BENCH_DATABASE_URL=postgres://... .venv/bin/python -m bench.scim_ours_worker seed POPULATION

``seed`` migrates and fills the bench agency with POPULATION people, as a SCIM sync would have
left them (employee and IdP profile rows), for the template database the timed runs copy.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["DEBUG"] = "false"
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
# Set, not defaulted: the parent ./run bench process carries the SAML benchmark's values.
os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
os.environ["SECURE_SSL_REDIRECT"] = "false"
os.environ["LOG_LEVEL"] = "ERROR"
# Production shares the cache (and so the SCIM rate-limit counters) through Redis.
os.environ["CACHE_URL"] = "redis://127.0.0.1:6379/2"

from bench.common import BENCH_DATABASE_URL

os.environ["DATABASE_URL"] = os.environ.get("SCIM_BENCH_DATABASE_URL", BENCH_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from agencies.models import Agency, AgencyDomain, Employee  # noqa: E402
from agencies.services import _agency_insert  # noqa: E402
from audit.actors import Actor  # noqa: E402
from bench import scim_workload  # noqa: E402
from provisioning.scim.models import ScimProfile, ScimToken  # noqa: E402
from provisioning.scim.tokens import scim_token_create  # noqa: E402

DOMAIN = "bench.example.gov"


def bench_agency() -> Agency:
    agency = Agency.objects.filter(slug="bench-scim").first()
    if agency is None:
        agency = _agency_insert(
            agency=Agency(slug="bench-scim", name="Bench Agency", kind=Agency.Kind.DEPARTMENT)
        )
        AgencyDomain.objects.create(
            agency=agency, domain=DOMAIN, method=AgencyDomain.Method.MANUAL, verified_at=timezone.now()
        )
    return agency


def seed(population: int) -> None:
    """The agency's people before the timed workload: what an earlier SCIM sync left behind."""
    call_command("migrate", interactive=False, verbosity=0)
    agency = bench_agency()
    batch = 2_000
    for start in range(0, population, batch):
        with transaction.atomic():
            people = Employee.objects.bulk_create(
                Employee(
                    agency=agency,
                    email=f"seed.{i}@{DOMAIN}",
                    given_name=f"Seed{i}",
                    family_name="Bench",
                    source=Employee.Source.SCIM,
                )
                for i in range(start, min(start + batch, population))
            )
            ScimProfile.objects.bulk_create(
                ScimProfile(
                    employee=person,
                    display_name=f"{person.given_name} Bench",
                    emails=[{"value": person.email, "type": "work", "primary": True}],
                )
                for person in people
            )
    print(json.dumps({"side": "ours", "seeded": Employee.objects.filter(agency=agency).count()}))


def main() -> None:
    if sys.argv[1] == "seed":
        seed(int(sys.argv[2]))
        return
    count, run_id = int(sys.argv[1]), sys.argv[2]
    call_command("migrate", interactive=False, verbosity=0)
    agency = bench_agency()
    ScimToken.objects.filter(agency=agency, name=f"bench {run_id}").update(revoked_at=timezone.now())
    issued = scim_token_create(
        agency=agency, name=f"bench {run_id}", actor=Actor.system("bench"), rate_limit_per_minute=10_000_000
    )
    emails = [f"o{run_id}.{i}@{DOMAIN}" for i in range(count)]
    result = scim_workload.run(Client(), issued.secret, emails)
    print(json.dumps({"side": "ours", **result}))


if __name__ == "__main__":
    main()
