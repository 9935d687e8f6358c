"""The Celery application. The beat schedule lives here, in code, so it is reviewed like code."""

from __future__ import annotations

import os

from celery import Celery

from billing.schedule import BEAT_SCHEDULE as BILLING_BEAT

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("seats")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each app keeps its beat entries next to its tasks (plain data, no Django imports).
app.conf.beat_schedule = {**BILLING_BEAT}
