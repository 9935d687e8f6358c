"""Just-in-time employees: who may be created or linked by an agency's IdP, and where they land."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from agencies.models import Employee
from audit.actors import Actor
from audit.models import AuditEvent
from core.errors import SignInRefused
from sso.models import IdentityProvider
from sso.services import identity_provider_set_mapping, saml_actor, saml_sign_in
from tests.factories import AgencyFactory, EmployeeFactory, UserFactory
from tests.sso.saml_kit import encode

pytestmark = pytest.mark.django_db


def sign_in(idp: IdentityProvider, uid: str, **attributes):
    return saml_sign_in(identity_provider=idp, uid=uid, attributes=attributes, actor=saml_actor(idp))


def test_first_sign_in_creates_user_employee_and_link_with_audit(idp):
    result = sign_in(
        idp, "u1", email="Ada@Examples.gov", first_name="Ada", last_name="L", employee_number="7"
    )
    employee = result.employee
    assert result.employee_created and result.account_linked
    assert (employee.email, employee.source, employee.external_id, employee.employee_number) == (
        "ada@examples.gov",
        "saml",
        "u1",
        "7",
    )
    assert not result.user.has_usable_password()
    assert SocialAccount.objects.get(uid="u1").provider == idp.entity_id
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"employee.create", "sso.account.link", "sso.sign_in"} <= verbs


def test_a_rostered_employee_is_linked_not_duplicated(idp, department):
    rostered = EmployeeFactory(
        agency=department, email="grace@examples.gov", source="scim", given_name="Grace"
    )
    result = sign_in(idp, "g", email="grace@examples.gov", first_name="Someone Else")
    assert result.employee.pk == rostered.pk and not result.employee_created
    rostered.refresh_from_db()
    assert rostered.user_id == result.user.pk and rostered.given_name == "Grace"
    assert AuditEvent.objects.filter(verb="employee.link_user", target_id=str(rostered.pk)).exists()


def test_an_email_of_another_agency_is_refused_and_creates_nothing(idp, other_department):
    with pytest.raises(SignInRefused) as refused:
        sign_in(idp, "x", email="someone@elsewhere.gov")
    assert refused.value.reason == "foreign_agency" and "Department of Elsewhere" in refused.value.message
    assert not Employee.objects.exists() and not get_user_model().objects.exists()


def test_an_employee_rostered_at_another_agency_is_refused_even_on_a_shared_domain(idp, other_department):
    EmployeeFactory(agency=other_department, email="moved@examples.gov")
    with pytest.raises(SignInRefused, match="roster"):
        sign_in(idp, "m", email="moved@examples.gov")


def test_a_department_domain_is_outside_a_bureau_idp(bureau):
    from tests.sso.conftest import register

    bureau_idp = register(bureau, "https://idp.samples.gov", "samples")
    with pytest.raises(SignInRefused) as refused:
        sign_in(bureau_idp, "d", email="dept.person@examples.gov")
    assert refused.value.reason == "foreign_agency"
    assert sign_in(bureau_idp, "b", email="b@samples.gov").employee.agency == bureau


def test_an_unverified_domain_is_refused(idp, department):
    from tests.factories import AgencyDomainFactory

    AgencyDomainFactory(agency=department, domain="pending.gov", verified_at=None)
    with pytest.raises(SignInRefused) as refused:
        sign_in(idp, "p", email="p@pending.gov")
    assert refused.value.reason == "email_domain_unknown"


def test_a_staff_account_is_never_taken_over_by_an_assertion(idp, department, agency_admin):
    EmployeeFactory(agency=department, email="boss@examples.gov", user=agency_admin)
    with pytest.raises(SignInRefused) as refused:
        sign_in(idp, "boss", email="boss@examples.gov")
    assert refused.value.reason == "local_account"
    assert not SocialAccount.objects.exists()


def test_the_office_attribute_places_the_employee_in_that_bureau(idp, department):
    office = AgencyFactory(name="Office of Tests", slug="oot", abbreviation="OOT", parent=department)
    assert sign_in(idp, "o", email="o@examples.gov", office="oot").employee.agency == office
    assert sign_in(idp, "n", email="n@examples.gov", office="Nowhere").employee.agency == department


def test_the_same_uid_from_two_idps_is_two_people(idp, other_idp):
    one = sign_in(idp, "alice", email="alice@examples.gov")
    two = sign_in(other_idp, "alice", email="alice@elsewhere.gov")
    assert one.user.pk != two.user.pk


def test_a_returning_person_keeps_their_account_and_updates_saml_names(idp):
    first = sign_in(idp, "r", email="r@examples.gov", first_name="Rob")
    again = sign_in(idp, "r", email="r@examples.gov", first_name="Robert")
    assert again.user.pk == first.user.pk and not again.account_linked
    assert again.employee.given_name == "Robert"


def test_a_username_clash_with_a_local_account_gets_another_username(idp):
    UserFactory(username="clash@examples.gov")
    result = sign_in(idp, "c", email="clash@examples.gov")
    assert result.user.username.startswith("clash@examples.gov-")


def test_custom_attribute_names_are_read_first(idp, browser, forge):
    identity_provider_set_mapping(
        identity_provider=idp, mapping={"email": ["workEmail"]}, actor=Actor.system("t")
    )
    request_id = browser.start("doe-x")
    forged = forge.but(
        in_response_to=request_id, email="", extra_attributes={"workEmail": ["w@examples.gov"]}
    )
    assert browser.post("doe-x", encode(forged.build())).status_code == 302
    assert Employee.objects.filter(email="w@examples.gov").exists()


def test_a_sign_in_never_shows_the_local_signup_form(idp, browser, forge):
    request_id = browser.start("doe-x")
    response = browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert response.status_code == 302 and "signup" not in response["Location"]
    assert browser.client.get("/accounts/3rdparty/signup/", HTTP_HOST="seats.test").status_code in (302, 404)


def test_a_sign_in_started_as_connect_still_only_signs_in(idp, browser, forge, agency_admin):
    browser.client.force_login(agency_admin)
    response = browser.client.post(
        "/accounts/saml/doe-x/login/", {"process": "connect"}, HTTP_HOST="seats.test"
    )
    request_id = browser.request_id(response["Location"])
    final = browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert final.status_code == 302
    assert browser.signed_in_user_id != str(agency_admin.pk)
    assert not SocialAccount.objects.filter(user=agency_admin).exists()


@pytest.mark.parametrize(
    "name",
    [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "mail",
        "email",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ],
)
def test_the_email_names_idps_really_send_are_read_by_default(idp, browser, forge, name):
    request_id = browser.start("doe-x")
    forged = forge.but(in_response_to=request_id, email="", extra_attributes={name: ["Sent@Examples.gov"]})
    assert browser.post("doe-x", encode(forged.build())).status_code == 302
    assert Employee.objects.filter(email="sent@examples.gov").exists()
