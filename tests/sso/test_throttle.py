"""Rate limits on discovery, the SP-initiated login and the ACS: 429 with Retry-After, nothing created."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client

from audit.models import AuditEvent
from core.shared_cache import fixed_window
from sso import throttle
from tests.conftest import use_real_redis
from tests.sso.saml_kit import HOST, SamlBrowser, encode

pytestmark = pytest.mark.django_db

# 10:00:20 UTC tomorrow (inside the test keys' validity): 40 seconds left in the window.
T0 = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(hour=10, minute=0, second=20, microsecond=0)


def discover(client: Client, email: str = "pat@examples.gov", **extra):
    return client.post("/sso/discover/", {"email": email}, HTTP_HOST=HOST, **extra)


def assert_too_many(response, retry_after: int = 40) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(retry_after)
    page = response.content.decode()
    assert "Too many sign-in attempts" in page and f"Wait {retry_after} seconds" in page
    assert "10:01:00 UTC" in page


# --- discovery ------------------------------------------------------------------------------------
def test_discovery_over_its_limit_answers_429_and_reveals_nothing(idp, settings):
    settings.SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = 2
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert discover(client).status_code == 302  # to the agency's IdP
        assert discover(client).status_code == 302
        refused = discover(client)
        sessions = Session.objects.count()
        assert discover(Client()).status_code == 429  # a new browser, the same address
    assert_too_many(refused)
    assert Session.objects.count() == sessions
    assert "no-store" in refused["Cache-Control"]
    assert "examples.gov" not in refused.content.decode()
    assert not AuditEvent.objects.filter(verb="sso.sign_in.throttled").exists()  # no IdP: a log line


def test_discovery_counts_posts_only(settings):
    settings.SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = 1
    client = Client()
    with time_machine.travel(T0, tick=False):
        for _ in range(3):
            assert client.get("/sso/discover/", HTTP_HOST=HOST).status_code == 200
        assert discover(client, "x@nowhere.example").status_code == 400
        assert discover(client, "x@nowhere.example").status_code == 429


def test_a_new_window_admits_the_address_again(settings):
    settings.SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = 1
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        assert discover(client, "x@nowhere.example").status_code == 400
        assert discover(client, "x@nowhere.example").status_code == 429
        traveller.shift(39)  # 10:00:59, still the same window
        assert discover(client, "x@nowhere.example")["Retry-After"] == "1"
        traveller.shift(1)  # 10:01:00
        assert discover(client, "x@nowhere.example").status_code == 400


def test_each_address_has_its_own_count(settings):
    settings.SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = 1
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert discover(client, "x@nowhere.example", REMOTE_ADDR="192.0.2.1").status_code == 400
        assert discover(client, "x@nowhere.example", REMOTE_ADDR="192.0.2.1").status_code == 429
        assert discover(client, "x@nowhere.example", REMOTE_ADDR="192.0.2.2").status_code == 400


def test_a_limit_of_zero_is_off(settings):
    settings.SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = 0
    client = Client()
    for _ in range(5):
        assert discover(client, "x@nowhere.example").status_code == 400


# --- SP-initiated login ---------------------------------------------------------------------------
def test_login_start_over_its_limit_answers_429(idp, settings):
    settings.SSO_LOGIN_RATE_LIMIT_PER_MINUTE = 1
    browser = SamlBrowser()
    with time_machine.travel(T0, tick=False):
        assert browser.start("doe-x")
        refused = browser.client.post("/accounts/saml/doe-x/login/", {"next": "/claim/"}, HTTP_HOST=HOST)
        assert_too_many(refused)
        refused_again = browser.client.get("/accounts/saml/doe-x/login/", HTTP_HOST=HOST)
    assert refused_again.status_code == 429
    rows = AuditEvent.objects.filter(verb="sso.sign_in.throttled")
    assert [(r.after["scope"], r.after["per"], r.after["ip"]) for r in rows] == [
        ("login", "address", "127.0.0.1")
    ]


# --- the ACS --------------------------------------------------------------------------------------
def test_acs_over_its_limit_answers_429_creates_nothing_and_audits_once(idp, forge, settings):
    settings.SSO_ACS_RATE_LIMIT_PER_MINUTE = 1
    with time_machine.travel(T0, tick=False):
        first = SamlBrowser()
        first_response = first.post("doe-x", encode(forge.but(in_response_to=first.start("doe-x")).build()))
        assert first_response.status_code == 302 and first.signed_in_user_id
        users = get_user_model().objects.count()

        late = SamlBrowser()
        request_id = late.start("doe-x")
        sessions = Session.objects.count()
        for _ in range(3):
            refused = late.post(
                "doe-x",
                encode(
                    forge.but(
                        in_response_to=request_id, name_id="someone-else", email="grace@examples.gov"
                    ).build()
                ),
            )
            assert_too_many(refused)
    assert late.signed_in_user_id is None
    assert get_user_model().objects.count() == users and Session.objects.count() == sessions
    assert AuditEvent.objects.filter(verb="sso.sign_in.throttled").count() == 1
    assert AuditEvent.objects.filter(verb="sso.sign_in").count() == 1


def test_acs_agency_ceiling_holds_across_addresses_and_spares_other_agencies(idp, other_idp, forge, settings):
    settings.SSO_ACS_RATE_LIMIT_PER_MINUTE = 100
    settings.SSO_ACS_AGENCY_RATE_LIMIT_PER_MINUTE = 2
    client = Client()
    with time_machine.travel(T0, tick=False):
        for n in (1, 2):
            answer = client.post("/accounts/saml/doe-x/acs/", {}, HTTP_HOST=HOST, REMOTE_ADDR=f"192.0.2.{n}")
            assert answer.status_code == 400  # under both limits: refused for its empty body
        refused = client.post("/accounts/saml/doe-x/acs/", {}, HTTP_HOST=HOST, REMOTE_ADDR="192.0.2.3")
        assert_too_many(refused)
        other = client.post(
            f"/accounts/saml/{other_idp.agency.slug}/acs/", {}, HTTP_HOST=HOST, REMOTE_ADDR="192.0.2.3"
        )
        assert other.status_code == 400
    (row,) = AuditEvent.objects.filter(verb="sso.sign_in.throttled")
    assert row.after["per"] == "agency" and row.agency_id == idp.agency_id


def test_one_noisy_address_does_not_use_up_the_agency_ceiling(idp, settings):
    settings.SSO_ACS_RATE_LIMIT_PER_MINUTE = 1
    settings.SSO_ACS_AGENCY_RATE_LIMIT_PER_MINUTE = 3
    client = Client()
    with time_machine.travel(T0, tick=False):
        for _ in range(10):
            client.post("/accounts/saml/doe-x/acs/", {}, HTTP_HOST=HOST, REMOTE_ADDR="198.51.100.7")
        answer = client.post("/accounts/saml/doe-x/acs/", {}, HTTP_HOST=HOST, REMOTE_ADDR="192.0.2.9")
    assert answer.status_code == 400


def test_under_the_default_limits_a_sign_in_completes(idp, forge):
    browser = SamlBrowser()
    response = browser.post("doe-x", encode(forge.but(in_response_to=browser.start("doe-x")).build()))
    assert response.status_code == 302 and browser.signed_in_user_id


def test_rotating_through_one_ipv6_64_does_not_escape_the_limit(settings):
    settings.SSO_DISCOVERY_RATE_LIMIT_PER_MINUTE = 2
    client = Client()
    with time_machine.travel(T0, tick=False):
        answers = [
            discover(client, "x@nowhere.example", REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code
            for n in range(1, 4)
        ]
    assert answers == [400, 400, 429]


# --- with Redis -----------------------------------------------------------------------------------
@pytest.fixture
def redis_cache(settings):
    cache = use_real_redis(settings, 5)
    yield cache
    cache.clear()


def test_with_redis_both_counts_come_from_one_script_and_expire(redis_cache, settings):
    settings.SSO_ACS_RATE_LIMIT_PER_MINUTE = 2
    settings.SSO_ACS_AGENCY_RATE_LIMIT_PER_MINUTE = 3
    with time_machine.travel(T0, tick=False):
        outcomes = [
            throttle.check(scope=throttle.ACS, client="192.0.2.1", agency_slug="doe-x") for _ in range(3)
        ]
        assert outcomes[:2] == [None, None]
        assert outcomes[2] is not None and (outcomes[2].per, outcomes[2].retry_after) == ("address", 40)
        assert outcomes[2].first_in_window
        again = throttle.check(scope=throttle.ACS, client="192.0.2.1", agency_slug="doe-x")
        assert again is not None and not again.first_in_window
        assert throttle.check(scope=throttle.ACS, client="192.0.2.2", agency_slug="doe-x") is None
        over = throttle.check(scope=throttle.ACS, client="192.0.2.3", agency_slug="doe-x")
        assert over is not None and over.per == "agency"
    client = redis_cache._cache.get_client()
    start, _ = fixed_window(T0, throttle.WINDOW_SECONDS)
    address_key = redis_cache.make_and_validate_key(f"sso:throttle:acs:ip:192.0.2.1:{start}")
    agency_key = redis_cache.make_and_validate_key(f"sso:throttle:acs:agency:doe-x:{start}")
    assert int(client.get(address_key)) == 4
    # .1 twice, .2 once, .3 once: the refused requests of .1 did not count for the agency.
    assert int(client.get(agency_key)) == 4
    assert 0 < client.ttl(address_key) <= 2 * throttle.WINDOW_SECONDS


def test_with_redis_the_acs_answers_429(redis_cache, idp, settings):
    settings.SSO_ACS_RATE_LIMIT_PER_MINUTE = 1
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert client.post("/accounts/saml/doe-x/acs/", {}, HTTP_HOST=HOST).status_code == 400
        assert_too_many(client.post("/accounts/saml/doe-x/acs/", {}, HTTP_HOST=HOST))
