"""The Celery application. The beat schedule lives here, in code, so it is reviewed like code."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

from billing.schedule import BEAT_SCHEDULE as BILLING_BEAT

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("seats")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Each app may keep its beat entries next to its tasks (plain data, no Django imports).
# Times are UTC (CELERY_TIMEZONE). Every job is idempotent and safe to overlap with itself, so a
# beat that fires twice (or two beats by mistake) costs work, never correctness.
app.conf.beat_schedule = {
    **BILLING_BEAT,
    # The outbox: re-queue due jobs whose message was lost or whose worker died.
    "provisioning-sweep-outbox": {"task": "provisioning.sweep_outbox", "schedule": 60.0},
    # Seats end within minutes of their term, in batches.
    "seats-expire": {"task": "seats.expire_seats", "schedule": crontab(minute="*/10")},
    # The dashboards' seat rollup: fold the rows the triggers appended since the last run.
    "seats-compact-seat-counts": {"task": "seats.compact_seat_counts", "schedule": crontab(minute="*/10")},
    "seats-low-pool-alerts": {"task": "seats.check_low_pools", "schedule": crontab(minute="*/15")},
    "seats-resend-unsent-notices": {"task": "seats.resend_unsent_notices", "schedule": crontab(minute="*/5")},
    # Mornings on the East Coast, so a reminder lands at the start of the working day.
    "seats-renewal-reminders": {
        "task": "seats.send_renewal_reminders",
        "schedule": crontab(hour=13, minute=0),
    },
    "seats-reclaim-inactive": {
        "task": "seats.reclaim_inactive_seats",
        "schedule": crontab(hour=8, minute=30),
    },
    "seats-usage-snapshot": {"task": "seats.snapshot_usage", "schedule": crontab(hour=4, minute=55)},
    # Replay protection keeps assertion ids only until they could no longer be accepted.
    "sso-prune-saml-assertions": {
        "task": "sso.prune_saml_assertions",
        "schedule": crontab(hour=3, minute=15),
    },
    # IdPs registered from a URL: pick up rolled-over keys and moved endpoints before sign-ins fail.
    "sso-refresh-idp-metadata": {
        "task": "sso.refresh_idp_metadata",
        "schedule": crontab(hour=5, minute=40),
    },
    "provisioning-reconcile": {"task": "provisioning.reconcile_all", "schedule": crontab(hour=6, minute=0)},
    # Roster imports whose message was lost (the broker was down at upload, a worker gone for good).
    "agencies-sweep-roster-imports": {
        "task": "agencies.sweep_roster_imports",
        "schedule": crontab(minute="*/5"),
    },
    # Group-based seats whose worker message was lost: members of mapped groups without a grant.
    "provisioning-sweep-group-grants": {
        "task": "provisioning.sweep_group_grants",
        "schedule": crontab(minute="*/15"),
    },
}
