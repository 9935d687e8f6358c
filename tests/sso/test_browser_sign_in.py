"""A real browser (Debian's chromium) through the whole SAML round trip: SameSite cookies, the
IdP's auto-submitting POST, the ACS hop, then claiming a seat."""

from __future__ import annotations

import shutil

import pytest

from audit.actors import Actor
from seats.models import Seat
from sso import dev_idp
from tests.factories import AllocationFactory, EmployeeFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def live(settings, tmp_path):
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("127.0.0.1:0")  # a dotted host: python3-saml refuses "localhost"
    settings.SITE_URL = server.url
    settings.VAR_DIR = tmp_path
    yield server
    server.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (./run tests installs it)")
def test_an_employee_signs_in_through_the_dev_idp_in_a_real_browser_and_claims(live, department, program):
    from playwright.sync_api import sync_playwright

    AllocationFactory(program=program, agency=department, quantity=3)
    EmployeeFactory(agency=department, email="ada@examples.gov", given_name="Ada", family_name="Lovelace")
    dev_idp.register(agency=department, actor=Actor.system("test"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(f"{live.url}/sso/discover/")
            page.fill("input[name=email]", "ada@examples.gov")
            page.click("button[type=submit]")
            page.click("button[value='ada@examples.gov']")
            page.wait_for_url(f"{live.url}/claim/")
            assert "Signed in as ada@examples.gov" in page.inner_text("main")
            page.click("text=Claim a seat")
            page.wait_for_load_state()
            assert "seat is active" in page.inner_text("main")
        finally:
            browser.close()
    assert Seat.objects.get(employee__email="ada@examples.gov").state == Seat.State.ACTIVE
