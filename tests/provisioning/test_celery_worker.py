"""End to end with a real Celery worker process on Redis and PostgreSQL: seats claimed here are
published after commit, delivered by the worker to the SCIM vendor, retried through its failures."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from audit.actors import Actor
from provisioning.models import ProvisioningJob
from seats import services
from seats.models import Seat
from tests.factories import (
    AgencyDomainFactory,
    AgencyFactory,
    AllocationFactory,
    EmployeeFactory,
    VendorProgramFactory,
)
from tests.provisioning.vendor_server import Fault

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
ACTOR = Actor.system("test")


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _use_broker(app, url: str) -> None:
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_broker():
    from config.celery import app

    before = app.conf.broker_url
    _use_broker(app, REDIS_URL)
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=2)
    app.control.purge()
    yield app
    app.control.purge()
    _use_broker(app, before)


@pytest.fixture
def worker(redis_broker, tmp_path):
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": REDIS_URL,
        "DATABASE_URL": _database_url(),
        "DEBUG": "true",
        "PROVISIONING_BACKOFF_BASE_SECONDS": "1",
        "PROVISIONING_BACKOFF_CAP_SECONDS": "2",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=test-{os.getpid()}@localhost",
            ],
            cwd=Path(settings.BASE_DIR),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: "ready" in log.read_text() or process.poll() is not None, 60, "the worker to start")
        assert process.poll() is None, log.read_text()
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_real_worker_delivers_claims_through_vendor_failures_and_deactivates_on_revoke(vendor, worker):
    department = AgencyFactory(slug="worker-dept")
    AgencyDomainFactory(agency=department, domain="worker.gov")
    program = VendorProgramFactory(connector_settings=vendor.settings(timeout=2))
    pool = AllocationFactory(program=program, agency=department, quantity=10)
    vendor.fail_next(Fault("status", 500), Fault("status", 429, retry_after="1"))

    seats = [
        services.seat_claim(
            allocation=pool,
            employee=EmployeeFactory(agency=department, email=f"w{i}@worker.gov"),
            actor=ACTOR,
        )
        for i in range(5)
    ]

    def all_active() -> bool:
        return Seat.objects.filter(pk__in=[s.pk for s in seats], state=Seat.State.ACTIVE).count() == len(
            seats
        )

    try:
        _wait(all_active, 90, "the worker to deliver every seat")
    except AssertionError:
        raise AssertionError(worker.read_text()[-4000:]) from None
    assert sorted(u.user_name for u in vendor.users()) == sorted(s.employee.email for s in seats)
    assert ProvisioningJob.objects.filter(attempts__gt=1).count() >= 1, "some delivery was retried"

    services.seat_revoke(seat=Seat.objects.get(pk=seats[0].pk), actor=ACTOR, reason="left")
    _wait(
        lambda: not ProvisioningJob.objects.filter(state=ProvisioningJob.State.QUEUED).exists(),
        60,
        "the deactivation",
    )
    inactive = [u.user_name for u in vendor.users() if not u.active]
    assert inactive == [seats[0].employee.email]
