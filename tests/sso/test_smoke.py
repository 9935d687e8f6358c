import pytest

from agencies.models import Employee
from tests.sso.saml_kit import encode

pytestmark = pytest.mark.django_db


def test_valid_response_signs_in_and_creates_employee(browser, forge):
    request_id = browser.start("doe-x")
    response = browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert browser.signed_in_user_id
    assert Employee.objects.get(email="ada.lovelace@examples.gov").source == "saml"
