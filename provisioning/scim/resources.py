"""The SCIM schema this service publishes, built with scim2-models, and its JSON rendering.

The models declare exactly the attributes the service stores and gives back unchanged, so the
published ``/Schemas`` never promise more than a round trip keeps. Requests are validated
against these models; responses are rendered straight from database rows into dicts (a list
page of a thousand users must not build a thousand pydantic objects).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import scim2_models as sm
from pydantic import Field
from scim2_models import CaseExact, ComplexAttribute, Mutability, Required, Uniqueness

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RESULTS = 1000
DEFAULT_PAGE_SIZE = 100


class Name(ComplexAttribute):
    """The components of the user's name."""

    given_name: str | None = None
    """First name, stored on the employee."""

    family_name: str | None = None
    """Last name, stored on the employee."""


class User(sm.Resource[Any]):
    """A federal employee, identified by their work email address."""

    __schema__ = sm.URN(USER_SCHEMA)

    user_name: Annotated[str | None, Required.true, Uniqueness.server] = None
    """The work email address; unique across the platform, compared without regard to case."""

    name: Name | None = None
    """The user's name."""

    display_name: str | None = None
    """The name shown for the user, as the identity provider sent it."""

    emails: list[sm.Email] | None = None
    """Email addresses as the identity provider sent them; the platform's address is userName."""

    active: Annotated[bool | None, Required.true] = None
    """False suspends the person and revokes their seats; true restores them (by agency policy)."""


class EnterpriseUser(sm.Extension):
    """Where the person works: organization, division and department place them in the agency tree."""

    __schema__ = sm.URN(ENTERPRISE_SCHEMA)

    employee_number: str | None = None
    """The agency's identifier for the person."""

    organization: str | None = None
    """The agency (a name, abbreviation or OPM code of the token's agency or one below it)."""

    division: str | None = None
    """The bureau, looked up under the organization."""

    department: str | None = None
    """The office, looked up under the division."""


class GroupMember(ComplexAttribute):
    """A user in the group."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    """The id of the user."""

    ref: Annotated[sm.Reference["User"] | None, Mutability.immutable] = Field(  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    """The URI of the user."""

    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])
    """Always "User": groups hold users, not other groups."""


class Group(sm.Resource[Any]):
    """A group of the agency's people; an agency can map a group to a seat pool."""

    __schema__ = sm.URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true] = None
    """The group's name."""

    members: list[GroupMember] | None = None
    """The group's users."""


UserResource = User[EnterpriseUser]


def service_provider_config() -> sm.ServiceProviderConfig:
    return sm.ServiceProviderConfig(
        documentation_uri=None,
        patch=sm.Patch(supported=True),
        bulk=sm.Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=sm.Filter(supported=True, max_results=MAX_RESULTS),
        change_password=sm.ChangePassword(supported=False),
        sort=sm.Sort(supported=True),
        etag=sm.ETag(supported=True),
        authentication_schemes=[
            sm.AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="A token an agency administrator makes under SCIM tokens; it picks the agency.",
                primary=True,
            )
        ],
    )


def resource_types() -> list[sm.ResourceType]:
    user = sm.ResourceType.from_resource(UserResource)
    user.description = "Federal employees of the token's agency and the agencies below it"
    group = sm.ResourceType.from_resource(Group)
    group.description = "Groups of the token's agency"
    return [user, group]


def schemas() -> list[sm.Schema]:
    return [User.to_schema(), EnterpriseUser.to_schema(), Group.to_schema()]


# --- rendering --------------------------------------------------------------------------------------
def _iso(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.isoformat().replace("+00:00", "Z")


def user_dict(row: Any, base: str) -> dict[str, Any]:
    """An employee (with its ``scim_profile`` loaded, or None) as a SCIM User."""
    profile = getattr(row, "_profile", None)
    uid = str(row.uuid)
    data: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": uid}
    if row.external_id:
        data["externalId"] = row.external_id
    data["userName"] = row.email
    name = {}
    if row.given_name:
        name["givenName"] = row.given_name
    if row.family_name:
        name["familyName"] = row.family_name
    if name:
        data["name"] = name
    enterprise: dict[str, Any] = {}
    if row.employee_number:
        enterprise["employeeNumber"] = row.employee_number
    modified = row.updated_at
    if profile is not None:
        if profile.display_name:
            data["displayName"] = profile.display_name
        if profile.emails:
            data["emails"] = profile.emails
        for key in ("organization", "division", "department"):
            value = getattr(profile, key)
            if value:
                enterprise[key] = value
        modified = max(modified, profile.updated_at)
    data["active"] = row.status == "active"
    if enterprise:
        data["schemas"].append(ENTERPRISE_SCHEMA)
        data[ENTERPRISE_SCHEMA] = enterprise
    data["meta"] = {
        "resourceType": "User",
        "created": _iso(row.created_at),
        "lastModified": _iso(modified),
        "location": f"{base}Users/{uid}",
        "version": user_version(data),
    }
    return data


def user_version(data: dict[str, Any]) -> str:
    """A weak ETag of a rendered user: a digest of every attribute but ``meta``.

    A digest of what the client sees rather than of ``updated_at``: several writes (status,
    email, profile) stamp their own clocks, and a row returned by a write must carry the same
    version as the next read of it. Equal content, equal version, as a weak validator allows.
    """
    content = {k: v for k, v in data.items() if k != "meta"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f'W/"{hashlib.blake2b(text.encode(), digest_size=12).hexdigest()}"'


def group_dict(row: Any, base: str, member_ids: list[str] | None) -> dict[str, Any]:
    """A group as SCIM; ``member_ids`` None leaves members out (they were not asked for)."""
    gid = str(row.uuid)
    data: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": gid}
    if row.external_id:
        data["externalId"] = row.external_id
    data["displayName"] = row.display_name
    if member_ids:
        data["members"] = [{"value": m, "$ref": f"{base}Users/{m}", "type": "User"} for m in member_ids]
    data["meta"] = {
        "resourceType": "Group",
        "created": _iso(row.created_at),
        "lastModified": _iso(row.updated_at),
        "location": f"{base}Groups/{gid}",
        "version": group_version(row),
    }
    return data


def group_version(row: Any) -> str:
    """A weak ETag of a group from ``updated_at``, which every change of name, externalId or
    members moves (a digest would need the member list, which list pages usually leave out)."""
    micros = (row.updated_at - EPOCH) // timedelta(microseconds=1)
    return f'W/"g{micros:x}"'


# --- attributes / excludedAttributes ----------------------------------------------------------------
ALWAYS_RETURNED = {"id", "schemas"}


def _split(path: str, extension_urns: tuple[str, ...]) -> tuple[str, ...]:
    """``urn:...:User:department`` -> (urn, department); ``name.givenName`` -> (name, givenName)."""
    lowered = path.strip().lower()
    for urn in extension_urns:
        if lowered == urn.lower():
            return (urn.lower(),)
        if lowered.startswith(urn.lower() + ":"):
            rest = lowered[len(urn) + 1 :]
            return (urn.lower(), *rest.split("."))
    for core in (USER_SCHEMA, GROUP_SCHEMA):
        if lowered.startswith(core.lower() + ":"):
            lowered = lowered[len(core) + 1 :]
    return tuple(lowered.split("."))


class Projection:
    """Which attributes a response keeps, from ``attributes`` or ``excludedAttributes``."""

    def __init__(self, attributes: list[str], excluded: list[str], extension_urns: tuple[str, ...]) -> None:
        self.include = [_split(p, extension_urns) for p in attributes if p.strip()]
        self.exclude = [_split(p, extension_urns) for p in excluded if p.strip()]
        self.extension_urns = extension_urns

    @property
    def is_identity(self) -> bool:
        return not self.include and not self.exclude

    def wants(self, attribute: str) -> bool:
        """Whether a top-level attribute (e.g. "members") survives; lets callers skip fetching it."""
        key = attribute.lower()
        if self.include:
            return any(p[0] == key for p in self.include)
        return not any(p == (key,) for p in self.exclude)

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.is_identity:
            return data
        if self.include:
            out: dict[str, Any] = {}
            for key, value in data.items():
                lowered = key.lower()
                if lowered in ALWAYS_RETURNED:
                    out[key] = value
                    continue
                subs = [p[1:] for p in self.include if p[0] == lowered]
                if not subs:
                    continue
                if any(not s for s in subs) or not isinstance(value, dict | list):
                    out[key] = value
                else:
                    kept = _keep_subattributes(value, {s[0] for s in subs})
                    if kept:
                        out[key] = kept
        else:
            out = {}
            for key, value in data.items():
                lowered = key.lower()
                subs = [p[1:] for p in self.exclude if p[0] == lowered]
                if lowered in ALWAYS_RETURNED or not subs:
                    out[key] = value
                elif any(not s for s in subs):
                    continue
                elif isinstance(value, dict | list):
                    kept = _drop_subattributes(value, {s[0] for s in subs})
                    if kept:
                        out[key] = kept
                else:
                    out[key] = value
        if "schemas" in out:
            out["schemas"] = [s for s in out["schemas"] if s not in self.extension_urns or s in out]
        return out


def _keep_subattributes(value: Any, names: set[str]) -> Any:
    if isinstance(value, list):
        return [kept for item in value if (kept := _keep_subattributes(item, names))]
    return {k: v for k, v in value.items() if k.lower() in names}


def _drop_subattributes(value: Any, names: set[str]) -> Any:
    if isinstance(value, list):
        return [kept for item in value if (kept := _drop_subattributes(item, names))]
    return {k: v for k, v in value.items() if k.lower() not in names}
