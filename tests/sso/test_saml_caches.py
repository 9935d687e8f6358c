"""What the ACS keeps between requests (built settings, the compiled XSD) and the lean session store.

A cache in front of signature checks must never let a changed IdP be judged by its old settings:
new certificates, new metadata and a disabled IdP take effect on the very next sign-in.
"""

from __future__ import annotations

import base64
import threading
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from django.utils import timezone
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from audit.actors import Actor
from core.sessions import SessionStore
from sso.metadata import manual_config
from sso.models import IdentityProvider
from sso.saml import STOCK_VALIDATE_XML, compiled_schema, saml_settings, validate_xml
from sso.services import identity_provider_register, identity_provider_set_enabled
from tests.sso.conftest import IDP_A
from tests.sso.saml_kit import HOST, SamlBrowser, encode, keys

PROTOCOL_XSD = "saml-schema-protocol-2.0.xsd"


def sign_in(forge, key_name: str) -> int:
    browser = SamlBrowser()
    request_id = browser.start("doe-x")
    response = browser.post("doe-x", encode(forge.but(in_response_to=request_id, key=keys(key_name)).build()))
    if response.status_code == 302:
        assert browser.signed_in_user_id
    return response.status_code


def repin(department, *key_names: str) -> None:
    config = manual_config(
        entity_id=IDP_A, sso_url=f"{IDP_A}/sso", certificates=[keys(name)[1] for name in key_names]
    )
    identity_provider_register(agency=department, config=config, actor=Actor.system("t"))


@pytest.mark.django_db
def test_a_replaced_certificate_is_distrusted_on_the_very_next_sign_in(department, forge):
    assert sign_in(forge, "examples") == 302  # the settings for the old certificate are now built
    repin(department, "examples-next")
    assert sign_in(forge, "examples") == 403
    assert sign_in(forge, "examples-next") == 302


@pytest.mark.django_db
def test_a_rollover_certificate_is_trusted_as_soon_as_it_is_pinned(department, forge):
    assert sign_in(forge, "examples-next") == 403
    repin(department, "examples", "examples-next")
    assert sign_in(forge, "examples-next") == 302


@pytest.mark.django_db
def test_a_disabled_idp_signs_nobody_in_even_with_its_settings_built(department, idp, forge):
    assert sign_in(forge, "examples") == 302
    identity_provider_set_enabled(identity_provider=idp, enabled=False, actor=Actor.system("t"))
    browser = SamlBrowser()
    response = browser.post("doe-x", encode(forge.build()))
    assert response.status_code == 404
    assert browser.signed_in_user_id is None


@pytest.mark.django_db
def test_settings_are_built_once_per_idp_version_and_host(department, idp, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "seats.example.gov"]
    request = RequestFactory().get("/", HTTP_HOST=HOST)
    app_settings = IdentityProvider.objects.get(pk=idp.pk).social_app.settings
    first = saml_settings(request, app_settings, "doe-x")
    assert saml_settings(request, app_settings, "doe-x") is first
    other_host = RequestFactory().get("/", HTTP_HOST="seats.example.gov")
    assert saml_settings(other_host, app_settings, "doe-x") is not first

    repin(department, "examples-next")
    changed = IdentityProvider.objects.get(pk=idp.pk).social_app.settings
    rebuilt = saml_settings(request, changed, "doe-x")
    assert rebuilt is not first
    assert "".join(keys("examples-next")[1].split()[2:-2]) in "".join(
        rebuilt.get_idp_data()["x509cert"].split()
    )


# --- the compiled XSD ------------------------------------------------------------------------------
def response_xml(forge) -> bytes:
    return base64.b64decode(encode(forge.build()))


def test_python3_saml_checks_schemas_with_the_compiled_copy():
    assert OneLogin_Saml2_XML.validate_xml is validate_xml


@pytest.mark.django_db
def test_the_compiled_schema_judges_documents_exactly_as_python3_saml_does(forge):
    valid = response_xml(forge)
    no_version = valid.replace(b' Version="2.0"', b"", 1)
    assert no_version != valid
    for document, expected in ((valid, None), (no_version, "invalid_xml"), (b"<not-closed", "unloaded_xml")):
        ours, stock = validate_xml(document, PROTOCOL_XSD), STOCK_VALIDATE_XML(document, PROTOCOL_XSD)
        if expected is None:
            assert ours.tag == stock.tag == "{urn:oasis:names:tc:SAML:2.0:protocol}Response"
        else:
            assert ours == stock == expected


def test_each_thread_compiles_its_own_schema_once():
    mine = compiled_schema(PROTOCOL_XSD)
    assert compiled_schema(PROTOCOL_XSD) is mine
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(compiled_schema(PROTOCOL_XSD)))
    worker.start()
    worker.join()
    assert theirs and theirs[0] is not mine


@pytest.mark.parametrize("name", ["../settings.py", "/etc/passwd", "no-such-schema.xsd"])
def test_only_python3_saml_own_schemas_can_be_named(name):
    with pytest.raises(ValueError):
        compiled_schema(name)


# --- the session store -----------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_parked_session_can_be_taken_once():
    parked = SessionStore()
    parked["post"] = {"SAMLResponse": "x"}
    parked.save()
    key = parked.session_key
    assert SessionStore(key).take() == {"post": {"SAMLResponse": "x"}}
    assert SessionStore(key).take() == {}
    assert not Session.objects.filter(session_key=key).exists()


@pytest.mark.django_db
def test_an_expired_parked_session_gives_nothing():
    parked = SessionStore()
    parked["post"] = {"SAMLResponse": "x"}
    parked.save()
    Session.objects.filter(session_key=parked.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert SessionStore(parked.session_key).take() == {}


@pytest.mark.django_db
def test_saving_what_was_just_saved_costs_no_query(django_assert_num_queries):
    session = SessionStore()
    session["a"] = 1
    session.save()
    with django_assert_num_queries(0):
        session.save()
    session["a"] = 2
    with django_assert_num_queries(1):
        session.save()
    assert SessionStore(session.session_key).load() == {"a": 2}


@pytest.mark.django_db
def test_cycling_the_key_moves_the_data_and_drops_the_old_row():
    session = SessionStore()
    session["a"] = 1
    session.save()
    old = session.session_key
    session.cycle_key()
    assert session.session_key != old
    assert not Session.objects.filter(session_key=old).exists()
    assert SessionStore(session.session_key).load() == {"a": 1}


@pytest.mark.django_db
def test_a_returning_sign_in_costs_a_fixed_number_of_queries(
    department, forge, django_assert_max_num_queries
):
    assert sign_in(forge, "examples") == 302  # the first sign-in creates the employee
    browser = SamlBrowser()
    request_id = browser.start("doe-x")
    first = browser.park("doe-x", encode(forge.but(in_response_to=request_id).build()))
    with django_assert_max_num_queries(22):
        final = browser.client.get(first["Location"], HTTP_HOST=HOST)
    assert final.status_code == 302
    assert browser.signed_in_user_id


# --- parking the IdP's POST between the two steps ----------------------------------------------------
@pytest.fixture(params=["cache", "database"])
def parking_backend(request, settings):
    from django.core.cache import cache

    settings.SSO_PARKING = request.param
    cache.clear()
    return request.param


@pytest.mark.django_db
def test_a_parked_response_signs_in_once_whichever_store_holds_it(parking_backend, idp, forge):
    browser = SamlBrowser()
    request_id = browser.start("doe-x")
    first = browser.park("doe-x", encode(forge.but(in_response_to=request_id).build()))
    cookie = first.cookies["sso-acs"]
    assert cookie["httponly"] and cookie["path"] == "/accounts/saml/doe-x/acs/finish/"
    assert (Session.objects.filter(session_key=cookie.value).exists()) == (parking_backend == "database")
    assert browser.client.get(first["Location"], HTTP_HOST=HOST).status_code == 302
    assert browser.signed_in_user_id
    again = browser.client.get(first["Location"], HTTP_HOST=HOST)
    assert again.status_code == 400


@pytest.mark.django_db
def test_a_refused_parked_response_is_used_up_whichever_store_holds_it(parking_backend, idp, forge):
    from audit.models import AuditEvent

    browser = SamlBrowser()
    browser.start("doe-x")
    first = browser.client.post(
        "/accounts/saml/doe-x/acs/",
        {"SAMLResponse": encode(forge.but(in_response_to="nope").build())},
        HTTP_HOST=HOST,
    )
    assert browser.client.get(first["Location"], HTTP_HOST=HOST).status_code == 403
    assert browser.client.get(first["Location"], HTTP_HOST=HOST).status_code == 400
    reasons = AuditEvent.objects.filter(verb="sso.sign_in.refused").values_list("after__reason", flat=True)
    assert sorted(reasons) == ["no_parked_response", "unsolicited"]


def test_the_parking_store_follows_the_cache_unless_forced(settings):
    from sso import parking

    settings.SSO_PARKING = ""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert parking.backend() == "database"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    }
    assert parking.backend() == "cache"


@pytest.mark.django_db
@pytest.mark.parametrize("handle", ["", "x" * 65, "../../etc", "a b", "\x00"])
def test_a_parking_handle_we_never_issued_finds_nothing(parking_backend, handle, rf):
    from sso import parking

    request = rf.get("/")
    request.COOKIES[parking.COOKIE] = handle
    assert parking.take(request) is None
    parking.discard(request)
