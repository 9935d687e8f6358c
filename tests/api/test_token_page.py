"""The portal page where people make and revoke their own API tokens."""

from __future__ import annotations

from django.test import Client

from core.api_tokens import api_token_authenticate
from core.models import ApiToken
from tests.api.conftest import HOST
from tests.conftest import complete_mfa


def test_a_token_made_on_the_page_is_shown_once_and_works(world):
    client = Client(HTTP_HOST=HOST)
    complete_mfa(client, world.users["agency_admin"])
    made = client.post(
        "/account/api-tokens/", {"action": "create", "name": "HR sync", "scope": "read", "days": "30"}
    )
    assert made.status_code == 200
    token = ApiToken.objects.get(user=world.users["agency_admin"], name="HR sync")
    secret = made.context["issued"].secret
    assert secret.encode() in made.content and api_token_authenticate(secret) == token
    assert secret.encode() not in client.get("/account/api-tokens/").content
    revoked = client.post("/account/api-tokens/", {"action": "revoke", "token": token.pk})
    assert revoked.status_code == 302 and api_token_authenticate(secret) is None


def test_staff_confirm_their_second_factor_before_making_a_token(world):
    client = Client(HTTP_HOST=HOST)
    client.force_login(world.users["agency_admin"])
    response = client.post("/account/api-tokens/", {"action": "create", "name": "sneaky", "days": "30"})
    assert response.status_code == 302 and "/accounts/2fa/" in response["Location"]
    assert not ApiToken.objects.filter(name="sneaky").exists()


def test_an_employee_makes_a_read_token_and_cannot_revoke_someone_elses(world):
    client = Client(HTTP_HOST=HOST)
    client.force_login(world.users["employee"])
    made = client.post("/account/api-tokens/", {"action": "create", "name": "my seat", "days": "7"})
    assert made.status_code == 200 and made.context["issued"].token.scope == "read"
    theirs = world.api_tokens["gsa_admin"]
    assert client.post("/account/api-tokens/", {"action": "revoke", "token": theirs.pk}).status_code == 404


def test_a_bad_lifetime_is_explained_not_accepted(world):
    client = Client(HTTP_HOST=HOST)
    client.force_login(world.users["employee"])
    response = client.post(
        "/account/api-tokens/", {"action": "create", "name": "forever", "days": "9999"}, follow=True
    )
    assert b"between 1 and 365 days" in response.content
    assert not ApiToken.objects.filter(name="forever").exists()
