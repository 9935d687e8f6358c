"""A PATCH that only sets ``active`` skips scim2-models, and must want exactly what the models would."""

from __future__ import annotations

import pytest

from provisioning.scim import patch
from provisioning.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

RENDERED = [
    {"schemas": [USER_SCHEMA], "id": "6f1c", "userName": "pat@examples.gov", "active": True},
    {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": "6f1d",
        "externalId": "00u1",
        "userName": "ada.lovelace@examples.gov",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": "ada.lovelace@examples.gov", "type": "work", "primary": True}],
        "active": False,
        ENTERPRISE_SCHEMA: {
            "employeeNumber": "E-1",
            "organization": "Department of Examples",
            "division": "Bureau of Tests",
            "department": "Office of Cases",
        },
        "meta": {"resourceType": "User", "location": "https://seats.test/scim/v2/Users/6f1d"},
    },
]

BODIES = {
    "okta, no path": [{"op": "replace", "value": {"active": False}}],
    "entra, capitalised, string": [{"op": "Replace", "path": "active", "value": "False"}],
    "entra, restore": [{"op": "Replace", "path": "active", "value": "True"}],
    "add with a path": [{"op": "add", "path": "active", "value": True}],
    "full urn path": [{"op": "replace", "path": f"{USER_SCHEMA}:active", "value": False}],
    "two in a row": [
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "active", "value": True},
    ],
}


@pytest.mark.parametrize("current", RENDERED, ids=["bare", "complete"])
@pytest.mark.parametrize("name", list(BODIES))
def test_an_active_only_patch_wants_what_scim2_models_would(current, name):
    body = {"schemas": [PATCH_OP], "Operations": BODIES[name]}
    operations = patch._operations(body)
    assert patch._active_only(operations) is not None
    assert patch.patch_user(current, body) == patch._patch_through_models(current, operations)


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "remove", "path": "active"}],
        [{"op": "replace", "path": "active", "value": "no"}],
        [{"op": "replace", "path": "active", "value": None}],
        [{"op": "replace", "value": {"active": False, "displayName": "X"}}],
        [
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "title", "value": "x"},
        ],
        [{"op": "replace", "path": "displayName", "value": "X"}],
    ],
)
def test_anything_more_than_setting_active_goes_through_the_models(operations):
    normalized = patch._operations({"schemas": [PATCH_OP], "Operations": operations})
    assert patch._active_only(normalized) is None
