"""Fixtures for the SCIM server: a token for the test department and a client that speaks SCIM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from audit.actors import Actor
from provisioning.scim.tokens import scim_token_create

SCIM_JSON = "application/scim+json"


class ScimClient:
    """Django's test client with a bearer token and SCIM JSON in and out."""

    def __init__(self, secret: str, host: str = "seats.test") -> None:
        self.client = Client(HTTP_HOST=host)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    def call(self, method: str, path: str, body: Any = None, **params: Any):
        url = path if path.startswith("/") else f"/scim/v2/{path}"
        kwargs: dict[str, Any] = dict(self.headers)
        if method == "get":
            response = self.client.get(url, params, **kwargs)
        else:
            data = json.dumps(body) if body is not None else ""
            response = getattr(self.client, method)(url, data, content_type=SCIM_JSON, **kwargs)
        response.json_body = json.loads(response.content) if response.content else None
        return response

    def get(self, path: str, **params: Any):
        return self.call("get", path, **params)

    def post(self, path: str, body: Any):
        return self.call("post", path, body)

    def put(self, path: str, body: Any):
        return self.call("put", path, body)

    def patch(self, path: str, body: Any):
        return self.call("patch", path, body)

    def delete(self, path: str):
        return self.call("delete", path)


@pytest.fixture
def scim_token(department, agency_admin):
    return scim_token_create(
        agency=department, name="Entra ID production", actor=agency_admin, rate_limit_per_minute=10_000
    )


@pytest.fixture
def scim(scim_token):
    return ScimClient(scim_token.secret)


@pytest.fixture
def other_scim(other_department):
    issued = scim_token_create(
        agency=other_department, name="Okta", actor=Actor.system("test"), rate_limit_per_minute=10_000
    )
    return ScimClient(issued.secret)


def user_body(email: str, **extra: Any) -> dict:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "active": True,
    }
    body.update(extra)
    return body


def patch_body(*operations: dict) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


@pytest.fixture
def vendor_program(db):
    """A program whose seats reach the vendor through a connector, so leavers queue a deactivation."""
    from seats.models import Program
    from tests.factories import ProgramFactory

    return ProgramFactory(
        name="ChatGPT Enterprise (OneGov)", slug="chatgpt", connector=Program.Connector.SCIM
    )


@pytest.fixture
def vendor_pool(vendor_program, department):
    from tests.factories import AllocationFactory

    return AllocationFactory(program=vendor_program, agency=department, quantity=2)


def create_user(scim, email: str, **extra: Any) -> dict:
    response = scim.post("Users", user_body(email, **extra))
    assert response.status_code == 201, response.json_body
    return response.json_body


def group_body(name: str, *member_ids: str) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": [{"value": m} for m in member_ids],
    }
