"""Reads for the SCIM server, always starting from the token's agency: outside it is not found.

Users are the employees of the token's agency and every agency below it, less those the IdP
deleted. Groups are the token's agency's own. Each list page costs a fixed number of queries
whatever its size: one page, one count (skipped when the first page is not full), and for groups
one query for all the page's members.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import F, OrderBy, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest

from agencies.models import Agency, Employee
from provisioning.scim.models import ScimGroup, ScimGroupMember, ScimProfile


def subtree_ids(agency: Agency) -> QuerySet[Agency]:
    return Agency.objects.filter(path__startswith=agency.path).values("pk")


def users_in_scope(agency: Agency) -> QuerySet[Employee]:
    return Employee.objects.filter(agency_id__in=subtree_ids(agency)).filter(
        Q(scim_profile__isnull=True) | Q(scim_profile__deleted_at__isnull=True)
    )


def user_last_modified() -> Greatest:
    """A user's meta.lastModified as rendered: the later of the employee row and what the IdP sent
    (the profile), for sorting and filtering on it in the database."""
    return Greatest(F("updated_at"), Coalesce(F("scim_profile__updated_at"), F("updated_at")))


def _attach_profile(employee: Employee) -> Employee:
    try:
        employee._profile = employee.scim_profile  # type: ignore[attr-defined]
    except ScimProfile.DoesNotExist:
        employee._profile = None  # type: ignore[attr-defined]
    return employee


def _parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


def user_get(*, agency: Agency, user_id: str, for_update: bool = False) -> Employee | None:
    """The user with this SCIM id in the token's scope, or None (never a user of another agency)."""
    parsed = _parse_id(user_id)
    if parsed is None:
        return None
    # Rendering needs the profile, not the agency; writers that need the agency lock and read it
    # themselves. Nothing computed from other tables rides on the locking read: a subquery there
    # is evaluated in the snapshot taken before any wait for the lock, so it could miss what the
    # previous lock holder committed.
    qs = users_in_scope(agency).select_related("scim_profile")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    employee = qs.filter(uuid=parsed).first()
    return _attach_profile(employee) if employee else None


def user_page(
    *, agency: Agency, q: Q, start: int, count: int, order: Sequence[OrderBy | str] = ("pk",)
) -> tuple[int, list[Employee]]:
    """One page of users matching ``q`` in ``order`` (see sorting.py): at most two queries whatever
    the page size."""
    qs = users_in_scope(agency).filter(q)
    if count <= 0:
        return qs.count(), []
    rows = list(qs.select_related("scim_profile").order_by(*order)[start - 1 : start - 1 + count])
    # A first page that is not full is everything there is: no count needed (the usual
    # userName lookup answers in one query).
    total = len(rows) if start == 1 and len(rows) < count else qs.count()
    return total, [_attach_profile(row) for row in rows]


def groups_in_scope(agency: Agency) -> QuerySet[ScimGroup]:
    return ScimGroup.objects.filter(agency=agency)


def group_get(*, agency: Agency, group_id: str, for_update: bool = False) -> ScimGroup | None:
    parsed = _parse_id(group_id)
    if parsed is None:
        return None
    qs = groups_in_scope(agency)
    if for_update:
        qs = qs.select_for_update()
    return qs.filter(uuid=parsed).first()


def group_member_ids(group_ids: list[int]) -> dict[int, list[str]]:
    """Every member id of the given groups in one query."""
    members: dict[int, list[str]] = defaultdict(list)
    if not group_ids:
        return members
    rows = (
        ScimGroupMember.objects.filter(group_id__in=group_ids)
        .order_by("group_id", "pk")
        .values_list("group_id", "employee__uuid")
    )
    for group_id, employee_uuid in rows:
        members[group_id].append(str(employee_uuid))
    return members


def group_page(
    *,
    agency: Agency,
    q: Q,
    start: int,
    count: int,
    with_members: bool,
    order: Sequence[OrderBy | str] = ("pk",),
) -> tuple[int, list[ScimGroup], dict[int, list[str]] | None]:
    """One page of groups matching ``q``: at most two queries, plus one for all their members if wanted."""
    qs = groups_in_scope(agency).filter(q)
    if count <= 0:
        return qs.count(), [], None
    rows = list(qs.order_by(*order)[start - 1 : start - 1 + count])
    total = len(rows) if start == 1 and len(rows) < count else qs.count()
    members = group_member_ids([g.pk for g in rows]) if with_members else None
    return total, rows, members


def members_in_scope(*, agency: Agency, ids: list[str]) -> dict[str, int]:
    """Map the given SCIM user ids to employee pks, keeping only users in the token's scope."""
    parsed = {str(p): p for p in (_parse_id(i) for i in ids) if p is not None}
    if not parsed:
        return {}
    rows = users_in_scope(agency).filter(uuid__in=list(parsed.values())).values_list("uuid", "pk")
    return {str(u): pk for u, pk in rows}
