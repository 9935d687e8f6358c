"""``sortBy`` and ``sortOrder`` (RFC 7644 §3.4.2.3) become a database ``ORDER BY``.

Only attributes that map to a column sort: the sort runs in the database, so paging with
``startIndex`` walks one consistent order. Strings that RFC 7643 makes case-insensitive sort
without regard to case (``userName`` is stored lower-cased, so its unique index gives that order
as is); ``externalId`` is case-exact. A blank value sorts as no value: last when ascending, first
when descending. Every order ends on the primary key (unless the key is unique already), so
equal values keep one order from page to page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import BooleanField, Case, F, OrderBy, Value, When
from django.db.models.expressions import Expression
from django.db.models.functions import Lower, NullIf

from provisioning.scim.payloads import ScimProblem
from provisioning.scim.resources import GROUP_SCHEMA, USER_SCHEMA
from provisioning.scim.selectors import user_last_modified


@dataclass(frozen=True)
class SortKey:
    """How one SCIM attribute orders rows."""

    expression: Callable[[], Expression]
    nullable: bool = False
    unique: bool = False


def _folded(field: str) -> Callable[[], Expression]:
    return lambda: Lower(NullIf(F(field), Value("")))


def _blank_is_null(field: str) -> Callable[[], Expression]:
    return lambda: NullIf(F(field), Value(""))


USER_KEYS: dict[str, SortKey] = {
    "username": SortKey(lambda: F("email"), unique=True),
    "name.givenname": SortKey(_folded("given_name"), nullable=True),
    "name.familyname": SortKey(_folded("family_name"), nullable=True),
    "displayname": SortKey(_folded("scim_profile__display_name"), nullable=True),
    "externalid": SortKey(_blank_is_null("external_id"), nullable=True),
    "meta.created": SortKey(lambda: F("created_at")),
    # lastModified as rendered: the later of the employee row and what the IdP sent.
    "meta.lastmodified": SortKey(user_last_modified),
    "active": SortKey(
        lambda: Case(
            When(status="active", then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    ),
}
GROUP_KEYS: dict[str, SortKey] = {
    "displayname": SortKey(_folded("display_name"), nullable=True),
    "externalid": SortKey(_blank_is_null("external_id"), nullable=True),
    "meta.created": SortKey(lambda: F("created_at")),
    "meta.lastmodified": SortKey(lambda: F("updated_at")),
}


def _order(
    sort_by: str | None, sort_order: str | None, keys: dict[str, SortKey], schema: str
) -> list[OrderBy | str]:
    if sort_by is None or not str(sort_by).strip():
        return ["pk"]
    descending = _descending(sort_order)
    name = str(sort_by).strip().lower()
    prefix = schema.lower() + ":"
    if name.startswith(prefix):
        name = name[len(prefix) :]
    key = keys.get(name)
    if key is None:
        allowed = ", ".join(_spelled(k) for k in keys)
        raise ScimProblem(
            f"Sorting by {sort_by} is not supported. Sort by one of: {allowed}.", 400, "invalidValue"
        )
    expression = key.expression()
    # RFC 7644: resources without a value come last when ascending and first when descending.
    nulls = {"nulls_first": True} if descending else {"nulls_last": True}
    ordered = (
        expression.desc(**(nulls if key.nullable else {}))
        if descending
        else expression.asc(**(nulls if key.nullable else {}))
    )
    if key.unique:
        return [ordered]
    return [ordered, "-pk" if descending else "pk"]


def _descending(sort_order: str | None) -> bool:
    if sort_order is None or not str(sort_order).strip():
        return False
    value = str(sort_order).strip().lower()
    if value not in ("ascending", "descending"):
        raise ScimProblem("sortOrder is ascending or descending.", 400, "invalidValue")
    return value == "descending"


_SPELLING = {
    "username": "userName",
    "name.givenname": "name.givenName",
    "name.familyname": "name.familyName",
    "displayname": "displayName",
    "externalid": "externalId",
    "meta.created": "meta.created",
    "meta.lastmodified": "meta.lastModified",
    "active": "active",
}


def _spelled(key: str) -> str:
    return _SPELLING.get(key, key)


def user_order(sort_by: str | None, sort_order: str | None) -> list[OrderBy | str]:
    """The ORDER BY for a users page; 400 invalidValue for an attribute that does not sort."""
    return _order(sort_by, sort_order, USER_KEYS, USER_SCHEMA)


def group_order(sort_by: str | None, sort_order: str | None) -> list[OrderBy | str]:
    """The ORDER BY for a groups page; 400 invalidValue for an attribute that does not sort."""
    return _order(sort_by, sort_order, GROUP_KEYS, GROUP_SCHEMA)
