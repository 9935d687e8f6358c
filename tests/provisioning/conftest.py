from __future__ import annotations

import pytest

from tests.provisioning.vendor_server import start_vendor


@pytest.fixture
def vendor():
    """A scim2-server on 127.0.0.1 with an ephemeral port, acting as the vendor's workspace."""
    server = start_vendor()
    yield server
    server.stop()


@pytest.fixture
def fast_retries(settings):
    """Short backoff so a whole retry window fits in a test (time-machine moves the clock)."""
    settings.PROVISIONING_MAX_ATTEMPTS = 4
    settings.PROVISIONING_BACKOFF_BASE_SECONDS = 10
    settings.PROVISIONING_BACKOFF_CAP_SECONDS = 60
    settings.PROVISIONING_LEASE_SECONDS = 120
    return settings


@pytest.fixture
def broker_down():
    """The Celery app publishing to a broker that refuses connections (as production publishes:
    with the outbox's fail-fast retry policy)."""
    from config.celery import app

    before = (app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool)
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    app._pool = app.amqp._producer_pool = None  # both are built again, for the dead broker
    yield
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url, app.conf.task_always_eager, app._pool, app.amqp._producer_pool = before
