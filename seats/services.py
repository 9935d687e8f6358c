"""Every write to programs, pools and seats.

Counters change in the same UPDATE that checks their guard (``assigned < quantity``), so two
claims for the last seat cannot both win: the database row lock orders them and the second
UPDATE matches no row. The partial unique index on live seats makes a second claim by the same
person fail at insert, which rolls back its counter increment with it.
"""

from __future__ import annotations

import calendar
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django.utils.text import slugify

from agencies.models import Agency, Employee
from audit.actors import Actor, ActorLike
from audit.services import audit_record, audit_record_many
from core.db import constraint_violated
from core.errors import (
    AllocationExists,
    AllocationNotAllowed,
    AlreadyClaimed,
    EmployeeNotActive,
    ForeignAgency,
    InvalidInput,
    InvalidTransition,
    ParentPoolExceeded,
    PoolExhausted,
    RenewalNotAllowed,
    ResizeBelowAssigned,
    TermEnded,
)
from provisioning.models import ProvisioningJob
from provisioning.services import job_enqueue, jobs_cancel_queued, jobs_enqueue_many
from seats.models import Allocation, Program, Seat, WaitlistEntry

LIVE = Seat.LIVE_STATES
# States in which the vendor has (or may have) the user, so ending the seat deactivates it there.
VENDOR_HELD = (Seat.State.ACTIVE, Seat.State.RECLAIM_NOTICE, Seat.State.FAILED)
WAITLIST = Actor.system("waitlist")


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _has_vendor(program: Program) -> bool:
    return program.connector != Program.Connector.NONE


# --- programs -------------------------------------------------------------------------------------
def program_create(
    *,
    name: str,
    vendor: str,
    product: str,
    actor: ActorLike,
    starts_at: datetime | None = None,
    term_months: int = 12,
    price_per_agency: Decimal | int | str = 0,
    price_per_seat: Decimal | int | str = 0,
    ends_at: datetime | None = None,
    slug: str = "",
    connector: str = Program.Connector.NONE,
    connector_settings: dict | None = None,
    workspace_url: str = "",
    description: str = "",
    renewal_terms: str = "",
) -> Program:
    if not name.strip():
        raise InvalidInput("Give the program a name, such as “ChatGPT Enterprise (OneGov)”.")
    if term_months < 1:
        raise InvalidInput("A term lasts at least one month.")
    prices = (Decimal(str(price_per_agency)), Decimal(str(price_per_seat)))
    if any(p < 0 for p in prices):
        raise InvalidInput("Prices cannot be negative.")
    starts_at = starts_at or timezone.now()
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput("The program must end after it starts.")
    slug = slugify(slug or name)[:80]
    if not slug:
        raise InvalidInput("Give the program a name (or short name) with letters or digits in it.")
    if Program.objects.filter(slug=slug).exists():
        raise InvalidInput(f"A program called {slug!r} exists already; choose another name.")
    with transaction.atomic():
        program = Program.objects.create(
            slug=slug,
            name=name.strip(),
            vendor=vendor.strip(),
            product=product.strip(),
            description=description,
            term_months=term_months,
            price_per_agency=prices[0],
            price_per_seat=prices[1],
            starts_at=starts_at,
            ends_at=ends_at,
            renewal_terms=renewal_terms,
            connector=connector,
            connector_settings=connector_settings or {},
            workspace_url=workspace_url,
        )
        audit_record(
            actor=actor,
            verb="program.create",
            target=program,
            after={
                "name": program.name,
                "vendor": program.vendor,
                "term_months": term_months,
                "price_per_agency": str(prices[0]),
                "price_per_seat": str(prices[1]),
            },
        )
    return program


PROGRAM_EDITABLE = ("name", "description", "workspace_url", "renewal_terms", "ends_at", "is_active")


def program_update(*, program: Program, actor: ActorLike, **changes: object) -> Program:
    """Change what a program says about itself, its last grant day, or close it to new pools.

    Terms and prices are not editable: pools and orders were made under them.
    """
    unknown = set(changes) - set(PROGRAM_EDITABLE)
    if unknown:
        raise InvalidInput(f"{', '.join(sorted(unknown))} cannot change once a program exists.")
    if "name" in changes and not str(changes["name"]).strip():
        raise InvalidInput("Give the program a name.")
    with transaction.atomic():
        current = Program.objects.select_for_update().get(pk=program.pk)
        ends_at = changes.get("ends_at", current.ends_at)
        if ends_at is not None and ends_at <= current.starts_at:  # type: ignore[operator]
            raise InvalidInput("The program must end after it starts.")
        after = {name: value for name, value in changes.items() if getattr(current, name) != value}
        if not after:
            return current
        before = {name: getattr(current, name) for name in after}
        for name, value in after.items():
            setattr(current, name, value)
        current.save(update_fields=[*after, "updated_at"])

        def plain(values: dict) -> dict:
            return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}

        audit_record(
            actor=actor, verb="program.update", target=current, before=plain(before), after=plain(after)
        )
    return current


# --- pools ----------------------------------------------------------------------------------------
def allocation_create(
    *,
    program: Program,
    agency: Agency,
    quantity: int,
    actor: ActorLike,
    term_starts_at: datetime | None = None,
) -> Allocation:
    """GSA gives a department or independent agency a pool of seats for one term."""
    if agency.parent_id is not None:
        raise AllocationNotAllowed(
            f"{agency.name} is part of another agency. Allocate to the department; its "
            "administrators can then split seats to this bureau."
        )
    if agency.kind == Agency.Kind.AGGREGATE:
        raise AllocationNotAllowed("The OPM aggregate is a statistic, not an agency; it gets no seats.")
    if not program.is_active:
        raise AllocationNotAllowed(f"{program.name} is closed to new pools.")
    if quantity < 1:
        raise InvalidInput("A pool holds at least one seat.")
    start = term_starts_at or max(timezone.now(), program.starts_at)
    try:
        with transaction.atomic():
            allocation = Allocation.objects.create(
                program=program,
                agency=agency,
                quantity=quantity,
                term_starts_at=start,
                term_ends_at=add_months(start, program.term_months),
            )
            audit_record(
                actor=actor,
                verb="allocation.create",
                target=allocation,
                agency_id=agency.pk,
                after={"quantity": quantity, "term_ends_at": allocation.term_ends_at.isoformat()},
            )
    except IntegrityError as exc:
        if constraint_violated(exc, "seats_allocation_one_per_agency_program", "seats_allocation.program_id"):
            raise AllocationExists(
                f"{agency.name} already has a pool in {program.name}; resize that pool instead."
            ) from exc
        raise
    return allocation


def allocation_split(*, parent: Allocation, agency: Agency, quantity: int, actor: ActorLike) -> Allocation:
    """Carve a bureau's pool out of its department's free seats."""
    parent_agency = parent.agency
    if agency.pk == parent_agency.pk or not agency.is_within(parent_agency):
        raise ForeignAgency(
            f"{agency.name} is not part of {parent_agency.name}; split only to its own bureaus."
        )
    if quantity < 1:
        raise InvalidInput("A bureau pool holds at least one seat.")
    now = timezone.now()
    if parent.term_ends_at <= now:
        raise TermEnded(
            f"The {parent.program} pool of {parent_agency.name} has ended; renew it before splitting."
        )
    with transaction.atomic():
        reserved = Allocation.objects.filter(
            pk=parent.pk,
            quantity__gte=F("assigned") + F("reserved_for_children") + quantity,
        ).update(reserved_for_children=F("reserved_for_children") + quantity, updated_at=now)
        if not reserved:
            free = Allocation.objects.get(pk=parent.pk).free
            raise ParentPoolExceeded(
                f"{parent_agency.name} has {free:,} free seats in {parent.program}, fewer than the "
                f"{quantity:,} asked for. Split fewer seats or ask GSA to enlarge the pool."
            )
        try:
            with transaction.atomic():
                child = Allocation.objects.create(
                    program_id=parent.program_id,
                    agency=agency,
                    parent=parent,
                    quantity=quantity,
                    term_starts_at=parent.term_starts_at,
                    term_ends_at=parent.term_ends_at,
                )
        except IntegrityError as exc:
            if constraint_violated(
                exc, "seats_allocation_one_per_agency_program", "seats_allocation.program_id"
            ):
                raise AllocationExists(
                    f"{agency.name} already has a pool in {parent.program}; resize that pool instead."
                ) from exc
            raise
        audit_record(
            actor=actor,
            verb="allocation.split",
            target=child,
            agency_id=agency.pk,
            after={"parent": str(parent.uuid), "quantity": quantity},
        )
    return child


def allocation_resize(*, allocation: Allocation, quantity: int, actor: ActorLike) -> Allocation:
    """Grow or shrink a pool; never below the seats in use or handed down."""
    if quantity < 0:
        raise InvalidInput("A pool cannot hold a negative number of seats.")
    with transaction.atomic():
        # Lock order is always ancestor before descendant (renewal walks the same way).
        if allocation.parent_id:
            Allocation.objects.select_for_update().filter(pk=allocation.parent_id).first()
        current = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if quantity == current.quantity:
            return current
        resized = Allocation.objects.filter(
            pk=current.pk, assigned__lte=quantity - F("reserved_for_children")
        ).update(quantity=quantity, updated_at=timezone.now())
        if not resized:
            used = current.assigned + current.reserved_for_children
            raise ResizeBelowAssigned(
                f"{used:,} seats of this pool are in use or passed to bureau pools; it cannot "
                f"shrink to {quantity:,}. Revoke seats or shrink the bureau pools first."
            )
        delta = quantity - current.quantity
        if current.parent_id:
            moved = Allocation.objects.filter(
                pk=current.parent_id,
                quantity__gte=F("assigned") + F("reserved_for_children") + delta,
            ).update(reserved_for_children=F("reserved_for_children") + delta)
            if not moved:
                raise ParentPoolExceeded(
                    f"The parent pool has fewer than {delta:,} free seats to give this bureau. "
                    "Grow the department's pool first."
                )
        audit_record(
            actor=actor,
            verb="allocation.resize",
            target=current,
            agency_id=current.agency_id,
            before={"quantity": current.quantity},
            after={"quantity": quantity},
        )
        if delta > 0:
            _waitlist_serve(allocation_id=current.pk)
    current.refresh_from_db()
    return current


def _descendant_allocation_ids(root_id: int) -> list[int]:
    ids, frontier = [root_id], [root_id]
    while frontier:
        frontier = list(Allocation.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids.extend(frontier)
    return ids


def allocation_renew(*, allocation: Allocation, term_ends_at: datetime, actor: ActorLike) -> Allocation:
    """Move a pool's term to end at ``term_ends_at``; bureau pools and live seats follow.

    Idempotent: renewing to the date the term already ends at changes nothing and records
    nothing, so a retried payment webhook cannot renew twice.
    """
    if allocation.parent_id is not None:
        raise RenewalNotAllowed("Bureau pools follow their department's term; renew the department's pool.")
    now = timezone.now()
    with transaction.atomic():
        current = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if term_ends_at == current.term_ends_at:
            return current
        if term_ends_at < current.term_ends_at:
            raise RenewalNotAllowed(
                f"The current term already runs to {current.term_ends_at:%Y-%m-%d}; a renewal "
                "must end later than that."
            )
        if term_ends_at <= now:
            raise RenewalNotAllowed("A renewed term must end in the future.")
        lapsed = current.term_ends_at <= now
        ids = _descendant_allocation_ids(current.pk)
        list(Allocation.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        changes = {"term_ends_at": term_ends_at, "updated_at": now}
        if lapsed:
            changes["term_starts_at"] = now
        Allocation.objects.filter(pk__in=ids).update(**changes)
        moved = Seat.objects.filter(allocation_id__in=ids, state__in=LIVE).update(
            expires_at=term_ends_at, updated_at=now
        )
        audit_record(
            actor=actor,
            verb="allocation.renew",
            target=current,
            agency_id=current.agency_id,
            before={"term_ends_at": current.term_ends_at.isoformat()},
            after={
                "term_ends_at": term_ends_at.isoformat(),
                "pools": len(ids),
                "seats_moved": moved,
            },
        )
    current.refresh_from_db()
    return current


# --- seats ----------------------------------------------------------------------------------------
def _check_claimant(*, allocation: Allocation, employee: Employee) -> None:
    if employee.status != Employee.Status.ACTIVE:
        raise EmployeeNotActive(
            f"{employee.email} is {employee.get_status_display().lower()} and cannot hold a seat. "
            "If this is wrong, the agency's identity provider or an administrator must reactivate them."
        )
    if not employee.agency.is_within(allocation.agency):
        raise ForeignAgency(
            f"{employee.email} works for {employee.agency.name}, which is not part of "
            f"{allocation.agency.name}; seats come from your own agency's pool."
        )


def _take_one(*, allocation_id: int, now: datetime) -> datetime | None:
    """Count one more seat in the pool if it has room and its term runs; one guarded statement.

    Returns the pool's term end as the UPDATE saw it (RETURNING), so a renewal committed just
    before cannot leave the new seat with the old expiry; None when the guard refused.
    """
    table = Allocation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET assigned = assigned + 1, updated_at = %s "  # noqa: S608 - table name is ours
            "WHERE id = %s AND term_ends_at > %s AND quantity > assigned + reserved_for_children "
            "RETURNING term_ends_at",
            [now, allocation_id, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    value = row[0]
    if isinstance(value, str):  # SQLite hands raw cursors text
        value = datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def _claim_locked(
    *, allocation: Allocation, employee: Employee, actor: ActorLike, now: datetime, waiting: bool = True
) -> Seat:
    """The claim itself; runs inside a transaction (rolled back whole on any refusal)."""
    term_ends_at = _take_one(allocation_id=allocation.pk, now=now)
    if term_ends_at is None:
        fresh = Allocation.objects.get(pk=allocation.pk)
        if fresh.term_ends_at <= now:
            raise TermEnded(
                f"The {allocation.program} term of {allocation.agency.name} ended on "
                f"{fresh.term_ends_at:%Y-%m-%d}. Seats return when the agency renews."
            )
        raise PoolExhausted(
            f"All {fresh.quantity - fresh.reserved_for_children:,} seats in {allocation.agency.name}'s "
            f"{allocation.program} pool are taken. Join the waitlist to get the next free seat."
        )
    needs_approval = allocation.agency.claims_require_approval
    program = allocation.program
    if needs_approval:
        state = Seat.State.REQUESTED
    else:
        state = Seat.State.PENDING if _has_vendor(program) else Seat.State.ACTIVE
    try:
        # No savepoint: a failed insert dooms the caller's transaction (or its savepoint), which
        # is what undoes the counter increment above.
        with transaction.atomic(savepoint=False):
            seat = Seat.objects.create(
                allocation=allocation,
                program_id=allocation.program_id,
                employee=employee,
                state=state,
                claimed_at=now,
                approved_at=None if needs_approval else now,
                activated_at=now if state == Seat.State.ACTIVE else None,
                expires_at=term_ends_at,
            )
    except IntegrityError as exc:
        if constraint_violated(exc, "seats_seat_one_live_per_employee_program", "seats_seat.program_id"):
            raise AlreadyClaimed(f"{employee.email} already holds a seat in {program}.") from exc
        raise
    if state == Seat.State.PENDING:
        job_enqueue(seat_id=seat.pk, action=ProvisioningJob.Action.CREATE, at=now)
    if waiting:
        WaitlistEntry.objects.filter(
            allocation=allocation, employee=employee, state=WaitlistEntry.State.WAITING
        ).update(state=WaitlistEntry.State.SERVED, resolved_at=now, seat=seat)
    audit_record(
        actor=actor,
        verb="seat.claim",
        target=seat,
        agency_id=allocation.agency_id,
        after={"state": state, "employee": employee.email, "allocation": str(allocation.uuid)},
        at=now,
    )
    return seat


def seat_claim(*, allocation: Allocation, employee: Employee, actor: ActorLike) -> Seat:
    """Take one seat from a pool for an employee of that agency (or one of its bureaus)."""
    _check_claimant(allocation=allocation, employee=employee)
    now = timezone.now()
    with transaction.atomic():
        # The employee's row is locked for the claim: a leaver (``employee_suspend``) locks it too
        # before revoking, so either the claim commits first and the leaver revokes its seat, or
        # the leaver commits first and the claim sees the suspension. The same round trip answers
        # "already holds a seat?" and "was waiting in line?".
        status, live_state, waiting = (
            Employee.objects.select_for_update(no_key=True)
            .filter(pk=employee.pk)
            .annotate(
                live_state=Subquery(
                    Seat.objects.live()
                    .filter(program_id=allocation.program_id, employee_id=OuterRef("pk"))
                    .values("state")[:1]
                ),
                waiting=Exists(
                    WaitlistEntry.objects.filter(
                        allocation_id=allocation.pk,
                        employee_id=OuterRef("pk"),
                        state=WaitlistEntry.State.WAITING,
                    )
                ),
            )
            .values_list("status", "live_state", "waiting")
            .get()
        )
        if status != employee.status:
            employee.status = status
            _check_claimant(allocation=allocation, employee=employee)
        if live_state is not None:
            raise AlreadyClaimed(
                f"{employee.email} already holds a seat in {allocation.program} "
                f"({Seat.State(live_state).label.lower()})."
            )
        return _claim_locked(allocation=allocation, employee=employee, actor=actor, now=now, waiting=waiting)


def _transition(
    *,
    seat: Seat,
    from_states: tuple[str, ...],
    to_state: str,
    verb: str,
    actor: ActorLike,
    now: datetime,
    extra: dict | None = None,
    reason: str = "",
) -> Seat:
    """Move a seat between states with the old state as the guard; refuse a stale move."""
    values: dict = {"state": to_state, "updated_at": now, **(extra or {})}
    if reason:
        values["reason"] = reason[:255]
    moved = Seat.objects.filter(pk=seat.pk, state__in=from_states).update(**values)
    if not moved:
        current = Seat.objects.values_list("state", flat=True).get(pk=seat.pk)
        raise InvalidTransition(
            f"This seat is {Seat.State(current).label.lower()}; it cannot be {verb.split('.')[-1]}d "
            f"from that state."
        )
    before_state = seat.state
    seat.refresh_from_db()
    audit_record(
        actor=actor,
        verb=verb,
        target=seat,
        agency_id=seat.allocation.agency_id,
        before={"state": before_state},
        after={"state": to_state, **({"reason": reason} if reason else {})},
        at=now,
    )
    return seat


def seat_approve(*, seat: Seat, actor: ActorLike) -> Seat:
    now = timezone.now()
    to_state = Seat.State.PENDING if _has_vendor(seat.allocation.program) else Seat.State.ACTIVE
    extra = {"approved_at": now, **({"activated_at": now} if to_state == Seat.State.ACTIVE else {})}
    with transaction.atomic():
        seat = _transition(
            seat=seat,
            from_states=(Seat.State.REQUESTED,),
            to_state=to_state,
            verb="seat.approve",
            actor=actor,
            now=now,
            extra=extra,
        )
        if to_state == Seat.State.PENDING:
            job_enqueue(seat_id=seat.pk, action=ProvisioningJob.Action.CREATE, at=now)
    return seat


def _release(*, seat: Seat, now: datetime) -> None:
    """Give an ended seat's place back to its pool and to whoever waits for it."""
    Allocation.objects.filter(pk=seat.allocation_id, assigned__gte=1).update(
        assigned=F("assigned") - 1, updated_at=now
    )
    _waitlist_serve(allocation_id=seat.allocation_id)


def _vendor_may_know(*, seat: Seat, was: str) -> bool:
    """Whether the vendor may hold a user for this seat, so ending it must deactivate that user.

    Besides seats the vendor confirmed, a create that was attempted (even one that timed out or
    failed) may have reached the vendor; the deactivation looks the person up and is a no-op
    when the vendor never made the user.
    """
    if seat.vendor_user_id or was in (Seat.State.ACTIVE, Seat.State.RECLAIM_NOTICE, Seat.State.FAILED):
        return True
    return ProvisioningJob.objects.filter(
        seat_id=seat.pk, action=ProvisioningJob.Action.CREATE, attempts__gt=0
    ).exists()


def _end_at_vendor(*, seat: Seat, was: str, now: datetime) -> None:
    if not _has_vendor(seat.allocation.program):
        return
    may_know = _vendor_may_know(seat=seat, was=was)
    jobs_cancel_queued(seat_id=seat.pk, action=ProvisioningJob.Action.CREATE)
    if may_know:
        job_enqueue(seat_id=seat.pk, action=ProvisioningJob.Action.DEACTIVATE, at=now)


def seat_reject(*, seat: Seat, actor: ActorLike, reason: str = "") -> Seat:
    now = timezone.now()
    with transaction.atomic():
        seat = _transition(
            seat=seat,
            from_states=(Seat.State.REQUESTED,),
            to_state=Seat.State.REJECTED,
            verb="seat.reject",
            actor=actor,
            now=now,
            extra={"ended_at": now},
            reason=reason or "rejected by an administrator",
        )
        _release(seat=seat, now=now)
    return seat


def seat_revoke(*, seat: Seat, actor: ActorLike, reason: str) -> Seat:
    """End a live seat now: the pool gets the seat back and the vendor user is deactivated."""
    if not reason.strip():
        raise InvalidInput("Say why the seat is revoked; the employee and the audit trail see it.")
    now = timezone.now()
    was = seat.state
    with transaction.atomic():
        seat = _transition(
            seat=seat,
            from_states=LIVE,
            to_state=Seat.State.REVOKED,
            verb="seat.revoke",
            actor=actor,
            now=now,
            extra={"ended_at": now},
            reason=reason,
        )
        _end_at_vendor(seat=seat, was=was, now=now)
        _release(seat=seat, now=now)
    return seat


def seat_reassign(*, seat: Seat, employee: Employee, actor: ActorLike) -> Seat:
    """Hand a live seat to another employee of the same pool; the pool's count does not move."""
    allocation = seat.allocation
    if employee.pk == seat.employee_id:
        raise InvalidInput("The seat already belongs to this person.")
    _check_claimant(allocation=allocation, employee=employee)
    now = timezone.now()
    was = seat.state
    with transaction.atomic():
        ended = Seat.objects.filter(pk=seat.pk, state__in=LIVE).update(
            state=Seat.State.REVOKED,
            ended_at=now,
            updated_at=now,
            reason=f"reassigned to {employee.email}"[:255],
        )
        if not ended:
            raise InvalidTransition("This seat has already ended; claim a new seat for the person instead.")
        state = Seat.State.PENDING if _has_vendor(allocation.program) else Seat.State.ACTIVE
        try:
            with transaction.atomic():
                new_seat = Seat.objects.create(
                    allocation=allocation,
                    program_id=allocation.program_id,
                    employee=employee,
                    state=state,
                    claimed_at=now,
                    approved_at=now,
                    activated_at=now if state == Seat.State.ACTIVE else None,
                    expires_at=seat.expires_at,
                )
        except IntegrityError as exc:
            if constraint_violated(exc, "seats_seat_one_live_per_employee_program", "seats_seat.program_id"):
                raise AlreadyClaimed(
                    f"{employee.email} already holds a seat in {allocation.program}."
                ) from exc
            raise
        seat.refresh_from_db()
        _end_at_vendor(seat=seat, was=was, now=now)
        if state == Seat.State.PENDING:
            job_enqueue(seat_id=new_seat.pk, action=ProvisioningJob.Action.CREATE, at=now)
        audit_record(
            actor=actor,
            verb="seat.reassign",
            target=seat,
            agency_id=allocation.agency_id,
            before={"employee": seat.employee.email, "state": was},
            after={"employee": employee.email, "seat": str(new_seat.uuid), "state": state},
            at=now,
        )
    return new_seat


def seat_activate(*, seat: Seat, actor: ActorLike, vendor_user_id: str = "") -> Seat:
    """The vendor has the user: the seat is real."""
    now = timezone.now()
    extra: dict = {"activated_at": now, "last_error": ""}
    if vendor_user_id:
        extra["vendor_user_id"] = vendor_user_id
    with transaction.atomic():
        return _transition(
            seat=seat,
            from_states=(Seat.State.PENDING, Seat.State.FAILED),
            to_state=Seat.State.ACTIVE,
            verb="seat.activate",
            actor=actor,
            now=now,
            extra=extra,
        )


def seat_link_vendor_user(*, seat: Seat, vendor_user_id: str, actor: ActorLike) -> Seat:
    """Record which vendor user stands for this seat (found by delivery or reconciliation)."""
    now = timezone.now()
    with transaction.atomic():
        before = Seat.objects.values_list("vendor_user_id", flat=True).get(pk=seat.pk)
        if before == vendor_user_id:
            return seat
        Seat.objects.filter(pk=seat.pk).update(vendor_user_id=vendor_user_id, updated_at=now)
        seat.refresh_from_db()
        audit_record(
            actor=actor,
            verb="seat.vendor_link",
            target=seat,
            agency_id=seat.allocation.agency_id,
            before={"vendor_user_id": before},
            after={"vendor_user_id": vendor_user_id},
            at=now,
        )
    return seat


def seat_reclaim_notify(*, seat: Seat, actor: ActorLike, inactive_days: int, grace_days: int) -> Seat:
    """Tell an inactive seat holder their seat will be reclaimed after the grace period."""
    from seats.notices import NoticeDraft, notices_record

    now = timezone.now()
    with transaction.atomic():
        seat = _transition(
            seat=seat,
            from_states=(Seat.State.ACTIVE,),
            to_state=Seat.State.RECLAIM_NOTICE,
            verb="seat.reclaim_notice",
            actor=actor,
            now=now,
            extra={"reclaim_notice_at": now},
            reason=f"unused for {inactive_days} days",
        )
        employee = seat.employee
        notices_record(
            drafts=[
                NoticeDraft(
                    key=f"reclaim:seat={seat.pk}:at={now:%Y%m%dT%H%M%S}",
                    kind="reclaim",
                    allocation_id=seat.allocation_id,
                    seat_id=seat.pk,
                    employee_id=employee.pk,
                    email=employee.email,
                    context={
                        "name": employee.given_name or employee.full_name,
                        "program": seat.program.name,
                        "agency": seat.allocation.agency.name,
                        "inactive_days": inactive_days,
                        "reclaim_on": (now + timedelta(days=grace_days)).date().isoformat(),
                    },
                )
            ],
            now=now,
        )
    return seat


def seat_reclaim_cancel(*, seat: Seat, actor: ActorLike, reason: str) -> Seat:
    """The holder is back (or the policy was lifted): the seat stays theirs."""
    now = timezone.now()
    with transaction.atomic():
        return _transition(
            seat=seat,
            from_states=(Seat.State.RECLAIM_NOTICE,),
            to_state=Seat.State.ACTIVE,
            verb="seat.reclaim_cancel",
            actor=actor,
            now=now,
            extra={"reclaim_notice_at": None},
            reason=reason,
        )


def seat_mark_failed(*, seat: Seat, actor: ActorLike, error: str) -> Seat:
    """The vendor refused for good; an administrator decides what next (retry or revoke)."""
    now = timezone.now()
    with transaction.atomic():
        return _transition(
            seat=seat,
            from_states=(Seat.State.PENDING,),
            to_state=Seat.State.FAILED,
            verb="seat.fail",
            actor=actor,
            now=now,
            extra={"last_error": error[:4000]},
        )


def seat_retry(*, seat: Seat, actor: ActorLike) -> Seat:
    now = timezone.now()
    with transaction.atomic():
        seat = _transition(
            seat=seat,
            from_states=(Seat.State.FAILED,),
            to_state=Seat.State.PENDING,
            verb="seat.retry",
            actor=actor,
            now=now,
        )
        job_enqueue(seat_id=seat.pk, action=ProvisioningJob.Action.CREATE, at=now)
    return seat


def seats_expire(
    *,
    now: datetime | None = None,
    actor: ActorLike | None = None,
    batch_size: int = 5000,
    method: str = "auto",
) -> int:
    """End every live seat whose term is over, in batches; safe to run twice, even at once.

    Each batch is its own transaction: rows are locked with SKIP LOCKED on PostgreSQL, so a
    second run takes other rows instead of waiting, and the UPDATE re-checks the state.
    ``method``: ``auto`` takes the one-statement-per-batch SQL path on PostgreSQL
    (``seats.expiry``) and the ORM path elsewhere; ``orm`` and ``sql`` force one.
    """
    now = now or timezone.now()
    who = actor or Actor.system("expire_seats")
    if method not in ("auto", "orm", "sql"):
        raise InvalidInput("method is auto, orm or sql.")
    if method == "sql" or (method == "auto" and connection.vendor == "postgresql"):
        from seats.expiry import seats_expire_sql

        total = seats_expire_sql(now=now, actor=who, batch_size=batch_size)
        _waitlists_close_ended(now=now)
        return total
    total = 0
    skip_locked = connection.features.has_select_for_update_skip_locked
    while True:
        with transaction.atomic(durable=True):
            due = Seat.objects.filter(state__in=LIVE, expires_at__lte=now).order_by("pk")
            if skip_locked:
                due = due.select_for_update(skip_locked=True, of=("self",))
            batch = list(
                due.values_list(
                    "pk",
                    "allocation_id",
                    "allocation__agency_id",
                    "state",
                    "vendor_user_id",
                    "program_id",
                )[:batch_size]
            )
            if not batch:
                break
            ids = [row[0] for row in batch]
            Seat.objects.filter(pk__in=ids, state__in=LIVE).update(
                state=Seat.State.EXPIRED, ended_at=now, updated_at=now, reason="term ended"
            )
            for allocation_id, count in Counter(row[1] for row in batch).items():
                Allocation.objects.filter(pk=allocation_id).update(
                    assigned=F("assigned") - count, updated_at=now
                )
            vendor_programs = set(
                Program.objects.filter(pk__in={row[5] for row in batch})
                .exclude(connector=Program.Connector.NONE)
                .values_list("pk", flat=True)
            )
            attempted = set(
                ProvisioningJob.objects.filter(
                    seat_id__in=ids, action=ProvisioningJob.Action.CREATE, attempts__gt=0
                ).values_list("seat_id", flat=True)
            )
            ProvisioningJob.objects.filter(
                seat_id__in=ids,
                action=ProvisioningJob.Action.CREATE,
                state=ProvisioningJob.State.QUEUED,
            ).update(state=ProvisioningJob.State.CANCELLED, finished_at=now)
            jobs_enqueue_many(
                seat_ids=[
                    row[0]
                    for row in batch
                    if row[5] in vendor_programs and (row[4] or row[3] in VENDOR_HELD or row[0] in attempted)
                ],
                action=ProvisioningJob.Action.DEACTIVATE,
                at=now,
            )
            audit_record_many(
                actor=who,
                verb="seat.expire",
                target_type="seats.seat",
                rows=[
                    (
                        str(pk),
                        agency_id,
                        f"seat {pk}",
                        {"state": state},
                        {"state": Seat.State.EXPIRED},
                    )
                    for pk, _, agency_id, state, _, _ in batch
                ],
                at=now,
            )
            total += len(batch)
    _waitlists_close_ended(now=now)
    return total


def _waitlists_close_ended(*, now: datetime) -> None:
    with transaction.atomic():
        WaitlistEntry.objects.filter(
            state=WaitlistEntry.State.WAITING, allocation__term_ends_at__lte=now
        ).update(state=WaitlistEntry.State.CANCELLED, resolved_at=now, note="the pool's term ended")


# --- waitlist -------------------------------------------------------------------------------------
def waitlist_join(*, allocation: Allocation, employee: Employee, actor: ActorLike) -> WaitlistEntry:
    """Queue for a full pool. Joining twice keeps the original place in line."""
    _check_claimant(allocation=allocation, employee=employee)
    if Seat.objects.live().filter(program_id=allocation.program_id, employee=employee).exists():
        raise AlreadyClaimed(f"{employee.email} already holds a seat in {allocation.program}.")
    now = timezone.now()
    if allocation.term_ends_at <= now:
        raise TermEnded(f"The {allocation.program} term of {allocation.agency.name} has ended.")
    with transaction.atomic():
        entry, created = WaitlistEntry.objects.get_or_create(
            allocation=allocation,
            employee=employee,
            state=WaitlistEntry.State.WAITING,
            defaults={"created_at": now},
        )
        if created:
            audit_record(
                actor=actor,
                verb="waitlist.join",
                target=entry,
                agency_id=allocation.agency_id,
                after={"employee": employee.email},
                at=now,
            )
    return entry


def waitlist_leave(*, entry: WaitlistEntry, actor: ActorLike) -> None:
    now = timezone.now()
    with transaction.atomic():
        left = WaitlistEntry.objects.filter(pk=entry.pk, state=WaitlistEntry.State.WAITING).update(
            state=WaitlistEntry.State.CANCELLED, resolved_at=now, note="left the waitlist"
        )
        if left:
            audit_record(
                actor=actor,
                verb="waitlist.leave",
                target=entry,
                agency_id=entry.allocation.agency_id,
                at=now,
            )


def _waitlist_serve(*, allocation_id: int) -> int:
    """Give free seats to the head of the line, inside the caller's transaction."""
    served = 0
    skip_locked = connection.features.has_select_for_update_skip_locked
    while True:
        queue = WaitlistEntry.objects.filter(allocation_id=allocation_id, state=WaitlistEntry.State.WAITING)
        if skip_locked:
            queue = queue.select_for_update(skip_locked=True, of=("self",))
        head = queue.select_related("employee__agency", "allocation__agency", "allocation__program").first()
        if head is None:
            return served
        now = timezone.now()
        try:
            _check_claimant(allocation=head.allocation, employee=head.employee)
            with transaction.atomic():
                _claim_locked(allocation=head.allocation, employee=head.employee, actor=WAITLIST, now=now)
            served += 1
        except (PoolExhausted, TermEnded):
            return served
        except (AlreadyClaimed, EmployeeNotActive, ForeignAgency) as exc:
            WaitlistEntry.objects.filter(pk=head.pk).update(
                state=WaitlistEntry.State.CANCELLED, resolved_at=now, note=str(exc)[:255]
            )
