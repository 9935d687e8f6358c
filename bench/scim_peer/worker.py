"""Peer side of the SCIM benchmark: django-scim2 in its own virtualenv. Prints one JSON line.

PEER_DATABASE_URL=postgres://... var/venv-peer/bin/python -m bench.scim_peer.worker N RUN_ID
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

# Set, not defaulted: the parent ./run bench process has already pointed it at the project.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.scim_peer.settings"

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from bench import scim_workload  # noqa: E402


def main() -> None:
    count, run_id = int(sys.argv[1]), sys.argv[2]
    call_command("migrate", interactive=False, verbosity=0)
    token = f"peer-{run_id}"
    digest = hashlib.sha256(token.encode()).hexdigest()
    get_user_model().objects.update_or_create(username="scim-bot", defaults={"last_name": digest[:150]})
    emails = [f"p{run_id}.{i}@bench.example.gov" for i in range(count)]
    result = scim_workload.run(Client(), token, emails)
    print(json.dumps({"side": "django-scim2", **result}))


if __name__ == "__main__":
    main()
