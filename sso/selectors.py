"""Reads for sign-in and the claim page, each a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from agencies.models import Agency, Employee, RegisteredDomain
from agencies.selectors import agency_domain_for_email, registered_domain_for_email
from seats.models import Allocation, Seat, WaitlistEntry
from sso.models import IdentityProvider


# --- discovery ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Discovery:
    """Where an email address signs in, or why it cannot."""

    identity_provider: IdentityProvider | None = None
    agency: Agency | None = None
    registered: RegisteredDomain | None = None


def identity_provider_for_agency(agency: Agency) -> IdentityProvider | None:
    """The agency's own IdP, else the nearest ancestor's (bureaus often share their department's)."""
    qs = IdentityProvider.objects.enabled().filter(agency_id__in=agency.ancestor_ids())
    if not settings.SSO_DEV_IDP:
        qs = qs.filter(is_development=False)
    return qs.select_related("agency", "social_app").order_by("-agency__depth").first()


def discover(email: str) -> Discovery:
    """Email -> the agency owning its domain -> that agency's (or its nearest ancestor's) IdP."""
    owner = agency_domain_for_email(email)
    if owner is None:
        return Discovery(registered=registered_domain_for_email(email))
    return Discovery(identity_provider=identity_provider_for_agency(owner.agency), agency=owner.agency)


# --- the claim page -----------------------------------------------------------------------------
@dataclass
class ProgramOption:
    """One program the employee's agency has a pool in, and where the employee stands in it."""

    allocation: Allocation
    seat: Seat | None = None
    waitlist_position: int | None = None
    waitlist_entry_id: int | None = None
    past_seats: list[Seat] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        now = timezone.now()
        return self.allocation.term_starts_at <= now < self.allocation.term_ends_at

    @property
    def free(self) -> int:
        return max(0, self.allocation.free)


def claimable_allocations(employee: Employee, *, now: datetime | None = None):
    """The pools an employee may claim from: their agency's and its ancestors', current terms only.

    Where a bureau has its own pool in a program, the bureau's pool is the one to claim from.
    """
    moment = now or timezone.now()
    return (
        Allocation.objects.filter(
            agency_id__in=employee.agency.ancestor_ids(),
            program__is_active=True,
            term_ends_at__gt=moment,
        )
        .select_related("program", "agency")
        .order_by("program__name", "-agency__depth")
    )


def ended_pools(employee: Employee, *, except_programs: list[int], now: datetime | None = None):
    """Per program with no open pool: the employee's nearest pool whose term has ended, if any.

    One query; says why there is nothing to claim rather than leaving the page empty.
    """
    moment = now or timezone.now()
    latest: dict[int, Allocation] = {}
    pools = (
        Allocation.objects.filter(
            agency_id__in=employee.agency.ancestor_ids(),
            program__is_active=True,
            term_ends_at__lte=moment,
        )
        .exclude(program_id__in=except_programs)
        .select_related("program", "agency")
        .order_by("program__name", "-term_ends_at", "-agency__depth")
    )
    for allocation in pools:
        latest.setdefault(allocation.program_id, allocation)
    return list(latest.values())


def claim_overview(employee: Employee) -> list[ProgramOption]:
    """Per program: the nearest pool, the employee's live seat, and their place on its waitlist.

    Three queries whatever the number of programs: pools, the employee's seats, their waitlist
    entries with positions counted in the database.
    """
    options: dict[int, ProgramOption] = {}
    for allocation in claimable_allocations(employee):
        options.setdefault(allocation.program_id, ProgramOption(allocation=allocation))
    if not options:
        return []
    seats = (
        Seat.objects.filter(employee=employee, program_id__in=list(options))
        .select_related("allocation__agency")
        .order_by("-claimed_at")
    )
    for seat in seats:
        option = options[seat.program_id]
        if seat.is_live and option.seat is None:
            option.seat = seat
        elif len(option.past_seats) < 3:
            option.past_seats.append(seat)
    ahead = (
        WaitlistEntry.objects.filter(
            allocation_id=OuterRef("allocation_id"), state=WaitlistEntry.State.WAITING
        )
        .filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
        )
        .order_by()
        .values("allocation_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    entries = (
        WaitlistEntry.objects.filter(
            employee=employee,
            state=WaitlistEntry.State.WAITING,
            allocation_id__in=[o.allocation.pk for o in options.values()],
        )
        .annotate(ahead=Coalesce(Subquery(ahead), 0))
        .values_list("allocation__program_id", "id", "ahead")
    )
    for program_id, entry_id, ahead_count in entries:
        options[program_id].waitlist_position = ahead_count + 1
        options[program_id].waitlist_entry_id = entry_id
    return list(options.values())


def waitlist_position(entry: WaitlistEntry) -> int:
    return (
        WaitlistEntry.objects.filter(allocation_id=entry.allocation_id, state=WaitlistEntry.State.WAITING)
        .filter(Q(created_at__lt=entry.created_at) | Q(created_at=entry.created_at, id__lt=entry.id))
        .count()
        + 1
    )


# --- metadata refresh ---------------------------------------------------------------------------
def identity_providers_to_refresh(slug: str = "") -> list[IdentityProvider]:
    """IdPs registered from a metadata URL (the development IdP never is), by agency; one query."""
    qs = IdentityProvider.objects.exclude(metadata_url="").filter(is_development=False)
    if slug:
        qs = qs.filter(agency__slug=slug)
    return list(qs.select_related("agency", "social_app").order_by("agency__path"))
