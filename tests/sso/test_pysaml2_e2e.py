"""End to end with pysaml2 as each agency's IdP: register from its metadata, sign in, JIT, claim."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from agencies.models import Employee
from agencies.services import agency_update_policy
from audit.actors import Actor
from seats.models import Seat
from tests.factories import AllocationFactory
from tests.sso.pysaml2_idp import Pysaml2Idp
from tests.sso.saml_kit import HOST, SamlBrowser

pytestmark = pytest.mark.django_db


def _connect(agency, entity_id: str, tmp_path, client) -> Pysaml2Idp:
    idp = Pysaml2Idp(entity_id, tmp_path / agency.slug)
    metadata = tmp_path / f"{agency.slug}-idp.xml"
    metadata.write_bytes(idp.metadata())
    out = io.StringIO()
    call_command("register_idp", agency.slug, "--metadata", str(metadata), stdout=out)
    assert f"now signs in through {entity_id}" in out.getvalue()
    sp_metadata = client.get(f"/accounts/saml/{agency.slug}/metadata/", HTTP_HOST=HOST)
    assert sp_metadata.status_code == 200 and b"AssertionConsumerService" in sp_metadata.content
    idp.trust(sp_metadata.content)
    return idp


@pytest.fixture
def agencies_with_pysaml2(tmp_path, client, department, bureau, other_department, program):
    AllocationFactory(program=program, agency=department, quantity=5)
    AllocationFactory(program=program, agency=other_department, quantity=1)
    agency_update_policy(agency=other_department, actor=Actor.system("test"), claims_require_approval=True)
    return {
        "doe-x": _connect(department, "https://idp.examples.gov/pysaml2", tmp_path, client),
        "elsewhere": _connect(other_department, "https://sts.elsewhere.gov/pysaml2", tmp_path, client),
    }


def _sign_in(slug: str, idp: Pysaml2Idp, identity: dict[str, list[str]], user_id: str) -> SamlBrowser:
    browser = SamlBrowser()
    response = browser.client.post(f"/accounts/saml/{slug}/login/", {"next": "/claim/"}, HTTP_HOST=HOST)
    assert response.status_code == 302 and response["Location"].startswith(idp.sso_url)
    final = browser.post(slug, idp.answer(response["Location"], identity, user_id))
    assert final.status_code == 302 and final["Location"] == "/claim/", final.content[:600]
    assert browser.signed_in_user_id
    return browser


def test_two_agencies_sign_in_through_their_own_pysaml2_idp_and_claim(agencies_with_pysaml2):
    ada = _sign_in(
        "doe-x",
        agencies_with_pysaml2["doe-x"],
        {
            "mail": ["Ada.Lovelace@examples.gov"],
            "givenName": ["Ada"],
            "sn": ["Lovelace"],
            "employeeNumber": ["E-1815"],
        },
        "pysaml2-ada",
    )
    employee = Employee.objects.select_related("agency").get(email="ada.lovelace@examples.gov")
    assert (employee.source, employee.agency.slug, employee.given_name, employee.employee_number) == (
        "saml",
        "doe-x",
        "Ada",
        "E-1815",
    )
    page = ada.client.get("/claim/", HTTP_HOST=HOST)
    assert page.status_code == 200 and b"ada.lovelace@examples.gov" in page.content
    allocation = page.context["options"][0].allocation
    ada.client.post("/claim/", {"action": "claim", "allocation": str(allocation.uuid)}, HTTP_HOST=HOST)
    assert Seat.objects.get(employee=employee).state == Seat.State.ACTIVE

    grace = _sign_in(
        "elsewhere",
        agencies_with_pysaml2["elsewhere"],
        {"mail": ["grace.hopper@elsewhere.gov"], "givenName": ["Grace"], "sn": ["Hopper"]},
        "pysaml2-grace",
    )
    other = Employee.objects.get(email="grace.hopper@elsewhere.gov")
    assert other.agency.slug == "elsewhere" and other.user_id != employee.user_id
    allocation = grace.client.get("/claim/", HTTP_HOST=HOST).context["options"][0].allocation
    grace.client.post("/claim/", {"action": "claim", "allocation": str(allocation.uuid)}, HTTP_HOST=HOST)
    assert Seat.objects.get(employee=other).state == Seat.State.REQUESTED


def test_the_same_subject_id_at_two_agencies_is_two_people(agencies_with_pysaml2):
    _sign_in("doe-x", agencies_with_pysaml2["doe-x"], {"mail": ["alice@examples.gov"]}, "alice")
    _sign_in("elsewhere", agencies_with_pysaml2["elsewhere"], {"mail": ["alice@elsewhere.gov"]}, "alice")
    alices = Employee.objects.filter(email__startswith="alice@").order_by("email")
    assert [e.agency.slug for e in alices] == ["elsewhere", "doe-x"]
    assert alices[0].user_id != alices[1].user_id


def test_a_bureau_employee_signs_in_through_the_department_idp_and_lands_in_the_bureau(agencies_with_pysaml2):
    _sign_in(
        "doe-x", agencies_with_pysaml2["doe-x"], {"mail": ["kim@samples.gov"], "givenName": ["Kim"]}, "kim"
    )
    assert Employee.objects.get(email="kim@samples.gov").agency.slug == "bos"


def test_a_returning_employee_is_the_same_person(agencies_with_pysaml2):
    idp = agencies_with_pysaml2["doe-x"]
    _sign_in("doe-x", idp, {"mail": ["ada@examples.gov"], "givenName": ["Ada"]}, "ada")
    _sign_in("doe-x", idp, {"mail": ["ada@examples.gov"], "givenName": ["Augusta Ada"]}, "ada")
    employee = Employee.objects.get(email="ada@examples.gov")
    assert Employee.objects.count() == 1 and employee.given_name == "Augusta Ada"
    assert employee.last_seen_at is not None
