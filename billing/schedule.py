"""Billing's beat entries; ``config/celery.py`` merges them into the schedule (plain data, no Django)."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "billing-invoice-waiting-renewals": {
        "task": "billing.invoice_waiting_renewals",
        "schedule": crontab(minute="*/15"),
    },
    "billing-check-open-invoices": {
        "task": "billing.check_open_invoices",
        "schedule": crontab(hour="13", minute="10"),  # 13:10 UTC: morning in Washington
    },
    "billing-lapse-undecided-renewals": {
        "task": "billing.lapse_undecided_renewals",
        "schedule": crontab(hour="5", minute="40"),
    },
}
