"""Friendly error pages: each says what happened and what to do, in the portal's look."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from config.urls import urlpatterns as portal_urlpatterns
from tests.conftest import complete_mfa

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("kaboom")


def forbidden(request):
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied


def bad(request):
    from django.core.exceptions import SuspiciousOperation

    raise SuspiciousOperation("odd")


urlpatterns = [path("boom/", boom), path("forbidden/", forbidden), path("bad/", bad), *portal_urlpatterns]
handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler500 = "core.views.server_error"


@pytest.fixture
def production(settings):
    settings.DEBUG = False


def test_404_says_what_happened_and_what_to_do(client, production):
    response = client.get("/agencies/nope/", follow=False)
    assert response.status_code in (302, 404)
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We cannot find that page" in html and "What you can do" in html
    assert "usa-banner" in html and "X-Request-ID" in response.headers
    assert response.headers["X-Request-ID"] in html


@pytest.mark.urls("tests.portal.test_errors")
def test_500_page_gives_a_reference_and_does_not_touch_the_database(production):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html
    assert response.headers["X-Request-ID"] in html


@pytest.mark.urls("tests.portal.test_errors")
def test_403_and_400_pages(client, production):
    forbidden_page = client.get("/forbidden/")
    assert forbidden_page.status_code == 403 and "You cannot do that here" in forbidden_page.content.decode()
    bad_page = client.get("/bad/")
    assert bad_page.status_code == 400 and "We could not read that request" in bad_page.content.decode()


def test_an_expired_form_says_how_to_recover(gsa_admin):
    client = Client(enforce_csrf_checks=True)
    complete_mfa(client, gsa_admin)
    response = client.post("/gsa/allocate/", {"quantity": 1})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()
