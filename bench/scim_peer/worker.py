"""Peer side of the SCIM benchmark: django-scim2 in its own virtualenv. Prints one JSON line.

PEER_DATABASE_URL=postgres://... var/venv-peer/bin/python -m bench.scim_peer.worker N RUN_ID
PEER_DATABASE_URL=postgres://... var/venv-peer/bin/python -m bench.scim_peer.worker seed POPULATION

``seed`` migrates and adds POPULATION users as django-scim2 stores them, for the template database.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid

# Set, not defaulted: the parent ./run bench process has already pointed it at the project.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.scim_peer.settings"

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench import scim_workload  # noqa: E402


def seed(population: int) -> None:
    call_command("migrate", interactive=False, verbosity=0)
    model = get_user_model()
    batch = 2_000
    for start in range(0, population, batch):
        model.objects.bulk_create(
            model(
                username=f"seed.{i}@bench.example.gov",
                email=f"seed.{i}@bench.example.gov",
                first_name=f"Seed{i}",
                last_name="Bench",
                scim_id=f"seed-{uuid.uuid4()}",
                scim_username=f"seed.{i}@bench.example.gov",
            )
            for i in range(start, min(start + batch, population))
        )
    # django-scim2 sets scim_id to the row id after each save; the seeded rows end up the same way.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET scim_id = id::text WHERE scim_id LIKE 'seed-%%'")
    print(json.dumps({"side": "django-scim2", "seeded": model.objects.count()}))


def main() -> None:
    if sys.argv[1] == "seed":
        seed(int(sys.argv[2]))
        return
    count, run_id = int(sys.argv[1]), sys.argv[2]
    call_command("migrate", interactive=False, verbosity=0)
    token = f"peer-{run_id}"
    digest = hashlib.sha256(token.encode()).hexdigest()
    get_user_model().objects.update_or_create(username="scim-bot", defaults={"last_name": digest[:150]})
    emails = [f"p{run_id}.{i}@bench.example.gov" for i in range(count)]
    result = scim_workload.run(Client(), token, emails, bare=False)
    print(json.dumps({"side": "django-scim2", **result}))


if __name__ == "__main__":
    main()
