"""Home-realm discovery and the employee's claim page."""

from __future__ import annotations

import pytest
from django.test import Client

from agencies.services import agency_update_policy
from audit.actors import Actor
from seats.models import Seat, WaitlistEntry
from seats.services import seat_revoke
from sso.services import identity_provider_set_enabled
from tests.factories import (
    AllocationFactory,
    EmployeeFactory,
    ProgramFactory,
    RegisteredDomainFactory,
    UserFactory,
)
from tests.sso.conftest import IDP_A, register
from tests.sso.saml_kit import HOST

pytestmark = pytest.mark.django_db


def discover(client: Client, email: str, **extra):
    return client.post("/sso/discover/", {"email": email, **extra}, HTTP_HOST=HOST)


# --- discovery ----------------------------------------------------------------------------------
def test_discovery_sends_an_employee_to_their_agency_idp(client, idp):
    response = discover(client, "Ada.Lovelace@Examples.gov")
    assert response.status_code == 302 and response["Location"].startswith(f"{IDP_A}/sso?SAMLRequest=")
    assert client.session["socialaccount_states"], "the pending request is remembered for the ACS"


def test_a_bureau_without_its_own_idp_uses_its_department_idp(client, idp, bureau):
    assert discover(client, "kim@samples.gov")["Location"].startswith(IDP_A)


def test_a_bureau_with_its_own_idp_uses_it(client, idp, bureau):
    register(bureau, "https://idp.samples.gov", "samples")
    assert discover(client, "kim@samples.gov")["Location"].startswith("https://idp.samples.gov/sso")


def test_an_agency_without_an_idp_is_told_so(client, department):
    response = discover(client, "ada@examples.gov")
    assert response.status_code == 400 and b"has not connected its sign-in" in response.content


def test_a_disabled_idp_is_as_good_as_none(client, idp):
    identity_provider_set_enabled(identity_provider=idp, enabled=False, actor=Actor.system("t"))
    assert b"has not connected its sign-in" in discover(client, "ada@examples.gov").content


def test_a_non_federal_gov_domain_gets_a_clear_message(client, db):
    RegisteredDomainFactory(
        domain="springfield.gov", domain_type="City", organization_name="City of Springfield"
    )
    response = discover(client, "mayor@springfield.gov")
    assert response.status_code == 400
    assert (
        b"City of Springfield (City)" in response.content
        and b"federal executive agencies only" in response.content
    )


def test_a_federal_domain_no_agency_claimed_gets_a_clear_message(client, db):
    RegisteredDomainFactory(domain="unclaimed.gov")
    assert b"no agency has set it up" in discover(client, "x@unclaimed.gov").content


def test_an_unknown_domain_gets_a_clear_message(client, db):
    assert b"not the email domain of a federal agency" in discover(client, "someone@gmail.com").content


def test_not_an_email_is_a_form_error(client, db):
    response = discover(client, "not-an-email")
    assert response.status_code == 400 and b"usa-error-message" in response.content


def test_discovery_ignores_an_offsite_next(client, idp, browser, forge):
    from tests.sso.saml_kit import SamlBrowser, encode

    browser = SamlBrowser(client)
    response = discover(client, "ada@examples.gov", next="https://evil.example.com/")
    request_id = browser.request_id(response["Location"])
    final = browser.post("doe-x", encode(forge.but(in_response_to=request_id).build()))
    assert final.status_code == 302 and final["Location"] == "/claim/"


# --- the claim page -----------------------------------------------------------------------------
@pytest.fixture
def signed_in(client, department):
    user = UserFactory(username="ada")
    employee = EmployeeFactory(agency=department, email="ada@examples.gov", user=user, source="saml")
    client.force_login(user)
    return employee


def claim(client, allocation):
    return client.post("/claim/", {"action": "claim", "allocation": str(allocation.uuid)}, HTTP_HOST=HOST)


def test_the_claim_page_needs_a_signed_in_employee(client, department):
    assert client.get("/claim/", HTTP_HOST=HOST).status_code == 302
    staff = UserFactory(username="staff-only")
    client.force_login(staff)
    response = client.get("/claim/", HTTP_HOST=HOST)
    assert response.status_code == 403 and b"not linked to an employee record" in response.content


def test_the_page_shows_work_email_programs_and_claims_instantly(client, signed_in, pool):
    page = client.get("/claim/", HTTP_HOST=HOST)
    assert b"ada@examples.gov" in page.content and pool.program.name.encode() in page.content
    response = claim(client, pool)
    assert response.status_code == 302
    seat = Seat.objects.get(employee=signed_in)
    assert seat.state == Seat.State.ACTIVE
    page = client.get("/claim/", HTTP_HOST=HOST)
    assert b"Active" in page.content and seat.expires_at.strftime("%Y-%m-%d").encode() in page.content


def test_claiming_twice_is_harmless(client, signed_in, pool):
    claim(client, pool)
    second = client.get(claim(client, pool)["Location"], HTTP_HOST=HOST)
    assert Seat.objects.filter(employee=signed_in).count() == 1
    assert b"You already have this seat" in second.content


def test_an_agency_that_approves_claims_gets_a_request(client, signed_in, pool, department):
    agency_update_policy(agency=department, actor=Actor.system("t"), claims_require_approval=True)
    page = client.get(claim(client, pool)["Location"], HTTP_HOST=HOST)
    assert Seat.objects.get(employee=signed_in).state == Seat.State.REQUESTED
    assert b"for approval" in page.content


def test_a_full_pool_puts_people_on_the_waitlist_and_a_freed_seat_goes_to_the_head(
    client, signed_in, program, department, make_employee
):
    tiny = AllocationFactory(program=program, agency=department, quantity=1)
    holder = make_employee(department)
    from seats.services import seat_claim

    held = seat_claim(allocation=tiny, employee=holder, actor=Actor.system("t"))
    page = client.get(claim(client, tiny)["Location"], HTTP_HOST=HOST)
    assert b"waitlist at position 1" in page.content
    second = make_employee(department, user=UserFactory(username="second"))
    other = Client(HTTP_HOST=HOST)
    other.force_login(second.user)
    other.post("/claim/", {"action": "claim", "allocation": str(tiny.uuid)})
    assert b"position <strong>2</strong>" in other.get("/claim/").content
    seat_revoke(seat=held, actor=Actor.system("t"), reason="left the agency")
    assert Seat.objects.get(employee=signed_in).state == Seat.State.ACTIVE
    assert b"position <strong>1</strong>" in other.get("/claim/").content


def test_leaving_the_waitlist(client, signed_in, program, department, make_employee):
    tiny = AllocationFactory(program=program, agency=department, quantity=0)
    claim(client, tiny)
    entry = WaitlistEntry.objects.get(employee=signed_in)
    client.post("/claim/", {"action": "leave", "entry": entry.pk}, HTTP_HOST=HOST)
    entry.refresh_from_db()
    assert entry.state == WaitlistEntry.State.CANCELLED


def test_another_agencys_pool_is_not_found(client, signed_in, program, other_department):
    foreign = AllocationFactory(program=program, agency=other_department)
    assert claim(client, foreign).status_code == 404
    assert (
        client.post("/claim/", {"action": "claim", "allocation": "nonsense"}, HTTP_HOST=HOST).status_code
        == 404
    )
    assert not Seat.objects.exists()


def test_a_bureau_employee_claims_from_the_bureau_pool(client, program, department, bureau):
    AllocationFactory(program=program, agency=department, quantity=10)
    bureau_pool = AllocationFactory(program=program, agency=bureau, quantity=3)
    user = UserFactory(username="kim")
    EmployeeFactory(agency=bureau, email="kim@samples.gov", user=user)
    client.force_login(user)
    options = client.get("/claim/", HTTP_HOST=HOST).context["options"]
    assert [o.allocation.pk for o in options] == [bureau_pool.pk]


def test_the_claim_page_costs_the_same_queries_for_one_program_or_five(client, signed_in, department):
    AllocationFactory(program=ProgramFactory(), agency=department)
    client.get("/claim/", HTTP_HOST=HOST)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        client.get("/claim/", HTTP_HOST=HOST)
    for _ in range(4):
        AllocationFactory(program=ProgramFactory(), agency=department)
    with CaptureQueriesContext(connection) as five:
        client.get("/claim/", HTTP_HOST=HOST)
    assert len(five) == len(one) <= 10
