from __future__ import annotations

import io
from unittest.mock import ANY

import pytest
from django.core.management import call_command

from agencies.models import Employee
from audit.models import AuditEvent
from core.demo import build_demo
from seats.models import Allocation, Seat, WaitlistEntry
from tests.conftest import use_dead_redis

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_broker(client):
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["broker"]["transport"] in {"filesystem", "redis", "amqp"}


def test_health_answers_503_when_the_broker_is_down(client, settings):
    from config.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/health/")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_health_reports_the_cache_and_stays_ready_without_it(client, settings):
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    assert client.get("/health/").json()["cache"] == {"ok": True, "backend": backend, "ms": ANY}
    use_dead_redis(settings)
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["cache"] == {"ok": False, "backend": "RedisCache", "error": "ConnectionError"}


def test_demo_builds_pools_seats_in_several_states_and_is_idempotent():
    call_command("load_federal_data", stdout=io.StringIO())
    first = build_demo(password="demo-password-123")
    counts = (
        Allocation.objects.count(),
        Employee.objects.count(),
        Seat.objects.count(),
        AuditEvent.objects.count(),
    )
    states = set(Seat.objects.values_list("state", flat=True))
    assert {"active", "requested", "revoked", "rejected"} <= states
    assert Allocation.objects.filter(parent__isnull=False).exists()
    assert WaitlistEntry.objects.filter(state="waiting").exists()
    va = Allocation.objects.get(agency__slug="va")
    assert va.quantity == 474_532 and va.program.name == "ChatGPT Enterprise (OneGov)"
    build_demo(password="demo-password-123")
    assert (Allocation.objects.count(), Employee.objects.count(), Seat.objects.count()) == counts[:3]
    assert first.username == "gsa-admin"
