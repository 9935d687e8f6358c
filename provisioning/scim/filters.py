"""SCIM filters (RFC 7644 §3.4.2.2) become Django ``Q`` objects, so the database does the filtering.

scim2-models parses the filter into a syntax tree; this module walks that tree with its
``FilterVisitor`` and maps each attribute to a column with the comparison semantics the
attribute has: ``userName`` against the lower-cased, uniquely indexed email column (so the most
common IdP query is one index lookup), ``externalId`` case-exact as RFC 7643 defines it, names
without regard to case, ``active`` onto the employee's status, dates as dates, ``emails`` as
``email_filter.py`` explains. An attribute the
service cannot filter on is refused (``invalidFilter``) rather than silently ignored, which
would answer with every resource.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual, Lookup
from django.utils.dateparse import parse_datetime
from scim2_models import ScimFilter
from scim2_models.exceptions import SCIMException
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from scim2_models.path.visitor import FilterVisitor

from provisioning.scim.resources import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

MAX_FILTER_LENGTH = 4096


class FilterError(Exception):
    """A filter the service refuses; ``detail`` tells the client what to change."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Column:
    """How one SCIM attribute is compared in the database."""

    field: str
    kind: str = "string"  # string | exact | email | emails | uuid | datetime | modified | active | members
    nullable: bool = False


USER_COLUMNS: dict[tuple[str, str | None], Column] = {
    ("id", None): Column("uuid", "uuid"),
    ("username", None): Column("email", "email"),
    ("externalid", None): Column("external_id", "exact"),
    ("active", None): Column("status", "active"),
    ("name", "givenname"): Column("given_name"),
    ("name", "familyname"): Column("family_name"),
    ("displayname", None): Column("scim_profile__display_name", nullable=True),
    ("emails", None): Column("", "emails"),
    ("emails", "value"): Column("", "emails"),
    ("emails", "type"): Column("", "emails"),
    ("meta", "created"): Column("created_at", "datetime"),
    # As rendered: the later of the employee row and the IdP's profile (selectors.user_last_modified).
    ("meta", "lastmodified"): Column("updated_at", "modified"),
}
ENTERPRISE_COLUMNS: dict[tuple[str, str | None], Column] = {
    ("employeenumber", None): Column("employee_number"),
    ("organization", None): Column("scim_profile__organization", nullable=True),
    ("division", None): Column("scim_profile__division", nullable=True),
    ("department", None): Column("scim_profile__department", nullable=True),
}
GROUP_COLUMNS: dict[tuple[str, str | None], Column] = {
    ("id", None): Column("uuid", "uuid"),
    ("displayname", None): Column("display_name"),
    ("externalid", None): Column("external_id", "exact"),
    ("members", None): Column("", "members"),
    ("members", "value"): Column("", "members"),
    ("meta", "created"): Column("created_at", "datetime"),
    ("meta", "lastmodified"): Column("updated_at", "datetime"),
}
MEMBER_COLUMNS: dict[tuple[str, str | None], Column] = {
    ("value", None): Column("employee__uuid", "uuid"),
    ("type", None): Column("", "member_type"),
}

_STRING_LOOKUPS = {
    CompareOperator.eq: "iexact",
    CompareOperator.co: "icontains",
    CompareOperator.sw: "istartswith",
    CompareOperator.ew: "iendswith",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}
_EXACT_LOOKUPS = {
    CompareOperator.eq: "exact",
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}
_ORDER_LOOKUPS = {
    CompareOperator.eq: "exact",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}
_MODIFIED_LOOKUPS: dict[CompareOperator, type[Lookup]] = {
    CompareOperator.eq: Exact,
    CompareOperator.gt: GreaterThan,
    CompareOperator.ge: GreaterThanOrEqual,
    CompareOperator.lt: LessThan,
    CompareOperator.le: LessThanOrEqual,
}
NOTHING = Q(pk__in=[])
# "True" that survives an OR: an empty Q() would be dropped from ``Q() | other``.
EVERYTHING = ~NOTHING


class _Compiler(FilterVisitor[Q]):
    def __init__(self, columns: dict, core_schema: str, extensions: dict[str, dict]) -> None:
        self.columns = columns
        self.core_schema = core_schema.lower()
        self.extensions = {urn.lower(): cols for urn, cols in extensions.items()}

    # --- attribute resolution -----------------------------------------------------------------
    def column(self, path: AttrPath) -> Column:
        columns = self.columns
        attr, sub = path.attr.lower(), path.sub_attr.lower() if path.sub_attr else None
        if path.uri:
            uri = path.uri.lower()
            if uri in self.extensions:
                columns = self.extensions[uri]
            elif uri != self.core_schema:
                raise FilterError(f"{path.uri} is not a schema of this resource.")
        found = columns.get((attr, sub))
        if found is None:
            allowed = ", ".join(
                sorted({".".join(p for p in key if p) for key in self.columns} | {"…enterprise attributes"})
            )
            raise FilterError(f"Filtering on {path} is not supported. Filter on one of: {allowed}.")
        return found

    # --- nodes ---------------------------------------------------------------------------------
    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        parts = [self.visit(term) for term in node.terms]
        result = parts[0]
        for part in parts[1:]:
            result = result & part if node.op == LogicalOperator.and_ else result | part
        return result

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_present(self, node: Present) -> Q:
        column = self.column(node.attr_path)
        if column.kind == "emails":
            return EVERYTHING  # every user has the work address (see email_filter.py)
        if column.kind in ("active", "datetime", "modified", "uuid", "member_type"):
            return Q()
        if column.kind == "members":
            return self._members(Q())
        present = ~Q(**{column.field: ""})
        if column.nullable:
            present &= Q(**{f"{column.field}__isnull": False})
        return present

    def visit_comparison(self, node: Comparison) -> Q:
        column = self.column(node.attr_path)
        if column.kind == "emails":
            from provisioning.scim import email_filter

            if node.op == CompareOperator.ne:
                # As for every attribute: ne is "no email equals", not "some email differs".
                eq = Comparison(node.attr_path, CompareOperator.eq, node.value)
                return ~email_filter.emails_q(email_filter.top_level(eq))
            return email_filter.emails_q(email_filter.top_level(node))
        handler: Callable[[Column, CompareOperator, Any], Q] = getattr(self, f"_compare_{column.kind}")
        if node.op == CompareOperator.ne:
            return ~handler(column, CompareOperator.eq, node.value)
        return handler(column, node.op, node.value)

    def visit_value_path(self, node: ValuePath) -> Q:
        column = self.column(AttrPath(node.attr_path.attr, None, node.attr_path.uri))
        if column.kind == "emails":
            from provisioning.scim import email_filter

            return email_filter.emails_q(email_filter.top_level(node))
        if column.kind != "members":
            raise FilterError(
                f"Value filters are supported on members and emails only, not on {node.attr_path}."
            )
        return self._members(member_q(node.val_filter))

    # --- comparisons by kind -------------------------------------------------------------------
    def _text(self, column: Column, value: Any) -> str:
        if not isinstance(value, str):
            raise FilterError(f"{column.field.split('__')[-1]} compares with a string in double quotes.")
        return value

    def _compare_string(self, column: Column, op: CompareOperator, value: Any) -> Q:
        return Q(**{f"{column.field}__{_STRING_LOOKUPS[op]}": self._text(column, value)})

    def _compare_exact(self, column: Column, op: CompareOperator, value: Any) -> Q:
        return Q(**{f"{column.field}__{_EXACT_LOOKUPS[op]}": self._text(column, value)})

    def _compare_email(self, column: Column, op: CompareOperator, value: Any) -> Q:
        # Emails are stored lower-cased, so a case-insensitive match is an exact match on the
        # lower-cased value, which the unique index answers.
        return Q(**{f"{column.field}__{_EXACT_LOOKUPS[op]}": self._text(column, value).strip().lower()})

    def _compare_uuid(self, column: Column, op: CompareOperator, value: Any) -> Q:
        if op != CompareOperator.eq:
            raise FilterError("Ids compare with eq or ne only.")
        try:
            return Q(**{column.field: uuid.UUID(self._text(column, value))})
        except ValueError:
            return NOTHING  # no resource has an id that is not one of ours

    def _moment(self, column: Column, op: CompareOperator, value: Any) -> datetime:
        if op not in _ORDER_LOOKUPS:
            raise FilterError("Dates compare with eq, ne, gt, ge, lt or le.")
        moment = parse_datetime(self._text(column, value)) if isinstance(value, str) else None
        if not isinstance(moment, datetime):
            raise FilterError(f"{value!r} is not a date and time such as 2025-01-31T12:00:00Z.")
        return moment

    def _compare_datetime(self, column: Column, op: CompareOperator, value: Any) -> Q:
        return Q(**{f"{column.field}__{_ORDER_LOOKUPS[op]}": self._moment(column, op, value)})

    def _compare_modified(self, column: Column, op: CompareOperator, value: Any) -> Q:
        from provisioning.scim.selectors import user_last_modified

        return Q(_MODIFIED_LOOKUPS[op](user_last_modified(), self._moment(column, op, value)))

    def _compare_active(self, column: Column, op: CompareOperator, value: Any) -> Q:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"  # Entra writes booleans as strings
        if op != CompareOperator.eq or not isinstance(value, bool):
            raise FilterError("active compares with eq or ne and true or false.")
        active = Q(status="active")
        return active if value else ~active

    def _compare_members(self, column: Column, op: CompareOperator, value: Any) -> Q:
        return self._members(member_q(Comparison(AttrPath("value"), op, value)))

    def _compare_member_type(self, column: Column, op: CompareOperator, value: Any) -> Q:
        matches = op == CompareOperator.eq and isinstance(value, str) and value.lower() == "user"
        return Q() if matches else NOTHING

    def _members(self, inner: Q) -> Q:
        from provisioning.scim.models import ScimGroupMember

        return Q(Exists(ScimGroupMember.objects.filter(inner, group_id=OuterRef("pk"))))


def _parse(text: str) -> FilterNode:
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"Filters are limited to {MAX_FILTER_LENGTH} characters.")
    try:
        return ScimFilter(text).ast
    except (SCIMException, ValueError) as exc:
        raise FilterError(f"The filter could not be read: {exc}.") from exc


def user_q(text: str) -> Q:
    return _Compiler(USER_COLUMNS, USER_SCHEMA, {ENTERPRISE_SCHEMA: ENTERPRISE_COLUMNS}).visit(_parse(text))


def group_q(text: str) -> Q:
    return _Compiler(GROUP_COLUMNS, GROUP_SCHEMA, {}).visit(_parse(text))


def member_q(node: FilterNode | str) -> Q:
    """A filter on group members (``value``, ``type``), as a Q on ScimGroupMember rows."""
    tree = _parse(node) if isinstance(node, str) else node
    return _Compiler(MEMBER_COLUMNS, GROUP_SCHEMA, {}).visit(tree)
