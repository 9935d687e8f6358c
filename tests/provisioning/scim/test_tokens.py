"""SCIM tokens: shown once, stored hashed, rotated, revoked, rate-limited, and the only key to an agency."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from agencies.models import Employee
from audit.actors import Actor
from audit.models import AuditEvent
from core.errors import InvalidInput
from provisioning.scim import tokens
from provisioning.scim.models import ScimToken
from tests.provisioning.scim.conftest import ScimClient, user_body

ADMIN = Actor.system("test")

pytestmark = pytest.mark.django_db


def test_a_new_token_is_kept_only_as_its_sha256_hash(department, agency_admin):
    issued = tokens.scim_token_create(agency=department, name="Okta", actor=agency_admin)

    row = ScimToken.objects.get()
    assert issued.secret.startswith("scim_") and len(issued.secret) > 40
    assert row.token_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in {row.token_hash, row.prefix, row.name}
    assert issued.secret.startswith(row.prefix) and len(row.prefix) == 12
    assert row.created_by == agency_admin
    event = AuditEvent.objects.get(verb="scim_token.create")
    assert event.actor_label == agency_admin.email and issued.secret not in str(event.after)


def test_a_request_without_a_valid_token_is_401_with_a_bearer_challenge(department):
    for header in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer scim_nope"},
        {"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg=="},
    ):
        client = ScimClient("unused")
        client.headers = header
        response = client.get("Users")
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="SCIM"'
        assert response.json_body["status"] == "401"


def test_use_is_recorded_in_last_used_at(scim, scim_token):
    assert scim_token.token.last_used_at is None
    assert scim.get("Users").status_code == 200
    scim_token.token.refresh_from_db()
    assert scim_token.token.last_used_at is not None


def test_a_revoked_token_stops_at_once(scim, scim_token, agency_admin):
    assert scim.get("Users").status_code == 200
    tokens.scim_token_revoke(token=scim_token.token, actor=agency_admin)
    assert scim.get("Users").status_code == 401
    assert AuditEvent.objects.filter(verb="scim_token.revoke").count() == 1
    tokens.scim_token_revoke(token=scim_token.token, actor=agency_admin)
    assert AuditEvent.objects.filter(verb="scim_token.revoke").count() == 1


def test_rotation_without_overlap_replaces_the_secret_immediately(scim, scim_token, agency_admin):
    rotated = tokens.scim_token_rotate(token=scim_token.token, actor=agency_admin)
    assert rotated.token.name == scim_token.token.name and rotated.token.rotated_from == scim_token.token
    assert scim.get("Users").status_code == 401
    assert ScimClient(rotated.secret).get("Users").status_code == 200


def test_rotation_with_overlap_keeps_the_old_secret_working_until_it_expires(scim, scim_token, agency_admin):
    rotated = tokens.scim_token_rotate(token=scim_token.token, actor=agency_admin, overlap=timedelta(hours=1))
    assert scim.get("Users").status_code == 200
    assert ScimClient(rotated.secret).get("Users").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=1)):
        assert scim.get("Users").status_code == 401
        assert ScimClient(rotated.secret).get("Users").status_code == 200
    with pytest.raises(InvalidInput, match="already rotated"):
        tokens.scim_token_rotate(token=scim_token.token, actor=agency_admin)


def test_names_are_unique_per_agency_among_current_tokens(department, other_department, agency_admin):
    first = tokens.scim_token_create(agency=department, name="Okta", actor=agency_admin)
    with pytest.raises(InvalidInput, match="already has a SCIM token called"):
        tokens.scim_token_create(agency=department, name=" Okta ", actor=agency_admin)
    tokens.scim_token_create(agency=other_department, name="Okta", actor=agency_admin)
    tokens.scim_token_revoke(token=first.token, actor=agency_admin)
    assert tokens.scim_token_create(agency=department, name="Okta", actor=agency_admin).token.pk


def test_over_the_limit_answers_429_with_retry_after_until_the_window_ends(department, agency_admin):
    issued = tokens.scim_token_create(
        agency=department, name="Busy", actor=agency_admin, rate_limit_per_minute=3
    )
    client = ScimClient(issued.secret)
    start = timezone.now().replace(second=5, microsecond=0)
    with time_machine.travel(start, tick=False):
        assert [client.get("Users").status_code for _ in range(3)] == [200, 200, 200]
        throttled = client.get("Users")
        assert throttled.status_code == 429
        assert throttled["Retry-After"] == "55"
        assert (
            throttled.json_body["status"] == "429" and "3 requests a minute" in throttled.json_body["detail"]
        )
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert client.get("Users").status_code == 200


def test_the_limit_is_per_token(department, agency_admin):
    tight = tokens.scim_token_create(
        agency=department, name="Tight", actor=agency_admin, rate_limit_per_minute=1
    )
    other = tokens.scim_token_create(
        agency=department, name="Other", actor=agency_admin, rate_limit_per_minute=1
    )
    with time_machine.travel(timezone.now().replace(second=1), tick=False):
        assert ScimClient(tight.secret).get("Users").status_code == 200
        assert ScimClient(tight.secret).get("Users").status_code == 429
        assert ScimClient(other.secret).get("Users").status_code == 200


def test_the_token_alone_decides_the_agency(scim, department, other_department):
    response = scim.post("Users", user_body("ada@examples.gov"))
    assert response.status_code == 201
    assert Employee.objects.get(email="ada@examples.gov").agency == department
    # Nothing a request carries can point the token at another agency.
    for attempt in ({"agency": other_department.slug}, {"organization": other_department.name}):
        body = user_body("alan@elsewhere.gov", **attempt)
        assert scim.post("Users", body).status_code == 400
    assert not Employee.objects.filter(agency=other_department).exists()


def test_create_scim_token_command_prints_the_token_once(department):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_scim_token", department.slug, "--name", "Entra ID", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("scim_")
    assert "cannot be shown again" in err.getvalue()
    assert ScimToken.objects.get(name="Entra ID").token_hash == tokens.hash_token(secret)
    assert ScimClient(secret).get("ServiceProviderConfig").status_code == 200


def test_create_scim_token_command_refuses_an_unknown_agency(db):
    with pytest.raises(CommandError, match="No agency has the short name"):
        call_command("create_scim_token", "nowhere", "--name", "x", stdout=io.StringIO())


@pytest.fixture
def shared_cache(settings):
    """The production arrangement: a cache every process shares holds tokens and rate counters."""
    from django.core.cache import cache

    settings.SCIM_RATE_LIMIT_BACKEND = "cache"
    cache.clear()
    yield cache
    cache.clear()


class TestWithASharedCache:
    def test_a_cached_token_still_stops_the_moment_it_is_revoked(
        self, shared_cache, scim, scim_token, django_capture_on_commit_callbacks
    ):
        assert scim.get("Users").status_code == 200
        assert shared_cache.get(f"scim:token:{scim_token.token.token_hash}") is not None
        with django_capture_on_commit_callbacks(execute=True):
            tokens.scim_token_revoke(token=scim_token.token, actor=ADMIN)
        assert scim.get("Users").status_code == 401

    def test_rotation_with_overlap_expires_the_cached_old_token_on_time(
        self, shared_cache, scim, scim_token, django_capture_on_commit_callbacks
    ):
        assert scim.get("Users").status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            tokens.scim_token_rotate(token=scim_token.token, actor=ADMIN, overlap=timedelta(minutes=5))
        assert scim.get("Users").status_code == 200
        with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
            assert scim.get("Users").status_code == 401

    def test_the_limit_is_counted_in_the_cache_without_touching_the_token_row(self, shared_cache, department):
        issued = tokens.scim_token_create(
            agency=department, name="Cached", actor=ADMIN, rate_limit_per_minute=2
        )
        client = ScimClient(issued.secret)
        with time_machine.travel(timezone.now().replace(second=30), tick=False):
            assert [client.get("Users").status_code for _ in range(3)] == [200, 200, 429]
        issued.token.refresh_from_db()
        assert issued.token.window_count == 0 and issued.token.last_used_at is not None

    def test_a_cached_lookup_costs_the_database_nothing(self, shared_cache, scim, django_assert_num_queries):
        scim.get("Users")
        with django_assert_num_queries(1):  # the page itself: the token and its count are in the cache
            scim.get("Users", filter='userName eq "nobody@examples.gov"')


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_share_one_count_across_connections(department):
    """Twenty connections at once against a limit of ten: exactly ten get through."""
    import threading

    from django.db import connection

    issued = tokens.scim_token_create(agency=department, name="Racy", actor=ADMIN, rate_limit_per_minute=10)
    barrier = threading.Barrier(20)
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        try:
            barrier.wait()
            admission = tokens.authenticate(issued.secret)
            with lock:
                results.append(admission.token is not None and not admission.throttled)
        finally:
            connection.close()

    with time_machine.travel(timezone.now().replace(second=10), tick=False):
        threads = [threading.Thread(target=hit) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert len(results) == 20 and results.count(True) == 10
