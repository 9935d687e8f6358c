"""Personal API tokens: shown once, hashed, scoped, expiring, revocable; sessions need MFA for staff."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.api_tokens import api_token_authenticate, api_token_create
from core.models import ApiToken
from tests.api.conftest import HOST, SYSTEM, session_client, token_client


def test_a_token_made_through_the_api_is_shown_once_and_stored_only_as_its_hash(world, as_role):
    client = as_role("agency_admin")
    made = client.post("/api/v1/tokens/", {"name": "HR sync", "scope": "read_write"}, format="json")
    assert made.status_code == 201
    secret = made.json()["token"]
    assert secret.startswith("ais_") and made.json()["prefix"] == secret[:12]
    stored = ApiToken.objects.get(pk=made.json()["id"])
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=stored.pk).values().get())
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert all("token" not in row and "token_hash" not in row for row in listed)
    assert AuditEvent.objects.filter(verb="api_token.create", target_id=str(stored.pk)).exists()


def test_a_token_reaches_the_api_with_its_owners_scope(world, bearer):
    client = bearer(world.users["agency_admin"])
    slugs = [row["slug"] for row in client.get("/api/v1/agencies/").json()["results"]]
    assert world.department.slug in slugs and world.other_department.slug not in slugs


def test_a_read_only_token_reads_but_cannot_write(world, bearer):
    client = bearer(world.users["agency_admin"], scope=ApiToken.Scope.READ)
    assert client.get("/api/v1/seats/").status_code == 200
    refused = client.post(
        f"/api/v1/seats/{world.active_seat.uuid}/revoke/", {"reason": "left"}, format="json"
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "token_read_only"
    world.active_seat.refresh_from_db()
    assert world.active_seat.state == "active"


def test_an_expired_token_is_refused_with_401(world, bearer):
    client = bearer(world.users["agency_admin"], days=1)
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = client.get("/api/v1/seats/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(world, as_role):
    owner = as_role("agency_admin")
    made = owner.post("/api/v1/tokens/", {"name": "short lived", "scope": "read"}, format="json").json()
    client = token_client(made["token"])
    assert client.get("/api/v1/seats/").status_code == 200
    assert owner.delete(f"/api/v1/tokens/{made['id']}/").status_code == 204
    assert client.get("/api/v1/seats/").status_code == 401
    assert ApiToken.objects.get(pk=made["id"]).revoked_at is not None


def test_someone_elses_token_cannot_be_revoked_it_is_not_found(world, as_role):
    theirs = world.api_tokens["gsa_admin"]
    assert as_role("agency_admin").delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_a_token_cannot_mint_more_tokens(world, bearer):
    client = bearer(world.users["agency_admin"])
    response = client.post("/api/v1/tokens/", {"name": "child"}, format="json")
    assert response.status_code == 403
    assert ApiToken.objects.filter(name="child").count() == 0


def test_last_used_is_recorded_at_most_once_a_minute(world):
    issued = api_token_create(user=world.users["agency_admin"], name="tick", actor=SYSTEM)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert api_token_authenticate(issued.secret).last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api_token_authenticate(issued.secret)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == start
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        api_token_authenticate(issued.secret)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == start + timedelta(minutes=2)


def test_a_token_of_a_deactivated_account_is_refused(world, bearer):
    user = world.users["agency_admin"]
    client = bearer(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/seats/").status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer ais_not-a-real-token", "Token scim_abc", "Bearer a b"])
def test_malformed_or_unknown_credentials_are_a_401_in_the_error_shape(world, header):
    client = APIClient(HTTP_HOST=HOST)
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/seats/")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "detail", "errors"}


def test_no_credentials_at_all_is_a_401_that_names_the_scheme(world):
    response = APIClient(HTTP_HOST=HOST).get("/api/v1/seats/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_staff_sessions_without_the_second_factor_are_refused_but_their_tokens_work(world, bearer):
    admin = world.users["agency_admin"]
    plain = APIClient(HTTP_HOST=HOST)
    plain.force_login(admin)
    refused = plain.get("/api/v1/seats/")
    assert refused.status_code == 403 and refused.json()["code"] == "mfa_required"
    assert session_client(admin).get("/api/v1/seats/").status_code == 200
    assert bearer(admin).get("/api/v1/seats/").status_code == 200


def test_the_management_command_prints_a_working_token_once(world):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token",
        "dept-admin",
        "--name",
        "nightly",
        "--scope",
        "read",
        "--days",
        "7",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    assert secret.startswith("ais_") and "shown once" in err.getvalue()
    token = api_token_authenticate(secret)
    assert token is not None and token.scope == "read" and token.user == world.users["agency_admin"]
    assert timedelta(days=6, hours=23) < token.expires_at - token.created_at <= timedelta(days=7)


def test_the_management_command_refuses_an_unknown_user_and_a_bad_lifetime(world):
    with pytest.raises(CommandError, match="No active user"):
        call_command("create_api_token", "nobody-here", "--name", "x")
    with pytest.raises(CommandError, match="between 1 and 365"):
        call_command("create_api_token", "dept-admin", "--name", "x", "--days", "900")
