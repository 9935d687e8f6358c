"""PATCH (RFC 7644 §3.5.2) through scim2-models, with the real-world clients' habits taken in.

Users: the current user is rebuilt as a scim2-models resource, each operation is validated and
applied by ``PatchOp.patch`` (paths, value filters, no-path operations, Entra's capitalised
``op`` and ``"False"`` strings), and the result becomes the wanted state that the services
write, exactly as a PUT would. Two habits need help: an operation on an attribute outside the
published schema is ignored (see ``payloads``), and Entra's
``Add emails[type eq "work"].value`` on a user without such an email adds the email rather
than failing with ``noTarget``.

Groups: member operations never load the whole member list (groups can hold tens of thousands);
they become a list of ids to add, ids to remove or a filter on memberships, applied in the
database. The other attributes go through ``PatchOp.patch`` on a member-less group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp, PatchOperation, Path
from scim2_models.exceptions import NoTargetException, SCIMException
from scim2_models.path.expressions import AttrPath, CompareOperator, Comparison, ValuePath

from provisioning.scim import payloads
from provisioning.scim.payloads import ScimProblem
from provisioning.scim.resources import PATCH_OP, USER_SCHEMA, Group, UserResource

MAX_OPERATIONS = 1000


def _operations(body: Any) -> list[dict]:
    if not isinstance(body, dict):
        raise ScimProblem("The request body must be a PatchOp JSON object.", 400, "invalidSyntax")
    schemas = body.get("schemas") or [PATCH_OP]
    if PATCH_OP not in schemas:
        raise ScimProblem(f"A PATCH body names the schema {PATCH_OP}.", 400, "invalidSyntax")
    ops = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(ops, list) or not ops:
        raise ScimProblem("A PATCH body carries a non-empty Operations list.", 400, "invalidSyntax")
    if len(ops) > MAX_OPERATIONS:
        raise ScimProblem(f"At most {MAX_OPERATIONS} operations per request.", 413, None)
    normalized = []
    for op in ops:
        if not isinstance(op, dict):
            raise ScimProblem(
                "Each operation is a JSON object with op, path and value.", 400, "invalidSyntax"
            )
        normalized.append({k.lower(): v for k, v in op.items()})
    return normalized


def _keep(model: type, op: dict) -> dict | None:
    """The operation with what the schema does not hold removed; None when nothing is left."""
    path = op.get("path")
    if path:
        if not isinstance(path, str):
            raise ScimProblem("path is a string such as name.givenName.", 400, "invalidPath")
        try:
            bound = _path(model)(path)
        except (SCIMException, ValueError) as exc:
            raise ScimProblem(f"The path {path!r} could not be read: {exc}", 400, "invalidPath") from exc
        head = path.split("[", 1)[0].split(".", 1)[0].lower()
        whole_extension = path.lower() in {urn.lower() for urn in model.get_extension_models()}
        if head in payloads.READ_ONLY_TOP or (not whole_extension and bound.resolve() is None):
            return None
        return {"op": op.get("op"), "path": path, **({"value": op["value"]} if "value" in op else {})}
    value = op.get("value")
    if not isinstance(value, dict):
        raise ScimProblem("An operation without a path carries an object of attributes.", 400, "invalidValue")
    cleaned = payloads.clean(model, value)
    cleaned.pop("schemas", None)
    return {"op": op.get("op"), "value": cleaned} if cleaned else None


@cache
def _patch_op(model: type) -> type:
    """``PatchOp[model]``, parametrised once: pydantic builds a class for every new parametrisation."""
    return PatchOp[model]


@cache
def _path(model: type) -> type:
    return Path[model]


def _validated(model: type, op: dict) -> PatchOp:
    try:
        return _patch_op(model).model_validate(
            {"schemas": [PATCH_OP], "Operations": [op]}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
    except ValidationError as exc:
        raise payloads.problem_from_validation(exc) from exc
    except SCIMException as exc:
        raise payloads.problem_from_scim(exc) from exc


def _typed_element(operation: PatchOperation) -> tuple[str, str, str, Any] | None:
    """``emails[type eq "work"].value`` -> ("emails", "type", "work", value) for Entra's add-if-missing."""
    path = operation.path
    if path is None:
        return None
    node = path.ast if hasattr(path, "ast") else None
    if not isinstance(node, ValuePath) or not node.sub_attr:
        return None
    flt = node.val_filter
    if not isinstance(flt, Comparison) or flt.op != CompareOperator.eq or not isinstance(flt.value, str):
        return None
    return node.attr_path.attr, flt.attr_path.attr, flt.value, node.sub_attr


_BOOLEANS = {"true": True, "false": False}
_ACTIVE_PATHS = {"active", f"{USER_SCHEMA.lower()}:active"}


def _active_only(ops: list[dict]) -> bool | None:
    """Where every operation only sets ``active`` (how Okta and Entra deactivate and restore
    people), the value it ends at; otherwise None. Values are booleans or Entra's "True"/"False"."""
    wanted: bool | None = None
    for op in ops:
        if str(op.get("op", "")).lower() not in ("replace", "add"):
            return None
        path = op.get("path")
        if not path:
            value = op.get("value")
            if not isinstance(value, dict) or len(value) != 1:
                return None
            ((key, raw),) = value.items()
            if not isinstance(key, str) or key.lower() not in _ACTIVE_PATHS:
                return None
        elif isinstance(path, str) and path.lower() in _ACTIVE_PATHS and "value" in op:
            raw = op["value"]
        else:
            return None
        if isinstance(raw, bool):
            wanted = raw
        elif isinstance(raw, str) and raw.lower() in _BOOLEANS:
            wanted = _BOOLEANS[raw.lower()]
        else:
            return None
    return wanted


def patch_user(current: dict, body: Any) -> payloads.UserState:
    """Apply a PATCH body to the user rendered as ``current``; return the wanted state.

    A PATCH that only sets ``active`` (the leaver and the returner, the most frequent PATCH there
    is) needs no model: the wanted state is the stored user with ``active`` changed. Anything
    else goes through scim2-models.
    """
    operations = _operations(body)
    active = _active_only(operations)
    if active is not None:
        return payloads.state_from_rendered(current, active=active)
    return _patch_through_models(current, operations)


def _patch_through_models(current: dict, operations: list[dict]) -> payloads.UserState:
    resource = UserResource.model_validate(payloads.clean(UserResource, current))
    for raw in operations:
        op = _keep(UserResource, raw)
        if op is None:
            continue
        patch = _validated(UserResource, op)
        try:
            patch.patch(resource)
        except NoTargetException:
            operation = patch.operations[0]
            element = _typed_element(operation)
            if operation.op == PatchOperation.Op.remove or element is None:
                raise ScimProblem(f"Nothing matches {operation.path}.", 400, "noTarget") from None
            attr, key, key_value, sub = element
            _validated(
                UserResource, {"op": "add", "path": attr, "value": [{key: key_value, sub: op.get("value")}]}
            ).patch(resource)
        except SCIMException as exc:
            raise payloads.problem_from_scim(exc) from exc
        except ValidationError as exc:
            raise payloads.problem_from_validation(exc) from exc
    return payloads.state_from_resource(resource)


@dataclass
class MemberChange:
    """One member operation: ``add`` ids, ``remove`` ids, ``remove_where`` a filter, or ``replace`` ids."""

    kind: str
    ids: list[str] = field(default_factory=list)
    where: Any = None


@dataclass
class GroupPatch:
    display_name: str | None
    external_id: str | None
    members: list[MemberChange]


def _member_ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, dict):
            lowered = {k.lower(): v for k, v in item.items()}
            kind = lowered.get("type")
            if kind is not None and str(kind).lower() != "user":
                raise ScimProblem(
                    "Groups hold users only; nested groups are not supported.", 400, "invalidValue"
                )
            member = lowered.get("value")
        else:
            member = item
        if not isinstance(member, str) or not member:
            raise ScimProblem("Each member is an object with the user's id as value.", 400, "invalidValue")
        ids.append(member)
    return ids


def _member_change(op: str, path: str | None, value: Any) -> MemberChange:
    if path is None or path.lower() == "members":
        if op == "remove":
            return MemberChange("remove", _member_ids(value)) if value else MemberChange("remove_all")
        if value is None:
            raise ScimProblem(f"{op} members needs a value: a list of members.", 400, "invalidValue")
        return MemberChange("replace" if op == "replace" else "add", _member_ids(value))
    try:
        node = _path(Group)(path).ast
    except (SCIMException, ValueError) as exc:
        raise ScimProblem(f"The path {path!r} could not be read: {exc}", 400, "invalidPath") from exc
    if not isinstance(node, ValuePath) or node.sub_attr:
        raise ScimProblem(
            f'{path} is not a member path; use members or members[value eq "id"].', 400, "invalidPath"
        )
    if op == "remove":
        return MemberChange("remove_where", where=node.val_filter)
    raise ScimProblem("Add members with path members and a list of members as value.", 400, "invalidPath")


def patch_group(current: dict, body: Any) -> GroupPatch:
    resource = Group.model_validate(payloads.clean(Group, current))
    members: list[MemberChange] = []
    for raw in _operations(body):
        op_name = str(raw.get("op", "")).lower()
        path = raw.get("path")
        if isinstance(path, str) and path.split("[", 1)[0].split(".", 1)[0].lower() == "members":
            members.append(_member_change(op_name, path, raw.get("value")))
            continue
        if not path and isinstance(raw.get("value"), dict):
            value = dict(raw["value"])
            member_key = next((k for k in value if k.lower() == "members"), None)
            if member_key is not None:
                members.append(_member_change(op_name, None, value.pop(member_key)))
                raw = {**raw, "value": value}
                if not value:
                    continue
        op = _keep(Group, raw)
        if op is None:
            continue
        try:
            _validated(Group, op).patch(resource)
        except SCIMException as exc:
            raise payloads.problem_from_scim(exc) from exc
        except ValidationError as exc:
            raise payloads.problem_from_validation(exc) from exc
    if not resource.display_name:
        raise ScimProblem("A group keeps a displayName.", 400, "mutability")
    return GroupPatch(
        display_name=resource.display_name.strip(),
        external_id=(resource.external_id or "").strip(),
        members=members,
    )


__all__ = ["AttrPath", "GroupPatch", "MemberChange", "patch_group", "patch_user"]
