"""The friendly errors of issue 8 (item 5) as people meet them in the browser: each page says what
happened and what to do, and passes axe like every other page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from audit.actors import Actor
from core.portal import optional_url
from seats.models import Allocation
from seats.services import seat_claim
from tests.factories import AllocationFactory, EmployeeFactory, ProgramFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SYSTEM = Actor.system("browser-test")


@pytest.fixture
def dev_idp(settings, tmp_path):
    if not optional_url("sso:discover") or not getattr(settings, "SSO_DEV_IDP", False):
        pytest.skip("discovery and the development IdP are not routed here")
    settings.VAR_DIR = tmp_path
    from sso import dev_idp as module

    return module


def test_an_employee_meets_a_misconfigured_idp_a_full_pool_and_an_ended_term(
    page, check, login, dev_idp, department, program, employee_user, tmp_path
):
    # The IdP's signing key changed and nobody uploaded its new metadata.
    dev_idp.register(agency=department, actor=SYSTEM)
    for pem in (tmp_path / "dev-idp").iterdir():
        pem.unlink()
    page.goto("/sso/discover/")
    page.get_by_label("Work email address").fill("ada.lovelace@examples.gov")
    page.get_by_role("button", name="Continue to my agency").click()
    page.get_by_role("row", name=re.compile("ada.lovelace@examples.gov")).get_by_role("button").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your sign-in was not completed")
    expect(page.get_by_role("alert")).to_contain_text(
        "Department of Examples's sign-in is not set up correctly for AI Seats"
    )
    expect(page.get_by_text("upload the identity provider's current metadata")).to_be_visible()
    check("error-idp-misconfigured")

    # A full pool: the button says what will happen, the message where the person stands.
    full = AllocationFactory(program=program, agency=department, quantity=1)
    seat_claim(allocation=full, employee=EmployeeFactory(agency=department), actor=SYSTEM)
    # And a second program whose term is over.
    over = AllocationFactory(program=ProgramFactory(name="Claude for Government"), agency=department)
    Allocation.objects.filter(pk=over.pk).update(
        term_starts_at=timezone.now() - timedelta(days=400), term_ends_at=timezone.now() - timedelta(days=3)
    )
    login(employee_user)
    page.goto("/claim/")
    expect(page.get_by_role("heading", name="The term has ended")).to_be_visible()
    expect(page.get_by_text(re.compile("Claude for Government term ended on .* renewed"))).to_be_visible()
    page.locator("main").get_by_role("button", name="Join the waitlist").click()
    in_line = re.compile("pool are taken. You are on the waitlist at position 1")
    expect(page.get_by_text(in_line)).to_be_visible()
    check("error-full-pool-and-ended-term")
