"""The seat lifecycle jobs beat runs: renewal reminders, inactivity reclaim, low-pool alerts and
daily usage snapshots. Each is a service: safe to run again, safe to run twice at once.

Expiry itself is ``seats.services.seats_expire`` (with its PostgreSQL path in ``seats.expiry``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from agencies.models import Agency, RoleAssignment
from audit.actors import Actor, ActorLike
from audit.services import audit_record, audit_record_many
from core.errors import DomainError
from seats.models import Allocation, LowPoolAlert, Seat, UsageSnapshot, WaitlistEntry
from seats.notices import NoticeDraft, notices_record
from seats.selectors import count_seats, seat_tally
from seats.services import seat_reclaim_cancel, seat_reclaim_notify, seat_revoke

logger = logging.getLogger(__name__)

ADMIN_REMINDER_DAYS = (60, 30, 7, 1)
EMPLOYEE_REMINDER_DAYS = (7,)
LOW_POOL_PERCENT = 10
HOLDING = (Seat.State.ACTIVE, Seat.State.RECLAIM_NOTICE)


def _threshold(left: timedelta, days: tuple[int, ...]) -> int | None:
    """The reminder due now: the nearest threshold already reached (a missed run sends one, not all)."""
    reached = [d for d in days if left <= timedelta(days=d)]
    return min(reached) if reached else None


def _admins_by_agency(agency_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    rows = (
        RoleAssignment.objects.filter(
            agency_id__in=agency_ids, role=RoleAssignment.Role.AGENCY_ADMIN, user__is_active=True
        )
        .exclude(user__email="")
        .values_list("agency_id", "user_id", "user__email")
    )
    admins: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for agency_id, user_id, email in rows:
        admins[agency_id].append((user_id, email))
    return admins


# --- renewal reminders ---------------------------------------------------------------------------
def renewal_reminders_send(*, now: datetime | None = None) -> dict[str, int]:
    """Remind agency administrators 60, 30, 7 and 1 days before a pool's term ends, and seat holders
    7 days before. Each reminder is recorded once per pool term, so a renewal starts them afresh."""
    now = now or timezone.now()
    horizon = now + timedelta(days=max(ADMIN_REMINDER_DAYS))
    pools = list(
        Allocation.objects.filter(term_ends_at__gt=now, term_ends_at__lte=horizon).select_related(
            "agency", "program"
        )
    )
    admins = _admins_by_agency({p.agency_id for p in pools if p.parent_id is None})
    counts = {"admin": 0, "employee": 0}
    with transaction.atomic():
        for pool in pools:
            left = pool.term_ends_at - now
            term = f"{pool.term_ends_at:%Y%m%dT%H%M}"
            context = {
                "agency": pool.agency.name,
                "program": pool.program.name,
                "term_ends_at": pool.term_ends_at.isoformat(),
                "term_ends_on": pool.term_ends_at.date().isoformat(),
                "quantity": pool.quantity,
                "assigned": pool.assigned,
            }
            days = _threshold(left, ADMIN_REMINDER_DAYS)
            # Bureau pools follow their department's term, which the department renews.
            if days is not None and pool.parent_id is None:
                counts["admin"] += notices_record(
                    drafts=(
                        NoticeDraft(
                            key=f"renewal_admin:pool={pool.pk}:term={term}:days={days}:user={user_id}",
                            kind="renewal_admin",
                            allocation_id=pool.pk,
                            user_id=user_id,
                            email=email,
                            context={**context, "days": days, "agency_slug": pool.agency.slug},
                        )
                        for user_id, email in admins.get(pool.agency_id, [])
                    ),
                    now=now,
                )
            days = _threshold(left, EMPLOYEE_REMINDER_DAYS)
            if days is not None:
                counts["employee"] += notices_record(
                    drafts=_employee_reminders(pool, term, days, context), now=now
                )
    return counts


def _employee_reminders(pool: Allocation, term: str, days: int, context: dict) -> Iterator[NoticeDraft]:
    holders = (
        Seat.objects.filter(allocation=pool, state__in=HOLDING)
        .values_list("pk", "employee_id", "employee__email", "employee__given_name")
        .order_by("pk")
        .iterator(chunk_size=2000)
    )
    for seat_id, employee_id, email, given_name in holders:
        yield NoticeDraft(
            key=f"renewal_employee:seat={seat_id}:term={term}:days={days}",
            kind="renewal_employee",
            allocation_id=pool.pk,
            seat_id=seat_id,
            employee_id=employee_id,
            email=email,
            context={**context, "days": days, "name": given_name},
        )


# --- inactivity reclaim --------------------------------------------------------------------------
def _policies() -> dict[str, tuple[int | None, int]]:
    """Agency path -> (inactivity days, grace days) for every agency that set a policy."""
    return {
        path: (days, grace)
        for path, days, grace in Agency.objects.filter(inactivity_reclaim_days__isnull=False).values_list(
            "path", "inactivity_reclaim_days", "reclaim_grace_days"
        )
    }


def _policy_for(path: str, policies: dict[str, tuple[int | None, int]]) -> tuple[int, int] | None:
    """The nearest policy up the tree: a bureau without its own follows its department."""
    best = None
    for prefix, policy in policies.items():
        if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, policy)
    if best is None or best[1][0] is None:
        return None
    return best[1][0], best[1][1]


def seats_reclaim_inactive(*, now: datetime | None = None, actor: ActorLike | None = None) -> dict[str, int]:
    """Per agency policy: notice to seats unused for N days, revoke after the grace period, and
    give the seat back to a holder who came back. Revoking refills the pool and serves its waitlist."""
    now = now or timezone.now()
    who = actor or Actor.system("reclaim")
    policies = _policies()
    counts = {"noticed": 0, "revoked": 0, "kept": 0}
    # A probe of the (allocation, state) index per pool, not a join over every active seat.
    in_use = Seat.objects.filter(
        allocation_id=OuterRef("pk"), state__in=(Seat.State.ACTIVE, Seat.State.RECLAIM_NOTICE)
    )
    pools = (
        Allocation.objects.filter(Exists(in_use), term_ends_at__gt=now)
        .order_by("pk")
        .values_list("pk", "agency__path")
    )
    for pool_id, path in pools:
        policy = _policy_for(path, policies)
        _reclaim_pool(pool_id, policy, now=now, actor=who, counts=counts)
    return counts


def _reclaim_pool(
    pool_id: int, policy: tuple[int, int] | None, *, now: datetime, actor: ActorLike, counts: dict[str, int]
) -> None:
    noticed = Seat.objects.filter(allocation_id=pool_id, state=Seat.State.RECLAIM_NOTICE).select_related(
        "employee", "allocation__agency", "program"
    )
    for seat in noticed:
        noticed_at = seat.reclaim_notice_at or now
        try:
            if policy is None:
                seat_reclaim_cancel(seat=seat, actor=actor, reason="the agency lifted its reclaim policy")
                counts["kept"] += 1
            elif seat.employee.last_seen_at and seat.employee.last_seen_at > noticed_at:
                seat_reclaim_cancel(seat=seat, actor=actor, reason="used again after the reclaim notice")
                counts["kept"] += 1
            elif noticed_at <= now - timedelta(days=policy[1]):
                seat_revoke(
                    seat=seat,
                    actor=actor,
                    reason=f"reclaimed: unused for {policy[0]} days and {policy[1]} days after notice",
                )
                counts["revoked"] += 1
        except DomainError as exc:
            # Another run or an administrator moved the seat first; nothing left to do for it.
            logger.info("reclaim skipped seat %s: %s", seat.pk, exc)
    if policy is None:
        return
    days, grace = policy
    last_use = Coalesce("employee__last_seen_at", "activated_at", "claimed_at")
    idle = (
        Seat.objects.filter(allocation_id=pool_id, state=Seat.State.ACTIVE)
        .alias(last_use=last_use)
        .filter(last_use__lt=now - timedelta(days=days))
        .select_related("employee", "allocation__agency", "program")
    )
    for seat in idle:
        try:
            seat_reclaim_notify(seat=seat, actor=actor, inactive_days=days, grace_days=grace)
            counts["noticed"] += 1
        except DomainError as exc:
            logger.info("reclaim notice skipped seat %s: %s", seat.pk, exc)


# --- low-pool alerts -----------------------------------------------------------------------------
def pools_check_low(*, now: datetime | None = None, actor: ActorLike | None = None) -> dict[str, int]:
    """Alert a pool's administrators once when its free seats fall under 10% of the seats it can
    give out; the alert closes when the pool recovers, so the next fall alerts again."""
    now = now or timezone.now()
    who = actor or Actor.system("low_pool")
    claimable = F("quantity") - F("reserved_for_children")
    free = claimable - F("assigned")
    low_q = Q(claimable__gt=0) & Q(free_x__lt=F("claimable") * LOW_POOL_PERCENT)
    low = (
        Allocation.objects.filter(term_ends_at__gt=now)
        .alias(claimable=claimable, free_x=free * 100)
        .filter(low_q)
        .exclude(Exists(LowPoolAlert.objects.filter(allocation=OuterRef("pk"), closed_at__isnull=True)))
        .select_related("agency", "program", "parent")
    )
    opened = closed = 0
    pools = list(low)
    admins = _admins_by_agency({p.agency_id for p in pools} | {p.parent.agency_id for p in pools if p.parent})
    for pool in pools:
        try:
            with transaction.atomic():
                alert = LowPoolAlert.objects.create(
                    allocation=pool,
                    opened_at=now,
                    free_at_open=pool.free,
                    quantity_at_open=pool.quantity,
                )
                audit_record(
                    actor=who,
                    verb="allocation.low",
                    target=pool,
                    agency_id=pool.agency_id,
                    after={"free": pool.free, "quantity": pool.quantity},
                    at=now,
                )
                recipients = admins.get(pool.agency_id) or (
                    admins.get(pool.parent.agency_id, []) if pool.parent else []
                )
                notices_record(
                    drafts=(
                        NoticeDraft(
                            key=f"low_pool:alert={alert.pk}:user={user_id}",
                            kind="low_pool",
                            allocation_id=pool.pk,
                            user_id=user_id,
                            email=email,
                            context={
                                "agency": pool.agency.name,
                                "program": pool.program.name,
                                "free": pool.free,
                                "quantity": pool.quantity - pool.reserved_for_children,
                                "percent": LOW_POOL_PERCENT,
                            },
                        )
                        for user_id, email in recipients
                    ),
                    now=now,
                )
            opened += 1
        except IntegrityError:
            continue  # a concurrent run opened it first
    with transaction.atomic():
        recovered = list(
            LowPoolAlert.objects.filter(closed_at__isnull=True)
            .exclude(
                allocation__in=Allocation.objects.alias(claimable=claimable, free_x=free * 100).filter(low_q)
            )
            .values_list("pk", "allocation_id", "allocation__agency_id")
        )
        closed = LowPoolAlert.objects.filter(pk__in=[r[0] for r in recovered], closed_at__isnull=True).update(
            closed_at=now
        )
        audit_record_many(
            actor=who,
            verb="allocation.low_cleared",
            target_type="seats.allocation",
            rows=[
                (str(pool_id), agency_id, f"pool {pool_id}", None, None)
                for _, pool_id, agency_id in recovered
            ],
            at=now,
        )
    return {"opened": opened, "closed": closed}


# --- usage snapshots -----------------------------------------------------------------------------
def usage_snapshot_take(
    *, day: date | None = None, now: datetime | None = None, actor: ActorLike | None = None
) -> int:
    """Record every current pool's counts for ``day`` (today by default) in three reads and one
    upsert; taking it again the same day replaces that day's rows."""
    now = now or timezone.now()
    day = day or timezone.localdate(now)
    who = actor or Actor.system("usage_snapshot")
    states = {
        "requested": Seat.State.REQUESTED,
        "pending": Seat.State.PENDING,
        "active": Seat.State.ACTIVE,
        "reclaim_notice": Seat.State.RECLAIM_NOTICE,
        "failed": Seat.State.FAILED,
    }
    live = seat_tally().filter(state__in=Seat.LIVE_STATES)  # the rollup on PostgreSQL
    per_pool = {
        row["allocation_id"]: row
        for row in live.values("allocation_id")
        .annotate(**{name: count_seats(live, filter=Q(state=state)) for name, state in states.items()})
        .order_by()
    }
    waiting = dict(
        WaitlistEntry.objects.filter(state=WaitlistEntry.State.WAITING)
        .values("allocation_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("allocation_id", "n")
    )
    rows = []
    for pool in Allocation.objects.filter(term_starts_at__lte=now, term_ends_at__gt=now - timedelta(days=1)):
        counts: dict = dict(per_pool.get(pool.pk, {}))
        rows.append(
            UsageSnapshot(
                day=day,
                allocation_id=pool.pk,
                agency_id=pool.agency_id,
                program_id=pool.program_id,
                quantity=pool.quantity,
                assigned=pool.assigned,
                reserved_for_children=pool.reserved_for_children,
                waiting=waiting.get(pool.pk, 0),
                taken_at=now,
                **{name: counts.get(name, 0) for name in states},
            )
        )
    with transaction.atomic():
        UsageSnapshot.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["allocation", "day"],
            update_fields=[
                "quantity",
                "assigned",
                "reserved_for_children",
                "waiting",
                "taken_at",
                *states,
            ],
        )
        audit_record_many(
            actor=who,
            verb="usage.snapshot",
            target_type="seats.usagesnapshot",
            rows=[(day.isoformat(), None, f"usage {day.isoformat()}", None, {"pools": len(rows)})],
            at=now,
        )
    return len(rows)
