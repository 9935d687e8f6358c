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
