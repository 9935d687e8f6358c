"""Filters on a user's ``emails`` (RFC 7644 §3.4.2.2): ``emails eq``, ``emails.value co``,
``emails[type eq "work"].value eq``, ``emails pr`` and their combinations.

What a filter sees as the user's emails: the work address (``userName``, stored lower-cased on
the employee, type ``work``) and every address the IdP sent in ``emails`` (kept as sent on the
SCIM profile). The work address is the person's email even when the IdP sent no ``emails``, so
an IdP that looks people up by email finds them instead of creating a duplicate. So
``emails pr`` holds for every user. ``value`` and ``type`` compare without regard to case
(RFC 7643 gives both caseExact false); ``eq``, ``ne``, ``co``, ``sw``, ``ew`` and ``pr`` are
supported, anything else is refused (``invalidFilter``).

The addresses the IdP sent are JSON: an element filter becomes an ``EXISTS`` over the array's
elements, written for PostgreSQL (``jsonb_array_elements``) and SQLite (``json_each``).
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import BooleanField, F, Func, Q
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

from provisioning.scim.filters import EVERYTHING, NOTHING, FilterError

_TEXT_OPS = (CompareOperator.eq, CompareOperator.co, CompareOperator.sw, CompareOperator.ew)
_FIELDS = ("value", "type")
WORK_TYPE = "work"

# An element filter in a small hashable form, so the database expression below can carry it:
# ("cmp", field, op, needle) | ("pr", field) | ("not", node) | ("and" | "or", (node, ...))
Element = tuple[Any, ...]


def element(node: FilterNode) -> Element:
    """The element filter of ``emails[...]`` (attributes ``value`` and ``type``), checked."""
    if isinstance(node, LogicalExpr):
        kind = "and" if node.op == LogicalOperator.and_ else "or"
        return (kind, tuple(element(term) for term in node.terms))
    if isinstance(node, Not):
        return ("not", element(node.expr))
    if isinstance(node, Present):
        return ("pr", _field(node.attr_path))
    if isinstance(node, Comparison):
        field = _field(node.attr_path)
        if not isinstance(node.value, str):
            raise FilterError(f"emails.{field} compares with a string in double quotes.")
        needle = node.value.strip().lower()
        if node.op == CompareOperator.ne:
            return ("not", ("cmp", field, "eq", needle))
        if node.op not in _TEXT_OPS:
            raise FilterError("emails compare with eq, ne, co, sw, ew or pr.")
        return ("cmp", field, node.op.value, needle)
    raise FilterError("emails filters nest no further than emails[...].")


def _field(path: AttrPath) -> str:
    name = (path.sub_attr or path.attr).lower()
    if path.sub_attr and path.attr.lower() != "emails":
        raise FilterError(f"{path} is not an attribute of emails.")
    if name not in _FIELDS:
        raise FilterError(f"Filter emails on value or type, not on {name}.")
    return name


def top_level(node: FilterNode) -> Element:
    """The element filter meant by a filter on ``emails`` itself: ``emails eq``, ``emails.value co``,
    ``emails.type eq``, ``emails pr``, or ``emails[...]``."""
    if isinstance(node, ValuePath):
        if node.sub_attr:
            raise FilterError("Filter emails[...] without a sub-attribute after the brackets.")
        return element(node.val_filter)
    if not isinstance(node, Comparison):
        raise FilterError("emails take a comparison, pr, or a filter in brackets.")
    path = node.attr_path
    bare = Comparison(AttrPath(path.sub_attr or "value", None, None), node.op, node.value)
    return element(bare)


def emails_q(tree: Element) -> Q:
    """Users with an email (the work address or one the IdP sent) that satisfies the element filter."""
    lookup = _lookup(tree)
    if lookup is None:
        # co, sw, ew, or, not: a scan of the token's users, as for any other substring filter.
        return _work_address(tree) | Q(_SentEmailsMatch(F("scim_profile__emails"), tree=tree))
    # An IdP looking one person up by address: two index lookups (the unique email index and the
    # GIN index on the sent addresses, migration 0003) joined by id. An OR of a column of the
    # employee with one of the profile would scan every employee of the agency instead.
    from agencies.models import Employee
    from provisioning.scim.models import ScimProfile

    sent = (
        ScimProfile.objects.filter(_SentEmailsMatch(F("emails"), tree=tree)).order_by().values("employee_id")
    )
    _, wanted_type = lookup
    if wanted_type is not None and wanted_type != WORK_TYPE:
        return Q(pk__in=sent)
    return Q(pk__in=Employee.objects.filter(_work_address(tree)).order_by().values("pk").union(sent))


def _lookup(tree: Element) -> tuple[str, str | None] | None:
    """(value, type) when the element filter is ``value eq`` with perhaps ``and type eq``."""
    leaves = tree[1] if tree[0] == "and" else (tree,)
    if any(leaf[0] != "cmp" or leaf[2] != "eq" for leaf in leaves):
        return None
    values = [leaf[3] for leaf in leaves if leaf[1] == "value"]
    types = [leaf[3] for leaf in leaves if leaf[1] == "type"]
    if len(values) != 1 or len(types) > 1:
        return None
    return values[0], types[0] if types else None


# --- the work address: a Q on the employee's email column ----------------------------------------------
_EMAIL_LOOKUPS = {"eq": "exact", "co": "contains", "sw": "startswith", "ew": "endswith"}


def _work_address(tree: Element) -> Q:
    kind = tree[0]
    if kind in ("and", "or"):
        parts = [_work_address(t) for t in tree[1]]
        result = parts[0]
        for part in parts[1:]:
            result = result & part if kind == "and" else result | part
        return result
    if kind == "not":
        return ~_work_address(tree[1])
    if kind == "pr":
        return EVERYTHING  # every employee has an address, and it is of type work
    _, field, op, needle = tree
    if field == "value":
        return Q(**{f"email__{_EMAIL_LOOKUPS[op]}": needle})
    return EVERYTHING if _text_matches(WORK_TYPE, op, needle) else NOTHING


def _text_matches(text: str, op: str, needle: str) -> bool:
    return {
        "eq": text == needle,
        "co": needle in text,
        "sw": text.startswith(needle),
        "ew": text.endswith(needle),
    }[op]


# --- what the IdP sent: EXISTS over the JSON array --------------------------------------------------------
class _SentEmailsMatch(Func):
    """True when an element of the JSON ``emails`` array satisfies the element filter."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: F, *, tree: Element) -> None:
        super().__init__(column)
        self.tree = tree

    def as_sql(self, compiler, connection, **extra_context):  # type: ignore[no-untyped-def, override]
        column_sql, column_params = compiler.compile(self.source_expressions[0])
        lookup = _lookup(self.tree)
        if connection.vendor == "postgresql" and lookup is not None:
            # Containment in the lower-cased array, which the GIN index of migration 0003 answers:
            # one element must carry both the value and the type.
            wanted = {"value": lookup[0], **({"type": lookup[1]} if lookup[1] is not None else {})}
            return f"(lower(({column_sql})::text))::jsonb @> %s::jsonb", [
                *column_params,
                json.dumps([wanted]),
            ]
        if connection.vendor == "postgresql":
            condition, params = _element_sql(self.tree, _POSTGRES)
            sql = (
                "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({col}) = 'array' "
                "THEN {col} ELSE '[]'::jsonb END) AS scim_email(item) WHERE {cond})"
            )
        elif connection.vendor == "sqlite":
            condition, params = _element_sql(self.tree, _SQLITE)
            sql = (
                "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_type({col}) = 'array' "
                "THEN {col} ELSE '[]' END) AS scim_email WHERE {cond})"
            )
        else:
            raise FilterError("Filtering on emails needs PostgreSQL or SQLite.")
        return sql.format(col=column_sql, cond=condition), [*column_params, *column_params, *params]


_POSTGRES = {
    "field": "lower(scim_email.item ->> '{name}')",
    "co": "strpos({acc}, %s) > 0",
    "sw": "left({acc}, %s) = %s",
    "ew": "right({acc}, %s) = %s",
}
_SQLITE = {
    # json_extract only reads objects; other elements have no value.
    "field": (
        "lower(CASE WHEN scim_email.type = 'object' THEN json_extract(scim_email.value, '$.{name}') END)"
    ),
    "co": "instr({acc}, %s) > 0",
    "sw": "substr({acc}, 1, %s) = %s",
    "ew": "substr({acc}, -%s) = %s",
}


def _element_sql(tree: Element, dialect: dict[str, str]) -> tuple[str, list[Any]]:
    kind = tree[0]
    if kind in ("and", "or"):
        parts = [_element_sql(t, dialect) for t in tree[1]]
        joiner = " AND " if kind == "and" else " OR "
        return "(" + joiner.join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
    if kind == "not":
        inner, params = _element_sql(tree[1], dialect)
        # An element without the attribute does not match, negated or not (SQL NULL stays false).
        return f"COALESCE(NOT {inner}, FALSE)", params
    accessor = dialect["field"].format(name=tree[1])
    if kind == "pr":
        return f"COALESCE({accessor}, '') <> ''", []
    _, _, op, needle = tree
    if op == "eq":
        return f"{accessor} = %s", [needle]
    if not needle:
        return f"{accessor} IS NOT NULL", []
    if op == "co":
        return dialect["co"].format(acc=accessor), [needle]
    return dialect[op].format(acc=accessor), [len(needle), needle]
