"""Reads about agencies and who may see what.

``user_scope`` is the one place that turns a user's role assignments into the subtrees they
may see. Every view starts from a queryset filtered through it, so an object outside the
user's scope is simply not found (404), never "forbidden" (no existence leak).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Q, QuerySet

from agencies.models import Agency, AgencyDomain, Employee, RegisteredDomain, RoleAssignment

QS = TypeVar("QS", bound=QuerySet)
STAFF_ROLES = (RoleAssignment.Role.AGENCY_ADMIN, RoleAssignment.Role.ONBOARDING_STAFF)


@dataclass(frozen=True)
class Scope:
    """The agencies a user may act on: everything, some subtrees, or only themselves."""

    is_global: bool = False
    paths: tuple[str, ...] = ()
    employee_id: int | None = None

    @property
    def is_empty(self) -> bool:
        return not self.is_global and not self.paths and self.employee_id is None

    def agency_q(self, field: str = "") -> Q:
        """A filter on agencies by path; ``field`` is the lookup path to the Agency."""
        if self.is_global:
            return Q()
        if not self.paths:
            return Q(pk__in=[])
        lookup = f"{field}__path__startswith" if field else "path__startswith"
        q = Q()
        for path in self.paths:
            q |= Q(**{lookup: path})
        return q

    def covers(self, agency: Agency) -> bool:
        return self.is_global or any(agency.path.startswith(p) for p in self.paths)

    def filter_agencies(self, qs: QS) -> QS:
        if self.is_global:
            return qs
        if self.paths:
            return qs.filter(self.agency_q())
        if self.employee_id is not None:
            return qs.filter(employees__id=self.employee_id)
        return qs.none()

    def filter_employees(self, qs: QS) -> QS:
        if self.is_global:
            return qs
        q = self.agency_q("agency") if self.paths else Q(pk__in=[])
        if self.employee_id is not None:
            q |= Q(pk=self.employee_id)
        return qs.filter(q)

    def filter_by_agency(self, qs: QS, field: str = "agency") -> QS:
        """Filter any queryset whose rows hang off an agency through ``field``."""
        if self.is_global:
            return qs
        return qs.filter(self.agency_q(field)) if self.paths else qs.none()

    def agency_ids(self) -> list[int]:
        """Every agency in the scope's subtrees, by id (one query; none for a global scope)."""
        if self.is_global or not self.paths:
            return []
        return list(Agency.objects.filter(self.agency_q()).values_list("pk", flat=True))

    def filter_by_agency_ids(self, qs: QS, field: str = "agency") -> QS:
        """``filter_by_agency`` with the subtrees' agencies listed by id rather than joined by path.

        For newest-first lists over tables of millions of rows: given the ids, PostgreSQL knows
        which agencies (and roughly how many of their rows) are wanted and walks the newest-first
        index, where a join on the path makes it fetch the whole subtree's rows and sort them.
        Costs one small query for the ids.
        """
        if self.is_global:
            return qs
        return qs.filter(**{f"{field}__in": self.agency_ids()}) if self.paths else qs.none()


def user_scope(user, roles: Iterable[str] | None = None) -> Scope:  # type: ignore[no-untyped-def]
    """The scope a user holds through the given roles (staff roles by default)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Scope()
    wanted = tuple(roles) if roles is not None else (RoleAssignment.Role.GSA_ADMIN, *STAFF_ROLES)
    cache = user.__dict__.setdefault("_scope_cache", {})
    if wanted in cache:
        return cache[wanted]
    assignments = list(
        RoleAssignment.objects.filter(user=user, role__in=wanted).values_list("role", "agency__path")
    )
    if any(role == RoleAssignment.Role.GSA_ADMIN for role, _ in assignments):
        scope = Scope(is_global=True)
    else:
        paths = outermost_paths(path for _, path in assignments if path)
        employee_id = Employee.objects.filter(user=user).values_list("pk", flat=True).first()
        scope = Scope(paths=paths, employee_id=employee_id)
    cache[wanted] = scope
    return scope


def outermost_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop paths already covered by an ancestor path in the set."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    return tuple(kept)


def user_roles(user) -> set[str]:  # type: ignore[no-untyped-def]
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(RoleAssignment.objects.filter(user=user).values_list("role", flat=True))


def email_domain_candidates(domain: str) -> list[str]:
    """``mail.nih.gov`` -> ``["mail.nih.gov", "nih.gov"]``; never a bare public suffix."""
    labels = domain.lower().strip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def agency_domain_for_email(email: str) -> AgencyDomain | None:
    """The verified agency domain that owns an email address (the most specific match wins)."""
    domain = email.rpartition("@")[2].lower()
    if not domain:
        return None
    return agency_domains_for([domain])[domain]


def agency_domains_for(email_domains: Iterable[str]) -> dict[str, AgencyDomain | None]:
    """The verified agency domain owning each email domain, in one query (a roster's worth at once).

    ``mail.nih.gov`` is owned by ``mail.nih.gov`` if that is registered, else by ``nih.gov``: the
    most specific match wins.
    """
    wanted = {domain.lower(): email_domain_candidates(domain) for domain in email_domains if domain}
    every = {candidate for candidates in wanted.values() for candidate in candidates}
    if not every:
        return dict.fromkeys(wanted)
    verified = {
        row.domain: row
        for row in AgencyDomain.objects.filter(domain__in=every, verified_at__isnull=False)
        .select_related("agency")
        .order_by()
    }
    # Candidates run from the full domain up to its parent, so the first hit is the most specific.
    return {
        domain: next((verified[c] for c in candidates if c in verified), None)
        for domain, candidates in wanted.items()
    }


def registered_domain_for_email(email: str) -> RegisteredDomain | None:
    domain = email.rpartition("@")[2].lower()
    candidates = email_domain_candidates(domain) if domain else []
    found = {d.domain: d for d in RegisteredDomain.objects.filter(domain__in=candidates)}
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    return None
