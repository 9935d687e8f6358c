"""Reads behind the portal's pool tables and charts, each a fixed number of queries.

Counts come from set-based aggregates grouped in the database. On PostgreSQL they sum the
``SeatCount`` rollup (seats per pool, state, expiry and week of claim, kept by triggers in the
same transaction as every seat write): a few thousand rows however many seats there are, so
the GSA dashboard over 1.4M seats reads no seat at all. Elsewhere (SQLite) they count seats.
The chart selectors take either a seat queryset or a ``seat_tally()``; only the handful of pool
rows are folded together in Python, so a dashboard over two million seats costs the same number
of queries as one over ten.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.utils import timezone

from agencies.models import Agency
from seats.models import Allocation, Program, Seat, SeatCount, UsageSnapshot, WaitlistEntry

LIVE = Seat.LIVE_STATES
ACTIVE_STATES = (Seat.State.ACTIVE, Seat.State.RECLAIM_NOTICE)
WAITING_STATES = (Seat.State.REQUESTED, Seat.State.PENDING, Seat.State.FAILED)
EXPIRY_WINDOW_DAYS = 30


def seat_tally(pools: QuerySet[Allocation] | None = None) -> QuerySet:
    """The seats of these pools (all pools by default) as the charts should count them: the
    trigger-kept ``SeatCount`` rollup on PostgreSQL, the seats themselves elsewhere."""
    tally = SeatCount.objects.all() if connection.vendor == "postgresql" else Seat.objects.all()
    return tally if pools is None else tally.filter(allocation__in=pools)


def count_seats(rows: QuerySet, *, filter: Q | None = None) -> Aggregate:
    """Seats in a group: the sum of the rollup's counts, or a count of seat rows."""
    if rows.model is SeatCount:
        return Coalesce(Sum("n", filter=filter), 0)  # type: ignore[return-value]
    # Count rows by a column of the (allocation, state) index, not the id the index lacks.
    return Count("allocation_id", filter=filter)


@dataclass
class PoolRow:
    """One pool as the tables show it: its own numbers plus those of the bureau pools under it."""

    allocation: Allocation
    claimed: int = 0
    active: int = 0
    pending: int = 0
    expiring: int = 0
    bureau_pools: int = 0

    @property
    def agency(self) -> Agency:
        return self.allocation.agency

    @property
    def program(self) -> Program:
        return self.allocation.program

    @property
    def allocated(self) -> int:
        return self.allocation.quantity

    @property
    def utilization(self) -> float:
        """Share of the pool holding live seats, bureau pools included (0.0 to 1.0)."""
        return self.claimed / self.allocated if self.allocated else 0.0

    @property
    def free(self) -> int:
        return self.allocation.free


@dataclass
class Totals:
    allocated: int = 0
    claimed: int = 0
    active: int = 0
    pending: int = 0
    expiring: int = 0

    @property
    def utilization(self) -> float:
        return self.claimed / self.allocated if self.allocated else 0.0


def totals(rows: Iterable[PoolRow]) -> Totals:
    total = Totals()
    for row in rows:
        total.allocated += row.allocated
        total.claimed += row.claimed
        total.active += row.active
        total.pending += row.pending
        total.expiring += row.expiring
    return total


def pool_rows(allocations: QuerySet[Allocation], *, now: datetime | None = None) -> list[PoolRow]:
    """The given pools with live, active, waiting and soon-expiring seat counts. Three queries.

    Each pool's numbers include every bureau pool carved from it, however deep, so a
    department's row says how much of what GSA gave it is in use.
    """
    now = now or timezone.now()
    pools = list(allocations.select_related("agency", "program"))
    if not pools:
        return []
    program_ids = {pool.program_id for pool in pools}
    # Every pool of these programs, as (id, parent id, live seats): at most a few hundred rows.
    tree = list(
        Allocation.objects.filter(program_id__in=program_ids).values_list("pk", "parent_id", "assigned")
    )
    children: dict[int, list[int]] = defaultdict(list)
    assigned = {}
    for pk, parent_id, count in tree:
        assigned[pk] = count
        if parent_id:
            children[parent_id].append(pk)

    def subtree(root: int) -> list[int]:
        found, frontier = [root], [root]
        while frontier:
            frontier = [child for pk in frontier for child in children.get(pk, ())]
            found.extend(frontier)
        return found

    subtrees = {pool.pk: subtree(pool.pk) for pool in pools}
    wanted = {pk for ids in subtrees.values() for pk in ids}
    soon = now + timedelta(days=EXPIRY_WINDOW_DAYS)
    live = seat_tally().filter(allocation_id__in=wanted, state__in=LIVE)
    per_pool = {
        row["allocation_id"]: row
        for row in live.order_by()
        .values("allocation_id")
        .annotate(
            active=count_seats(live, filter=Q(state__in=ACTIVE_STATES)),
            pending=count_seats(live, filter=Q(state__in=WAITING_STATES)),
            expiring=count_seats(live, filter=Q(expires_at__lte=soon)),
        )
    }
    rows = []
    for pool in pools:
        row = PoolRow(allocation=pool, bureau_pools=len(subtrees[pool.pk]) - 1)
        for pk in subtrees[pool.pk]:
            row.claimed += assigned.get(pk, 0)
            counts = per_pool.get(pk)
            if counts:
                row.active += counts["active"]
                row.pending += counts["pending"]
                row.expiring += counts["expiring"]
        rows.append(row)
    return rows


def filter_rows(rows: list[PoolRow], *, usage: str = "", expiring_only: bool = False) -> list[PoolRow]:
    """Narrow pool rows by utilization band (``high`` >= 80%, ``low`` < 20%) or upcoming expiry."""
    if usage == "high":
        rows = [r for r in rows if r.utilization >= 0.8]
    elif usage == "low":
        rows = [r for r in rows if r.utilization < 0.2]
    if expiring_only:
        rows = [r for r in rows if r.expiring]
    return rows


# --- charts ---------------------------------------------------------------------------------------
@dataclass
class Series:
    """A chart's data: labels and one or more named value lists, also rendered as a table."""

    title: str
    labels: list[str]
    datasets: dict[str, list[int | float]] = field(default_factory=dict)
    kind: str = "bar"
    unit: str = ""
    label_heading: str = "Category"  # what the first column of the chart's table holds
    empty_text: str = ""

    @property
    def rows(self) -> list[tuple[str, list[int | float]]]:
        return [
            (label, [values[i] for values in self.datasets.values()]) for i, label in enumerate(self.labels)
        ]

    def as_json(self) -> dict:
        return {"kind": self.kind, "labels": self.labels, "datasets": self.datasets, "unit": self.unit}


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def claims_over_time(seats: QuerySet, *, weeks: int = 13, now: datetime | None = None) -> Series:
    """Seats claimed per week (Monday to Sunday, UTC) over the last ``weeks`` weeks. One query.

    ``seats``: seats or a ``seat_tally()``."""
    now = now or timezone.now()
    first = _week_start(now.date()) - timedelta(weeks=weeks - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    if seats.model is SeatCount:
        # The rollup keeps the week of claim; weeks from ``first`` on are claims from ``start`` on.
        recent = seats.filter(claimed_week__gte=first).annotate(week=F("claimed_week"))
    else:
        recent = seats.filter(claimed_at__gte=start).annotate(week=TruncWeek("claimed_at"))
    counts = {
        _as_date(row["week"]): row["n"]
        for row in recent.order_by().values("week").annotate(n=count_seats(seats))
    }
    days = [first + timedelta(weeks=i) for i in range(weeks)]
    return Series(
        title="Seats claimed per week",
        labels=[f"Week of {day:%b} {day.day}" for day in days],
        datasets={"Seats claimed": [counts.get(day, 0) for day in days]},
        kind="line",
        label_heading="Week",
    )


def usage_over_time(
    snapshots: QuerySet[UsageSnapshot], *, days: int = 30, now: datetime | None = None
) -> Series:
    """Seats in use and active at the end of each of the last ``days`` days, from the nightly
    usage snapshots (one row per pool and day, summed in the database). One query."""
    today = (now or timezone.now()).date()
    first = today - timedelta(days=days - 1)
    totals = {
        row["day"]: row
        for row in snapshots.filter(day__gte=first)
        .order_by()
        .values("day")
        .annotate(in_use=Sum("assigned"), active=Sum("active"), reclaim=Sum("reclaim_notice"))
    }
    recorded = sorted(totals)
    return Series(
        title="Seats in use, day by day",
        labels=[f"{day:%b} {day.day}" for day in recorded],
        datasets={
            "Seats in use": [totals[day]["in_use"] for day in recorded],
            "Active": [totals[day]["active"] + totals[day]["reclaim"] for day in recorded],
        },
        kind="line",
        label_heading="Day",
        empty_text="No daily snapshot yet: the first is taken tonight.",
    )


def expiry_timeline(seats: QuerySet, *, months: int = 13, now: datetime | None = None) -> Series:
    """Live seats by the month their term ends, from this month on (a year's term ends within
    the 13 months shown). One query. ``seats``: seats or a ``seat_tally()``."""
    now = now or timezone.now()
    first = now.date().replace(day=1)
    counts = {
        _as_date(row["month"]): row["n"]
        for row in seats.filter(
            state__in=LIVE, expires_at__gte=datetime.combine(first, datetime.min.time(), now.tzinfo)
        )
        .order_by()
        .annotate(month=TruncMonth("expires_at"))
        .values("month")
        .annotate(n=count_seats(seats))
    }
    month_starts = []
    year, month = first.year, first.month
    for _ in range(months):
        month_starts.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    later = sum(n for day, n in counts.items() if day not in set(month_starts))
    labels = [f"{day:%b %Y}" for day in month_starts] + ["Later"]
    return Series(
        title="Live seats by month of expiry",
        labels=labels,
        datasets={"Seats expiring": [counts.get(day, 0) for day in month_starts] + [later]},
        label_heading="Month",
    )


def seats_by_state(seats: QuerySet) -> Series:
    """How many seats are in each state. One query. ``seats``: seats or a ``seat_tally()``."""
    counts = dict(seats.order_by().values_list("state").annotate(n=count_seats(seats)))
    states = list(Seat.State)
    return Series(
        title="Seats by state",
        labels=[state.label for state in states],
        datasets={"Seats": [counts.get(state.value, 0) for state in states]},
        label_heading="State",
    )


def utilization_by_pool(rows: list[PoolRow], *, limit: int = 40) -> Series:
    """Per-pool utilization (percent), highest first; no query beyond the pool rows."""
    ranked = sorted(rows, key=lambda r: (-r.utilization, r.agency.name))[:limit]
    several_programs = len({row.allocation.program_id for row in rows}) > 1

    def label(row: PoolRow) -> str:
        name = row.agency.abbreviation or row.agency.name
        return f"{name} ({row.program.name})" if several_programs else name

    return Series(
        title="Utilization by agency",
        labels=[label(row) for row in ranked],
        datasets={"Seats in use (%)": [round(row.utilization * 100, 1) for row in ranked]},
        kind="hbar",
        unit="%",
        label_heading="Agency",
    )


# --- an employee's own seats ----------------------------------------------------------------------
@dataclass(frozen=True)
class Notice:
    """What a person should know about their seat: a USWDS alert level, a heading and a sentence."""

    level: str  # info | success | warning | error
    heading: str
    text: str


def employee_seats(employee_id: int) -> list[Seat]:
    """A person's seats, live ones first, then the last few that ended. One query."""
    seats = list(
        Seat.objects.filter(employee_id=employee_id)
        .select_related("allocation__agency", "program")
        .order_by("-claimed_at", "-pk")[:20]
    )
    return sorted(seats, key=lambda seat: not seat.is_live)


def employee_waitlist(employee_id: int) -> list[WaitlistEntry]:
    """The pools a person waits for, each with how many people are ahead of them. One query."""
    same_pool = WaitlistEntry.objects.filter(
        allocation_id=OuterRef("allocation_id"), state=WaitlistEntry.State.WAITING
    )
    ahead = (
        same_pool.filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk"))
        )
        .order_by()
        .values("allocation_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        WaitlistEntry.objects.filter(employee_id=employee_id, state=WaitlistEntry.State.WAITING)
        .select_related("allocation__agency", "allocation__program")
        .annotate(ahead=Coalesce(Subquery(ahead), 0))
    )


def seat_notice(seat: Seat, *, now: datetime | None = None) -> Notice:
    """What the seat's holder needs to know and do, in plain words."""
    now = now or timezone.now()
    program, agency = seat.program, seat.allocation.agency
    ends = f"{seat.expires_at:%B} {seat.expires_at.day}, {seat.expires_at.year}"
    state = seat.state
    if state == Seat.State.REQUESTED:
        return Notice(
            "info",
            "Waiting for approval",
            f"{agency.name} approves each claim; this page shows the decision.",
        )
    if state == Seat.State.PENDING:
        return Notice(
            "info",
            f"Being set up at {program.vendor}",
            "This usually takes a few minutes. Come back to this page to find your workspace link.",
        )
    if state == Seat.State.FAILED:
        return Notice(
            "error",
            f"{program.vendor} could not set up your seat",
            f"Your seat is kept for you. {agency.name}'s administrators have been told and will retry.",
        )
    if state == Seat.State.RECLAIM_NOTICE:
        grace = agency.reclaim_grace_days
        deadline = (seat.reclaim_notice_at or now) + timedelta(days=grace)
        return Notice(
            "warning",
            "Use your seat or lose it",
            f"You have not used {program.product} for a while. Sign in to it before "
            f"{deadline:%B} {deadline.day} to keep your seat; after that it goes to someone who is waiting.",
        )
    if state == Seat.State.ACTIVE:
        if seat.expires_at - now <= timedelta(days=EXPIRY_WINDOW_DAYS):
            return Notice(
                "warning",
                f"Your seat ends on {ends}",
                f"{agency.name} decides whether to renew. "
                "If it renews, the date moves and you need do nothing.",
            )
        return Notice("success", "Your seat is active", f"It runs until {ends}.")
    if state == Seat.State.EXPIRED:
        return Notice(
            "info",
            "This seat's term has ended",
            f"Seats return when {agency.name} renews; you can claim again then.",
        )
    reason = f" Reason given: {seat.reason}." if seat.reason else ""
    if state == Seat.State.REJECTED:
        return Notice(
            "info", "Your claim was not approved", f"Ask {agency.name}'s administrators why.{reason}"
        )
    return Notice("info", "This seat was taken back", f"It returned to {agency.name}'s pool.{reason}")
