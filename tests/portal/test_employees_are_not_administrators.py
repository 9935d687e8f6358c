"""An employee signed in through their IdP is on their agency's roster, not among its administrators."""

from __future__ import annotations

import pytest
from django.test import Client

from agencies.models import Agency
from provisioning.scim.models import ScimToken


@pytest.mark.parametrize("page", ["scim-tokens", "scim-groups", "sso"])
def test_an_employee_finds_no_administration_page_of_their_own_agency(employee_user, department, page):
    client = Client(HTTP_HOST="portal.seats.test")
    client.force_login(employee_user)
    assert client.get(f"/agencies/{department.slug}/{page}/").status_code == 404


def test_an_employee_cannot_make_a_scim_token_for_their_agency(employee_user, department):
    client = Client(HTTP_HOST="portal.seats.test")
    client.force_login(employee_user)
    response = client.post(f"/agencies/{department.slug}/scim-tokens/", {"action": "create", "name": "mine"})
    assert response.status_code == 404
    assert not ScimToken.objects.filter(agency=Agency.objects.get(pk=department.pk)).exists()
