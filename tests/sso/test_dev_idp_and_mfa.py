"""The development IdP (DEBUG only, refused by production settings) and staff MFA enforcement."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client

from agencies.models import Employee
from audit.actors import Actor
from sso import dev_idp
from tests.core.test_settings import PRODUCTION, manage
from tests.factories import EmployeeFactory
from tests.sso.saml_kit import HOST, SamlBrowser

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev_registered(department, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return dev_idp.register(agency=department, actor=Actor.system("demo"))


def test_the_dev_idp_lists_employees_and_completes_a_signed_round_trip(dev_registered, department):
    EmployeeFactory(agency=department, email="avery.nguyen0@examples.gov", given_name="Avery", user=None)
    browser = SamlBrowser()
    login = browser.client.post("/accounts/saml/doe-x/login/", {"next": "/claim/"}, HTTP_HOST=HOST)
    idp_url = login["Location"].replace("http://127.0.0.1:8000", "")
    page = browser.client.get(idp_url, HTTP_HOST=HOST)
    assert page.status_code == 200 and b"avery.nguyen0@examples.gov" in page.content
    form = {k: page.context[k] for k in ("request_id", "acs", "sp_entity_id")}
    posted = browser.client.post(
        "/dev-idp/doe-x/sso/", {**form, "email": "avery.nguyen0@examples.gov"}, HTTP_HOST=HOST
    )
    assert posted.status_code == 200 and posted.context["acs"] == "http://seats.test/accounts/saml/doe-x/acs/"
    final = browser.post("doe-x", posted.context["saml_response"])
    assert final.status_code == 302 and final["Location"] == "/claim/"
    assert Employee.objects.get(email="avery.nguyen0@examples.gov").user_id is not None


def test_the_dev_idp_refuses_requests_for_another_agencys_acs(dev_registered):
    response = Client().post(
        "/dev-idp/doe-x/sso/",
        {
            "request_id": "x",
            "acs": "http://seats.test/accounts/saml/elsewhere/acs/",
            "email": "a@examples.gov",
        },
        HTTP_HOST=HOST,
    )
    assert response.status_code == 400


def test_the_dev_idp_answers_garbage_with_a_400(dev_registered):
    assert Client().get("/dev-idp/doe-x/sso/?SAMLRequest=%%%", HTTP_HOST=HOST).status_code == 400


def test_a_dev_idp_registration_signs_nobody_in_once_the_dev_idp_is_off(dev_registered, settings):
    settings.SSO_DEV_IDP = False
    assert Client().post("/accounts/saml/doe-x/login/", HTTP_HOST=HOST).status_code == 404
    assert (
        Client().post("/accounts/saml/doe-x/acs/", {"SAMLResponse": "x"}, HTTP_HOST=HOST).status_code == 404
    )


def test_production_settings_refuse_the_dev_idp():
    result = manage("check", env=PRODUCTION | {"SSO_DEV_IDP": "true"})
    assert result.returncode != 0 and "SSO_DEV_IDP" in result.stderr


def test_production_settings_do_not_route_the_dev_idp():
    script = (
        "from django.urls import resolve, Resolver404\n"
        "from django.conf import settings\n"
        "assert settings.SSO_DEV_IDP is False\n"
        "try:\n    resolve('/dev-idp/hhs/sso/')\nexcept Resolver404:\n    print('not routed')\n"
    )
    result = manage("shell", "-c", script, env=PRODUCTION)
    assert result.returncode == 0 and "not routed" in result.stdout, result.stderr


# --- MFA for staff --------------------------------------------------------------------------------
@pytest.fixture
def staff_client(agency_admin):
    client = Client(HTTP_HOST=HOST)
    client.force_login(agency_admin)
    return client


def _enrol(user) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())


@pytest.mark.parametrize("path", ["/admin/", "/agencies/doe-x/sso/", "/gsa/reports/"])
def test_an_agency_admin_without_an_authenticator_is_sent_to_enrol(staff_client, path):
    response = staff_client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/totp/activate/")


def test_the_api_answers_403_until_staff_enrol(staff_client):
    response = staff_client.get("/api/v1/seats/")
    assert response.status_code == 403 and response.json()["code"] == "mfa_required"


def test_an_enrolled_admin_who_skipped_the_second_factor_must_confirm_it(staff_client, agency_admin):
    _enrol(agency_admin)
    response = staff_client.get("/agencies/doe-x/sso/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/2fa/reauthenticate/")


def test_an_admin_who_used_the_second_factor_gets_through(staff_client, agency_admin):
    _enrol(agency_admin)
    session = staff_client.session
    session["account_authentication_methods_user"] = str(agency_admin.pk)
    session["account_authentication_methods"] = [{"method": "mfa", "at": 0, "type": "totp"}]
    session.save()
    assert staff_client.get("/agencies/doe-x/sso/").status_code == 200


def test_a_gsa_admin_signing_in_with_password_and_totp_reaches_the_admin(gsa_admin):
    import time

    from allauth.mfa.totp.internal.auth import hotp_value

    _enrol(gsa_admin)
    gsa_admin.is_staff = True
    gsa_admin.save()
    client = Client(HTTP_HOST=HOST)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    step = client.post("/accounts/login/", {"login": "gsa-admin", "password": "correct horse battery staple"})
    assert step["Location"] == "/accounts/2fa/authenticate/"
    secret = Authenticator.objects.get(user=gsa_admin).wrap().instance.data["secret"]
    from allauth.mfa.utils import decrypt

    code = hotp_value(decrypt(secret), int(time.time()) // 30)
    client.post("/accounts/2fa/authenticate/", {"code": f"{code:06d}"})
    assert client.get("/admin/").status_code == 200


def test_employees_and_idp_backed_staff_are_not_asked(client, department, agency_admin):
    agency_admin.set_unusable_password()
    agency_admin.save()
    client.force_login(agency_admin)
    assert client.get("/agencies/doe-x/sso/", HTTP_HOST=HOST).status_code == 200
