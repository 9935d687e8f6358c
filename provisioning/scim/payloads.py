"""Request bodies in, validated through scim2-models, after dropping what the schema does not hold.

IdPs send more than any one service stores: Okta a ``password``, ``locale`` and ``groups``; Entra
its default mappings (``title``, ``phoneNumbers``, ``addresses``, the enterprise ``manager``).
RFC 7644 §3.3 lets a service provider ignore such content, and failing a whole user over an
attribute we do not keep would stall provisioning, so attributes outside the published schema
are dropped (as are read-only ones such as ``id`` and ``meta``), attribute names are matched
without regard to case, and what is left is validated strictly.
"""

from __future__ import annotations

from dataclasses import dataclass
from inspect import isclass
from typing import Any

from pydantic import ValidationError
from scim2_models import BaseModel, ComplexAttribute, Context, Mutability
from scim2_models.exceptions import SCIMException

from provisioning.scim.resources import ENTERPRISE_SCHEMA, Group, UserResource

READ_ONLY_TOP = {"id", "meta", "groups"}


class ScimProblem(Exception):
    """A request the SCIM layer refuses, with its HTTP status and SCIM error type."""

    def __init__(self, detail: str, status: int = 400, scim_type: str | None = "invalidValue") -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.scim_type = scim_type


def problem_from_validation(exc: ValidationError) -> ScimProblem:
    first = exc.errors()[0]
    ctx = first.get("ctx") or {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "Operations")
    message = first.get("msg", "invalid value")
    detail = f"{where}: {message}" if where else message
    if str(first.get("type", "")).startswith("scim_"):
        return ScimProblem(detail, int(ctx.get("status", 400)), ctx.get("scim_type") or None)
    return ScimProblem(detail, 400, "invalidValue")


def problem_from_scim(exc: SCIMException) -> ScimProblem:
    return ScimProblem(exc.detail, exc.status, exc.scim_type or None)


def _aliases(model: type[BaseModel]) -> dict[str, tuple[str, str]]:
    table = {}
    for field_name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else field_name
        table[alias.lower()] = (alias, field_name)
    return table


def _writable(model: type[BaseModel], field_name: str) -> bool:
    return model.get_field_annotation(field_name, Mutability) != Mutability.read_only


def clean(model: type[BaseModel], data: Any, *, top: bool = True) -> Any:
    """Keep only the attributes ``model`` declares (case-insensitively), under their canonical names."""
    if isinstance(data, list):
        return [clean(model, item, top=top) for item in data]
    if not isinstance(data, dict):
        return data
    table = _aliases(model)
    extensions = {
        urn.lower(): (urn, ext) for urn, ext in getattr(model, "get_extension_models", dict)().items()
    }
    out: dict[str, Any] = {}
    for key, value in data.items():
        lowered = key.lower()
        if top and lowered == "schemas":
            out["schemas"] = value
            continue
        if lowered in extensions:
            urn, ext_model = extensions[lowered]
            out[urn] = clean(ext_model, value, top=False)
            continue
        if lowered not in table or (top and lowered in READ_ONLY_TOP):
            continue
        alias, field_name = table[lowered]
        if not _writable(model, field_name):
            continue
        root = model.get_field_root_type(field_name)
        if isclass(root) and issubclass(root, ComplexAttribute) and value is not None:
            value = clean(root, value, top=False)
        out[alias] = value
    if top and "schemas" in out:
        # The schemas list must name the extensions that are present, and only those.
        core = [s for s in out["schemas"] if isinstance(s, str) and s.lower() not in extensions]
        present = [urn for urn, _ in extensions.values() if urn in out]
        out["schemas"] = core + present
    return out


def validate(model: type[BaseModel], data: Any, context: Context) -> Any:
    if not isinstance(data, dict):
        raise ScimProblem("The request body must be a JSON object.", 400, "invalidSyntax")
    try:
        return model.model_validate(clean(model, data), scim_ctx=context)
    except ValidationError as exc:
        raise problem_from_validation(exc) from exc
    except SCIMException as exc:
        raise problem_from_scim(exc) from exc


# --- users -------------------------------------------------------------------------------------------
@dataclass
class UserState:
    """A user as the IdP wants it, whatever request (POST, PUT, PATCH) said so."""

    user_name: str
    active: bool = True
    external_id: str = ""
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    emails: list[dict] | None = None
    employee_number: str = ""
    organization: str = ""
    division: str = ""
    department: str = ""


def state_from_resource(resource: Any) -> UserState:
    enterprise = resource[ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in resource.get_extension_models() else None
    name = resource.name
    emails = None
    if resource.emails:
        emails = [
            e.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, exclude_none=True) for e in resource.emails
        ] or None
    return UserState(
        user_name=(resource.user_name or "").strip(),
        active=True if resource.active is None else bool(resource.active),
        external_id=(resource.external_id or "").strip(),
        given_name=(name.given_name or "").strip() if name else "",
        family_name=(name.family_name or "").strip() if name else "",
        display_name=(resource.display_name or "").strip(),
        emails=emails,
        employee_number=((enterprise.employee_number if enterprise else None) or "").strip(),
        organization=((enterprise.organization if enterprise else None) or "").strip(),
        division=((enterprise.division if enterprise else None) or "").strip(),
        department=((enterprise.department if enterprise else None) or "").strip(),
    )


def state_from_rendered(current: dict[str, Any], *, active: bool) -> UserState:
    """The state of a user as ``resources.user_dict`` rendered it, with ``active`` set.

    Everything rendered was validated on its way in, so it is taken as it stands.
    """
    name = current.get("name") or {}
    enterprise = current.get(ENTERPRISE_SCHEMA) or {}
    return UserState(
        user_name=(current.get("userName") or "").strip(),
        active=active,
        external_id=(current.get("externalId") or "").strip(),
        given_name=(name.get("givenName") or "").strip(),
        family_name=(name.get("familyName") or "").strip(),
        display_name=(current.get("displayName") or "").strip(),
        emails=current.get("emails") or None,
        employee_number=(enterprise.get("employeeNumber") or "").strip(),
        organization=(enterprise.get("organization") or "").strip(),
        division=(enterprise.get("division") or "").strip(),
        department=(enterprise.get("department") or "").strip(),
    )


def user_from_request(data: Any, *, context: Context, current_active: bool | None = None) -> UserState:
    """A POST or PUT body as the wanted state. ``active`` left out means true (POST) or unchanged (PUT)."""
    if isinstance(data, dict) and not any(k.lower() == "active" for k in data):
        data = {**data, "active": True if current_active is None else current_active}
    return state_from_resource(validate(UserResource, data, context))


def group_from_request(data: Any, *, context: Context) -> Any:
    return validate(Group, data, context)
