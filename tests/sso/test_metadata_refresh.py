"""The daily IdP metadata refresh: rollovers and moved endpoints applied, bad metadata never trusted."""

from __future__ import annotations

import http.server
import io
import re
import threading

import pytest
from django.core.management import CommandError, call_command

from audit.actors import Actor
from audit.models import AuditEvent
from config.celery import app
from sso.metadata import fetch_metadata, parse_metadata
from sso.models import IdentityProvider
from sso.services import identity_provider_register
from sso.tasks import refresh_idp_metadata, refresh_one_idp_metadata
from tests.sso.saml_kit import HOST, Forge, SamlBrowser, encode, keys
from tests.sso.test_registration import REDIRECT, expired_cert, metadata_xml

pytestmark = pytest.mark.django_db

ENTITY_ID = "https://idp.examples.gov/saml"


class MetadataServer:
    """An IdP publishing its metadata on 127.0.0.1; tests change what it serves."""

    def __init__(self) -> None:
        self.body = metadata_xml()
        self.status = 200
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(served.status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.end_headers()
                self.wfile.write(served.body)

            def log_message(self, *args):
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/metadata"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server():
    served = MetadataServer()
    yield served
    served.close()


@pytest.fixture
def url_idp(department, server, settings):
    """Department of Examples registered from its IdP's metadata URL, with the "examples" key."""
    settings.SSO_METADATA_REFRESH_PRIVATE_URLS = True  # the fake IdP is on this machine
    config = parse_metadata(fetch_metadata(server.url, operator=True), metadata_url=server.url)
    return identity_provider_register(agency=department, config=config, actor=Actor.system("test"))


def refresh(idp: IdentityProvider) -> str:
    return refresh_one_idp_metadata(idp.pk)


def fingerprints(idp: IdentityProvider) -> set[str]:
    return set(idp.certificates.values_list("fingerprint_sha256", flat=True))


def refresh_rows():
    return AuditEvent.objects.filter(verb="sso.idp.metadata_refresh")


# --- changes applied ------------------------------------------------------------------------------
def test_a_rolled_over_key_is_pinned_and_signs_people_in(url_idp, server):
    server.body = metadata_xml(certs=[keys("examples")[1], keys("examples-next")[1]])
    assert refresh(url_idp) == "updated"
    url_idp.refresh_from_db()
    assert len(fingerprints(url_idp)) == 2
    assert url_idp.metadata_error == "" and url_idp.metadata_checked_at is not None
    (row,) = refresh_rows()
    assert len(row.before["certificates"]) == 1 and len(row.after["certificates"]) == 2
    assert row.actor_label == "sso.refresh_idp_metadata"
    # The new key is trusted by the ACS, not only listed.
    browser = SamlBrowser()
    forge = Forge(
        slug="doe-x", issuer=ENTITY_ID, key=keys("examples-next"), in_response_to=browser.start("doe-x")
    )
    response = browser.post("doe-x", encode(forge.build()))
    assert response.status_code == 302 and browser.signed_in_user_id


def test_a_moved_sign_on_url_is_applied(url_idp, server):
    server.body = metadata_xml(sso=[(REDIRECT, "https://login2.examples.gov/saml/sso")])
    assert refresh(url_idp) == "updated"
    url_idp.refresh_from_db()
    assert url_idp.sso_url == "https://login2.examples.gov/saml/sso"
    assert url_idp.social_app.settings["idp"]["sso_url"] == "https://login2.examples.gov/saml/sso"
    (row,) = refresh_rows()
    assert row.before["sso_url"] != row.after["sso_url"]


def test_unchanged_metadata_only_notes_the_check_and_clears_an_old_error(url_idp):
    IdentityProvider.objects.filter(pk=url_idp.pk).update(
        metadata_error="was unreachable", metadata_checked_at=None
    )
    assert refresh(url_idp) == "unchanged"
    url_idp.refresh_from_db()
    assert url_idp.metadata_error == "" and url_idp.metadata_checked_at is not None
    assert not refresh_rows().exists()


# --- failures keep the old settings ---------------------------------------------------------------
def assert_kept(idp: IdentityProvider, before: set[str], fragment: str) -> None:
    idp.refresh_from_db()
    assert fingerprints(idp) == before and idp.sso_url == f"{ENTITY_ID}/sso"
    assert fragment in idp.metadata_error, idp.metadata_error
    assert not refresh_rows().exists()


def test_an_unreachable_idp_keeps_its_settings_and_says_why(url_idp, server):
    before = fingerprints(url_idp)
    server.close()
    assert refresh(url_idp) == "failed"
    assert_kept(url_idp, before, "could not be fetched")


def test_an_http_error_is_recorded(url_idp, server):
    before = fingerprints(url_idp)
    server.status = 503
    assert refresh(url_idp) == "failed"
    assert_kept(url_idp, before, "answered HTTP 503")


def test_malformed_metadata_is_not_trusted(url_idp, server):
    before = fingerprints(url_idp)
    server.body = b"<md:EntityDescriptor"
    assert refresh(url_idp) == "failed"
    assert_kept(url_idp, before, "not well-formed XML")


def test_metadata_with_only_an_expired_certificate_never_leaves_zero_certificates(url_idp, server):
    before = fingerprints(url_idp)
    server.body = metadata_xml(certs=[expired_cert()])
    assert refresh(url_idp) == "failed"
    assert_kept(url_idp, before, "expired on")
    assert before


def test_a_changed_entity_id_is_refused(url_idp, server):
    before = fingerprints(url_idp)
    server.body = metadata_xml(entity_id="https://new-idp.examples.gov/saml")
    assert refresh(url_idp) == "failed"
    assert_kept(url_idp, before, "now describes the IdP https://new-idp.examples.gov/saml")
    url_idp.refresh_from_db()
    assert url_idp.entity_id == ENTITY_ID


def test_the_task_refuses_private_addresses_unless_allowed(url_idp, settings):
    settings.SSO_METADATA_REFRESH_PRIVATE_URLS = False
    before = fingerprints(url_idp)
    assert refresh(url_idp) == "failed"
    assert_kept(url_idp, before, "")
    # Refused before any request: plain http only to this machine (operators), and never private.
    assert re.search(r"private address|must be an https:// address", url_idp.metadata_error)


def test_the_failure_is_shown_on_the_agency_sso_page(url_idp, server, client, agency_admin):
    server.status = 404
    refresh(url_idp)
    agency_admin.set_unusable_password()
    agency_admin.save()
    client.force_login(agency_admin)
    page = client.get("/agencies/doe-x/sso/", HTTP_HOST=HOST).content.decode()
    assert "The last metadata refresh failed" in page and "answered HTTP 404" in page


# --- the beat task and the command ----------------------------------------------------------------
@pytest.fixture
def eager():
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def test_the_beat_task_refreshes_every_idp_registered_from_a_url(url_idp, server, other_idp, eager):
    server.body = metadata_xml(certs=[keys("examples")[1], keys("examples-next")[1]])
    assert refresh_idp_metadata() == 1  # other_idp was registered by hand: nothing to fetch
    assert len(fingerprints(url_idp)) == 2


def test_the_command_reports_progress_per_idp(url_idp, server):
    server.body = metadata_xml(sso=[(REDIRECT, "https://login2.examples.gov/saml/sso")])
    out = io.StringIO()
    call_command("refresh_idp_metadata", "doe-x", stdout=out)
    assert f"[1/1] doe-x: {server.url} ... updated: sign-on URL" in out.getvalue()
    out = io.StringIO()
    call_command("refresh_idp_metadata", stdout=out)
    assert "unchanged" in out.getvalue() and "1 checked." in out.getvalue()


def test_the_command_fails_loudly_when_a_refresh_fails(url_idp, server):
    server.status = 500
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 refreshes failed"):
        call_command("refresh_idp_metadata", stdout=out)
    assert "failed: " in out.getvalue()


def test_the_command_refuses_an_agency_without_a_metadata_url(idp):
    with pytest.raises(CommandError, match="no IdP registered from a metadata URL"):
        call_command("refresh_idp_metadata", "doe-x")
