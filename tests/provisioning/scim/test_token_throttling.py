"""last_used_at is written at most once a minute, yet a revoked token stops on its very next request.

With a shared cache the token itself is cached; recording its use must never write that cached
copy back (it could undo a revocation that committed a moment earlier). With Redis, the cached
token and the request's count come back in one round trip.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.utils import timezone

from audit.actors import Actor
from core.shared_cache import fixed_window
from provisioning.scim import tokens
from provisioning.scim.models import ScimToken
from tests.conftest import use_dead_redis, use_real_redis
from tests.provisioning.scim.conftest import ScimClient

ADMIN = Actor.system("test")
pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_cache(settings):
    settings.SCIM_RATE_LIMIT_BACKEND = "cache"
    cache = caches["default"]
    cache.clear()
    yield cache
    cache.clear()


def last_used(issued) -> object:
    return ScimToken.objects.values_list("last_used_at", flat=True).get(pk=issued.token.pk)


def test_last_used_at_is_written_once_a_minute_not_per_request(shared_cache, department):
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=1000)
    client = ScimClient(issued.secret)
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        assert client.get("Users").status_code == 200
    first = last_used(issued)
    assert first == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert client.get("Users").status_code == 200
    assert last_used(issued) == first
    later = start + timedelta(seconds=75)
    with time_machine.travel(later, tick=False):
        assert client.get("Users").status_code == 200
    assert last_used(issued) == later


def test_a_revoked_token_stops_on_its_next_request_even_between_use_records(
    shared_cache, department, django_capture_on_commit_callbacks
):
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=1000)
    client = ScimClient(issued.secret)
    assert client.get("Users").status_code == 200
    admitted = tokens.authenticate(issued.secret).token  # a request in flight holds the cached token
    with django_capture_on_commit_callbacks(execute=True):
        tokens.scim_token_revoke(token=issued.token, actor=ADMIN)
    # That request now records its use, in a new minute: it may touch the row, never the cache.
    tokens._note_use(admitted, timezone.now() + timedelta(minutes=2))
    assert shared_cache.get(f"scim:token:{issued.token.token_hash}") == tokens.REVOKED
    assert client.get("Users").status_code == 401
    assert tokens.authenticate(issued.secret).token is None


def test_a_revoked_token_stops_at_once_without_a_shared_cache(department):
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=1000)
    client = ScimClient(issued.secret)
    assert client.get("Users").status_code == 200
    tokens.scim_token_revoke(token=issued.token, actor=ADMIN)
    assert client.get("Users").status_code == 401


# --- with Redis ---------------------------------------------------------------------------------
@pytest.fixture
def redis_cache(settings):
    cache = use_real_redis(settings, 14)
    settings.SCIM_RATE_LIMIT_BACKEND = ""
    yield cache
    cache.clear()


def test_with_redis_a_known_token_and_its_count_come_back_from_one_script(redis_cache, department):
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=3)
    client = ScimClient(issued.secret)
    with time_machine.travel(timezone.now().replace(second=20), tick=False):
        assert client.get("Users").status_code == 200  # cold: the token is read from the database
        digest = issued.token.token_hash
        entry, count = tokens._cached_entry_and_count(digest, timezone.now())
        assert isinstance(entry, dict) and entry["token"]["id"] == issued.token.pk and count == 2
        assert [client.get("Users").status_code for _ in range(2)] == [200, 429]  # counts 3 and 4


def test_with_redis_the_script_is_sent_again_after_redis_forgot_it(redis_cache, department):
    """The script goes by its SHA; a restarted Redis (or SCRIPT FLUSH) has lost it and gets it again."""
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=100)
    client = ScimClient(issued.secret)
    with time_machine.travel(timezone.now().replace(second=20), tick=False):
        assert client.get("Users").status_code == 200
        redis_cache._cache.get_client(write=True).script_flush()
        assert client.get("Users").status_code == 200
        _, count = tokens._cached_entry_and_count(issued.token.token_hash, timezone.now())
    assert count == 3  # the second request and this look were counted: the script ran again


def test_with_redis_a_cached_token_lives_a_minute_at_most(redis_cache, department):
    """What bounds a revocation Redis missed (it was down then, and came back with the copy)."""
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=100)
    assert ScimClient(issued.secret).get("Users").status_code == 200
    key = redis_cache.make_and_validate_key(tokens._cache_key(issued.token.token_hash))
    assert 0 < redis_cache._cache.get_client().ttl(key) <= 60


def test_with_redis_an_unknown_token_leaves_no_counter_behind(redis_cache):
    entry, count = tokens._cached_entry_and_count("0" * 64, timezone.now())
    assert entry is None and count is None
    window, _ = fixed_window(timezone.now(), tokens.WINDOW_SECONDS)
    assert redis_cache.get(tokens._rate_key("0" * 64, window)) is None


def test_with_redis_a_revoked_token_stops_at_once(
    redis_cache, department, django_capture_on_commit_callbacks
):
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=ADMIN, rate_limit_per_minute=1000)
    client = ScimClient(issued.secret)
    assert client.get("Users").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        tokens.scim_token_revoke(token=issued.token, actor=ADMIN)
    assert client.get("Users").status_code == 401


# --- with Redis down ----------------------------------------------------------------------------
def test_with_redis_down_the_token_is_read_and_counted_in_the_database(
    settings, department, django_capture_on_commit_callbacks, caplog
):
    use_dead_redis(settings)
    settings.SCIM_RATE_LIMIT_BACKEND = ""
    issued = tokens.scim_token_create(agency=department, name="Entra", actor=ADMIN, rate_limit_per_minute=2)
    client = ScimClient(issued.secret)
    with time_machine.travel(timezone.now().replace(second=5, microsecond=0), tick=False):
        statuses = [client.get("Users").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert ScimToken.objects.get(pk=issued.token.pk).window_count == 3
    assert "read and counted in the database instead" in caplog.text
    # Revoking commits and stops the token though its cached copy cannot be overwritten.
    with django_capture_on_commit_callbacks(execute=True):
        tokens.scim_token_revoke(token=issued.token, actor=ADMIN)
    assert client.get("Users").status_code == 401
