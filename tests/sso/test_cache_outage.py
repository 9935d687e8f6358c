"""With the shared cache (Redis) down, people still sign in: limits are skipped, not enforced by a 500."""

from __future__ import annotations

import pytest

from tests.conftest import use_dead_redis, use_real_redis
from tests.sso.saml_kit import HOST, SamlBrowser, encode

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(settings):
    settings.SSO_PARKING = ""  # follow the cache, as production does
    return use_dead_redis(settings)


def test_the_dead_cache_really_is_dead(cache_down):
    from redis.exceptions import ConnectionError as RedisConnectionError

    with pytest.raises(RedisConnectionError):
        cache_down.get("anything")


def test_discovery_still_sends_the_person_on_to_their_idp(idp, cache_down):
    response = SamlBrowser().client.post("/sso/discover/", {"email": "pat@examples.gov"}, HTTP_HOST=HOST)
    assert response.status_code == 302 and response["Location"].startswith(
        "https://idp.examples.gov/saml/sso?"
    )


def test_a_whole_sign_in_completes_with_the_response_parked_in_the_database(idp, forge, cache_down, caplog):
    browser = SamlBrowser()
    response = browser.post("doe-x", encode(forge.but(in_response_to=browser.start("doe-x")).build()))
    assert response.status_code == 302 and browser.signed_in_user_id
    assert "parking a sign-in response (parked in the database instead)" in caplog.text


def test_a_response_parked_in_the_cache_before_it_went_down_asks_to_start_again(idp, forge, settings):
    use_real_redis(settings, 6)
    settings.SSO_PARKING = ""
    browser = SamlBrowser()
    request_id = browser.start("doe-x")
    parked = browser.park("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert parked.status_code == 302
    use_dead_redis(settings)
    finish = browser.client.get(parked["Location"], HTTP_HOST=HOST)
    assert finish.status_code == 400
    assert "expired or was already used" in finish.content.decode()
    assert not browser.signed_in_user_id


# --- staff with a password and an authenticator -------------------------------------------------
def _code(user) -> str:
    import time

    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import hotp_value
    from allauth.mfa.utils import decrypt

    secret = Authenticator.objects.get(user=user).wrap().instance.data["secret"]
    return f"{hotp_value(decrypt(secret), int(time.time()) // 30):06d}"


def test_staff_sign_in_with_password_and_code_while_the_cache_is_down(gsa_admin, cache_down, caplog):
    from django.test import Client

    from tests.sso.test_dev_idp_and_mfa import _enrol

    _enrol(gsa_admin)
    gsa_admin.is_staff = True
    gsa_admin.save()
    client = Client(HTTP_HOST=HOST)
    step = client.post("/accounts/login/", {"login": "gsa-admin", "password": "correct horse battery staple"})
    assert step.status_code == 302 and step["Location"] == "/accounts/2fa/authenticate/"
    code = _code(gsa_admin)
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert client.get("/admin/").status_code == 200
    # The code was marked used in the database: replaying it on another sign-in fails.
    other = Client(HTTP_HOST=HOST)
    other.post("/accounts/login/", {"login": "gsa-admin", "password": "correct horse battery staple"})
    replay = other.post("/accounts/2fa/authenticate/", {"code": code})
    assert replay.status_code == 200 and "Incorrect code" in replay.content.decode()
    assert "(kept in the database instead)" in caplog.text


def test_failed_passwords_are_still_limited_while_the_cache_is_down(gsa_admin, cache_down):
    from django.test import Client

    client = Client(HTTP_HOST=HOST)
    statuses = [
        client.post("/accounts/login/", {"login": "gsa-admin", "password": "wrong"}).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [200] * 5
    right = {"login": "gsa-admin", "password": "correct horse battery staple"}
    final = client.post("/accounts/login/", right)
    assert final.status_code == 200 and "Too many failed login attempts" in final.content.decode()
