"""The employee's way in, through this suite's fixtures: discovery, the agency's (development) IdP,
the claim page, then the home page with the seat. Each page must pass axe. The cross-persona
journey builds on the same fixtures."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from audit.actors import Actor
from core.portal import optional_url
from seats.models import Seat
from tests.factories import AllocationFactory, EmployeeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dev_idp(settings, tmp_path):
    if not optional_url("sso:discover") or not getattr(settings, "SSO_DEV_IDP", False):
        pytest.skip("the SSO branch's discovery and development IdP are not here")
    settings.VAR_DIR = tmp_path  # the development IdP keeps its key pair under VAR_DIR
    from sso import dev_idp as module

    return module


def test_an_employee_signs_in_through_the_agency_idp_claims_and_sees_the_seat(
    page, check, dev_idp, department, program
):
    program.workspace_url = "https://chatgpt.example/"
    program.save()
    AllocationFactory(program=program, agency=department, quantity=3)
    EmployeeFactory(agency=department, email="ada@examples.gov", given_name="Ada", family_name="Lovelace")
    dev_idp.register(agency=department, actor=Actor.system("test"))

    page.goto("/")
    page.get_by_role("link", name="Sign in with your agency").click()
    check("employee-discover")
    page.get_by_role("textbox").fill("ada@examples.gov")
    page.get_by_role("button", name="Continue to my agency").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("(development)")
    check("employee-dev-idp")
    page.get_by_role("button", name="Sign in as Ada Lovelace").click()
    page.wait_for_url(re.compile("/claim/$"))
    check("employee-claim")
    page.locator("main").get_by_role("button", name="Claim a seat").click()
    page.wait_for_load_state()
    assert Seat.objects.get(employee__email="ada@examples.gov").state == Seat.State.ACTIVE

    page.goto("/")
    expect(page.get_by_text("Your seat is active")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Open Enterprise"))).to_have_attribute(
        "href", "https://chatgpt.example/"
    )
    check("employee-home-after-claim")
