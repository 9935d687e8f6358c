"""The beat schedule in config/celery.py names real tasks, and every lifecycle job is on it."""

from __future__ import annotations


def test_every_beat_entry_names_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled <= set(app.tasks), scheduled - set(app.tasks)
    assert {
        "provisioning.sweep_outbox",
        "provisioning.reconcile_all",
        "provisioning.sweep_group_grants",
        "agencies.sweep_roster_imports",
        "seats.expire_seats",
        "seats.send_renewal_reminders",
        "seats.reclaim_inactive_seats",
        "seats.check_low_pools",
        "seats.snapshot_usage",
        "seats.compact_seat_counts",
        "seats.resend_unsent_notices",
        "billing.invoice_waiting_renewals",
        "billing.check_open_invoices",
        "billing.lapse_undecided_renewals",
        "sso.prune_saml_assertions",
        "sso.refresh_idp_metadata",
    } == scheduled
