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
def celery_eager():
    """Run tasks in-process. Only for tests about something else than Celery itself (the real
    worker is exercised in test_celery_worker.py)."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def superuser(db):
    from tests.factories import UserFactory

    return UserFactory(username="root", email="root@gsa.gov", is_staff=True, is_superuser=True)
