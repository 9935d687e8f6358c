"""Registering an agency's IdP: metadata checks, the command, and the administrator's page."""

from __future__ import annotations

import http.server
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from allauth.socialaccount.models import SocialApp
from django.core.management import CommandError, call_command

from agencies.models import RoleAssignment
from audit.actors import Actor
from audit.models import AuditEvent
from core.errors import EntityIdTaken, IdentityProviderInvalid
from sso.keys import make_key_pair
from sso.metadata import parse_certificate, parse_metadata
from sso.models import IdentityProvider
from sso.services import identity_provider_register
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.sso.saml_kit import HOST, keys

pytestmark = pytest.mark.django_db
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def body(cert_pem: str) -> str:
    return "".join(line for line in cert_pem.splitlines() if "CERTIFICATE" not in line)


def metadata_xml(
    entity_id: str = "https://idp.examples.gov/saml",
    certs: list[str] | None = None,
    sso: list[tuple[str, str]] | None = None,
) -> bytes:
    certs = [keys("examples")[1]] if certs is None else certs
    sso = [(REDIRECT, f"{entity_id}/sso")] if sso is None else sso
    key_descriptors = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{body(c)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs
    )
    services = "".join(f'<md:SingleSignOnService Binding="{b}" Location="{loc}"/>' for b, loc in sso)
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{key_descriptors}{services}</md:IDPSSODescriptor></md:EntityDescriptor>"
    ).encode()


def expired_cert() -> str:
    return make_key_pair("old", days=30, not_before=datetime.now(UTC) - timedelta(days=60))[1]


# --- metadata -----------------------------------------------------------------------------------
def test_metadata_gives_entity_id_redirect_endpoint_and_certificate():
    config = parse_metadata(metadata_xml())
    assert config.entity_id == "https://idp.examples.gov/saml"
    assert config.sso_url == "https://idp.examples.gov/saml/sso"
    assert len(config.certificates) == 1 and config.certificates[0].fingerprint_sha256.count(":") == 31


def test_expired_certificate_is_refused_with_its_expiry_date():
    with pytest.raises(IdentityProviderInvalid, match="expired on"):
        parse_metadata(metadata_xml(certs=[expired_cert()]))


def test_missing_sign_on_endpoint_is_refused():
    with pytest.raises(IdentityProviderInvalid, match="no SingleSignOnService"):
        parse_metadata(metadata_xml(sso=[]))


def test_post_only_sign_on_endpoint_is_refused_with_the_binding_to_enable():
    with pytest.raises(IdentityProviderInvalid, match="HTTP-Redirect"):
        parse_metadata(metadata_xml(sso=[(POST, "https://idp.examples.gov/post")]))


def test_metadata_with_a_dtd_is_refused():
    with pytest.raises(IdentityProviderInvalid, match="DTD"):
        parse_metadata(b'<!DOCTYPE x [<!ENTITY e "x">]>' + metadata_xml())


def test_metadata_of_a_service_provider_is_refused():
    sp = (
        b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">'
        b"<md:SPSSODescriptor/></md:EntityDescriptor>"
    )
    with pytest.raises(IdentityProviderInvalid, match="no identity provider"):
        parse_metadata(sp)


def test_two_certificates_are_pinned_for_a_rollover_but_not_three():
    two = parse_metadata(metadata_xml(certs=[keys("examples")[1], keys("examples-next")[1]]))
    assert len(two.certificates) == 2
    with pytest.raises(IdentityProviderInvalid, match="at most 2"):
        parse_metadata(metadata_xml(certs=[keys("a")[1], keys("b")[1], keys("c")[1]]))


def test_garbage_certificate_is_refused_with_what_to_paste():
    with pytest.raises(IdentityProviderInvalid, match="BEGIN CERTIFICATE"):
        parse_certificate("-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----")


# --- the service and the command ----------------------------------------------------------------
def test_register_creates_one_strict_social_app_per_agency_and_audits(department):
    idp = identity_provider_register(
        agency=department, config=parse_metadata(metadata_xml()), actor=Actor.system("t")
    )
    app = SocialApp.objects.get(provider="saml", client_id="doe-x")
    assert app.provider_id == idp.entity_id == "https://idp.examples.gov/saml"
    advanced = app.settings["advanced"]
    assert advanced["want_assertion_signed"] and not advanced["allow_repeat_attribute_name"]
    assert (
        advanced["reject_idp_initiated_sso"]
        and advanced["reject_deprecated_algorithm"]
        and advanced["strict"]
    )
    assert advanced["want_name_id"] and advanced["signature_algorithm"].endswith("rsa-sha256")
    assert AuditEvent.objects.filter(verb="sso.idp.register", agency_id=department.pk).count() == 1


def test_reregistering_replaces_settings_and_certificates(department):
    actor = Actor.system("t")
    identity_provider_register(agency=department, config=parse_metadata(metadata_xml()), actor=actor)
    rolled = metadata_xml(certs=[keys("examples")[1], keys("examples-next")[1]])
    idp = identity_provider_register(agency=department, config=parse_metadata(rolled), actor=actor)
    assert idp.certificates.count() == 2 and SocialApp.objects.count() == 1
    assert len(idp.social_app.settings["idp"]["x509cert_multi"]) == 2
    update = AuditEvent.objects.get(verb="sso.idp.update")
    assert len(update.before["certificates"]) == 1 and len(update.after["certificates"]) == 2


def test_an_entity_id_already_used_by_another_agency_is_refused(department, other_department):
    identity_provider_register(
        agency=department, config=parse_metadata(metadata_xml()), actor=Actor.system("t")
    )
    with pytest.raises(EntityIdTaken, match="already registered to Department of Examples"):
        identity_provider_register(
            agency=other_department, config=parse_metadata(metadata_xml()), actor=Actor.system("t")
        )
    assert IdentityProvider.objects.count() == 1


def test_register_idp_command_reads_a_file(department, tmp_path):
    path = tmp_path / "idp.xml"
    path.write_bytes(metadata_xml())
    out = io.StringIO()
    call_command("register_idp", "doe-x", "--metadata", str(path), stdout=out)
    assert "now signs in through https://idp.examples.gov/saml" in out.getvalue()
    assert IdentityProvider.objects.get().agency == department


def test_register_idp_command_explains_an_expired_certificate(department, tmp_path):
    path = tmp_path / "idp.xml"
    path.write_bytes(metadata_xml(certs=[expired_cert()]))
    with pytest.raises(CommandError, match="expired on"):
        call_command("register_idp", "doe-x", "--metadata", str(path))


def test_register_idp_command_refuses_an_unknown_agency(tmp_path):
    with pytest.raises(CommandError, match="No agency"):
        call_command("register_idp", "nope", "--metadata", str(tmp_path / "x.xml"))


@pytest.fixture
def metadata_server():
    """Serves IdP metadata on 127.0.0.1 (an ephemeral port), as an IdP publishes it."""
    payload = {"body": metadata_xml(), "status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(payload["status"])
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.end_headers()
            self.wfile.write(payload["body"])

        def log_message(self, *args):
            return

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/metadata", payload
    server.shutdown()


def test_register_idp_command_fetches_a_metadata_url(department, metadata_server):
    url, _ = metadata_server
    call_command("register_idp", "doe-x", "--metadata", url, stdout=io.StringIO())
    assert IdentityProvider.objects.get().metadata_url == url


def test_register_idp_command_reports_an_http_error(department, metadata_server):
    url, payload = metadata_server
    payload["status"] = 404
    with pytest.raises(CommandError, match="answered HTTP 404"):
        call_command("register_idp", "doe-x", "--metadata", url)


# --- the agency administrator's page -------------------------------------------------------------
def page(slug: str = "doe-x") -> str:
    return f"/agencies/{slug}/sso/"


@pytest.mark.parametrize(
    "who, expected",
    [
        ("anonymous", 302),
        ("employee", 404),
        ("onboarding", 404),
        ("other_admin", 404),
        ("admin", 200),
        ("gsa", 200),
    ],
)
def test_sso_page_permissions(client, department, other_department, gsa_admin, agency_admin, who, expected):
    users = {
        "employee": lambda: UserFactory(username="emp"),
        "onboarding": lambda: (
            RoleAssignmentFactory(
                user=UserFactory(username="onb"), role=RoleAssignment.Role.ONBOARDING_STAFF, agency=department
            ).user
        ),
        "other_admin": lambda: (
            RoleAssignmentFactory(
                user=UserFactory(username="oth"),
                role=RoleAssignment.Role.AGENCY_ADMIN,
                agency=other_department,
            ).user
        ),
        "admin": lambda: agency_admin,
        "gsa": lambda: gsa_admin,
    }
    if who != "anonymous":
        user = users[who]()
        user.set_unusable_password()  # IdP-backed staff: no authenticator step here
        user.save()
        client.force_login(user)
    assert client.get(page(), HTTP_HOST=HOST).status_code == expected


@pytest.fixture
def admin_client(client, agency_admin):
    agency_admin.set_unusable_password()
    agency_admin.save()
    client.force_login(agency_admin)
    return client


def test_admin_uploads_metadata_and_sees_certificate_and_test_link(admin_client, department):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("idp.xml", metadata_xml(), content_type="application/xml")
    response = admin_client.post(page(), {"action": "upload", "metadata_file": upload}, HTTP_HOST=HOST)
    assert response.status_code == 302
    shown = admin_client.get(page(), HTTP_HOST=HOST)
    assert b"https://idp.examples.gov/saml" in shown.content and b"Test sign-in" in shown.content
    assert b"/accounts/saml/doe-x/metadata/" in shown.content
    assert AuditEvent.objects.filter(
        verb="sso.idp.register", actor_id=admin_client.session["_auth_user_id"]
    ).exists()


def test_admin_pasting_an_expired_certificate_gets_a_clear_error(admin_client):
    response = admin_client.post(
        page(),
        {
            "action": "manual",
            "entity_id": "https://idp.examples.gov/saml",
            "sso_url": "https://idp.examples.gov/sso",
            "certificate": expired_cert(),
        },
        HTTP_HOST=HOST,
    )
    assert response.status_code == 400 and b"expired on" in response.content
    assert not IdentityProvider.objects.exists()


def test_admin_edits_the_attribute_mapping(admin_client, department):
    identity_provider_register(
        agency=department, config=parse_metadata(metadata_xml()), actor=Actor.system("t")
    )
    admin_client.post(
        page(), {"action": "mapping", "email": "workEmail, upn", "office": "division"}, HTTP_HOST=HOST
    )
    idp = IdentityProvider.objects.get()
    assert idp.attribute_mapping == {"email": ["workEmail", "upn"], "office": ["division"]}
    assert idp.social_app.settings["attribute_mapping"]["email"][:2] == ["workEmail", "upn"]
    assert "mail" in idp.social_app.settings["attribute_mapping"]["email"]


def test_admin_disables_sign_in_and_the_login_url_disappears(admin_client, department):
    identity_provider_register(
        agency=department, config=parse_metadata(metadata_xml()), actor=Actor.system("t")
    )
    admin_client.post(page(), {"action": "disable"}, HTTP_HOST=HOST)
    assert admin_client.post("/accounts/saml/doe-x/login/", HTTP_HOST=HOST).status_code == 404
    assert AuditEvent.objects.filter(verb="sso.idp.disable").exists()


def test_a_metadata_url_typed_on_the_page_may_not_reach_this_network(admin_client, metadata_server):
    url, _ = metadata_server
    https_url = url.replace("http://", "https://")
    response = admin_client.post(page(), {"action": "url", "metadata_url": https_url}, HTTP_HOST=HOST)
    assert response.status_code == 400 and b"private address" in response.content


def test_in_development_the_admin_connects_the_development_idp_from_the_page(
    admin_client, department, settings, tmp_path
):
    settings.SSO_DEV_IDP = True
    settings.VAR_DIR = tmp_path  # the development IdP's key pair
    settings.SITE_URL = f"http://{HOST}"
    assert b"Use the development IdP" in admin_client.get(page(), HTTP_HOST=HOST).content
    response = admin_client.post(page(), {"action": "dev_idp"}, HTTP_HOST=HOST, follow=True)
    assert b"now signs in through the development IdP" in response.content
    idp = IdentityProvider.objects.get(agency=department)
    assert idp.is_development and idp.entity_id == "urn:ai-seats:dev-idp:doe-x"
    assert AuditEvent.objects.filter(
        verb="sso.idp.register", actor_id=admin_client.session["_auth_user_id"]
    ).exists()


def test_without_the_development_idp_the_page_neither_offers_nor_accepts_it(admin_client, settings):
    settings.SSO_DEV_IDP = False
    assert b"Use the development IdP" not in admin_client.get(page(), HTTP_HOST=HOST).content
    assert admin_client.post(page(), {"action": "dev_idp"}, HTTP_HOST=HOST).status_code == 404
    assert not IdentityProvider.objects.exists()
