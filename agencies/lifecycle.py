"""Joiners, movers and leavers: an employee's status and address change, and what that does to seats.

These services sit in their own module rather than in ``agencies/services.py`` because they
reach into ``seats.services`` (which itself builds on ``agencies.models``): keeping them apart
leaves ``agencies.services`` free of any dependency on seats, and the import direction one-way
(agencies.lifecycle -> seats.services -> agencies.models). Callers: the SCIM server, and any
portal or API view that suspends or reactivates a person.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists
from django.utils import timezone

from agencies.models import Employee
from agencies.services import check_email_belongs, normalize_email
from audit.actors import ActorLike
from audit.services import audit_record
from core.db import constraint_violated
from core.errors import DomainError, EmployeeExists, ForeignAgency, InvalidTransition, PoolExhausted
from seats import services as seat_services
from seats.models import Seat, WaitlistEntry

DEPROVISIONED = "deprovisioned by identity provider"


@dataclass(frozen=True)
class SeatOutcome:
    """What happened to one seat during a lifecycle change (for callers that report it)."""

    program: str
    outcome: str  # revoked | restored | waiting | refused
    detail: str = ""
    seat: Seat | None = None


def _locked(employee: Employee) -> Employee:
    return Employee.objects.select_for_update().select_related("agency").get(pk=employee.pk)


def employee_change_email(*, employee: Employee, email: str, actor: ActorLike) -> Employee:
    """Give a person a new work address (a name change, a new domain) within their own department."""
    value = normalize_email(email)
    with transaction.atomic(savepoint=False):
        locked = _locked(employee)
        if value == locked.email:
            return locked
        owner = check_email_belongs(agency=locked.agency, email=value)
        if owner.ancestor_ids()[0] != locked.agency.ancestor_ids()[0]:
            raise ForeignAgency(
                f"{value} belongs to {owner.name}; people keep an address of their own agency."
            )
        before = locked.email
        try:
            with transaction.atomic():
                Employee.objects.filter(pk=locked.pk).update(email=value, updated_at=timezone.now())
        except IntegrityError as exc:
            if constraint_violated(exc, "agencies_employee_unique_email", "agencies_employee.email"):
                raise EmployeeExists(
                    f"{value} already belongs to another person on the roster; addresses are unique."
                ) from exc
            raise
        locked.email = value
        audit_record(
            actor=actor,
            verb="employee.email",
            target=locked,
            agency_id=locked.agency_id,
            before={"email": before},
            after={"email": value},
        )
    return locked


def employee_suspend(
    *, employee: Employee, actor: ActorLike, reason: str = DEPROVISIONED, locked: bool = False
) -> list[SeatOutcome]:
    """Suspend a person: every live seat is revoked (queuing the vendor deactivation) in one transaction.

    Places in waitlists are given up too. Suspending a suspended person changes nothing. ``locked``
    says the caller already holds the employee's row lock in its transaction and passes that row.
    """
    outcomes: list[SeatOutcome] = []
    with transaction.atomic(savepoint=False):
        locked_row = employee if locked else _locked(employee)
        if locked_row.status == Employee.Status.SUSPENDED:
            return outcomes
        before = locked_row.status
        Employee.objects.filter(pk=locked_row.pk).update(
            status=Employee.Status.SUSPENDED, updated_at=timezone.now()
        )
        locked_row.status = Employee.Status.SUSPENDED
        audit_record(
            actor=actor,
            verb="employee.suspend",
            target=locked_row,
            agency_id=locked_row.agency_id,
            before={"status": before},
            after={"status": locked_row.status, "reason": reason},
        )
        live = (
            Seat.objects.live()
            .filter(employee=locked_row)
            .select_related("allocation__program")
            .order_by("pk")
        )
        waiting = WaitlistEntry.objects.filter(employee=locked_row, state=WaitlistEntry.State.WAITING)
        # One round trip says whether there is anything to give up (most leavers: nothing);
        # the lists themselves are read, as before, only when there is.
        has_seats, is_waiting = (
            Employee.objects.filter(pk=locked_row.pk)
            .annotate(has_seats=Exists(live.order_by()), is_waiting=Exists(waiting))
            .values_list("has_seats", "is_waiting")
            .get()
        )
        for seat in live if has_seats else ():
            try:
                seat_services.seat_revoke(seat=seat, actor=actor, reason=reason)
            except InvalidTransition:
                continue  # ended by someone else a moment ago: nothing left to revoke
            outcomes.append(SeatOutcome(program=seat.allocation.program.name, outcome="revoked", seat=seat))
        for entry in waiting.select_related("allocation") if is_waiting else ():
            seat_services.waitlist_leave(entry=entry, actor=actor)
    return outcomes


def employee_reactivate(
    *, employee: Employee, actor: ActorLike, restore_seats: bool = True
) -> list[SeatOutcome]:
    """Make a suspended or departed person active again; by default give back what deprovisioning took.

    Whether a revoked seat comes back is the policy of the agency that owns its pool
    (``Agency.restore_seats_on_reactivation``).
    """
    with transaction.atomic(savepoint=False):
        locked = _locked(employee)
        if locked.status != Employee.Status.ACTIVE:
            before = locked.status
            Employee.objects.filter(pk=locked.pk).update(
                status=Employee.Status.ACTIVE, updated_at=timezone.now()
            )
            locked.status = Employee.Status.ACTIVE
            audit_record(
                actor=actor,
                verb="employee.reactivate",
                target=locked,
                agency_id=locked.agency_id,
                before={"status": before},
                after={"status": locked.status},
            )
        employee.status = locked.status
        if not restore_seats:
            return []
        return employee_restore_seats(employee=locked, actor=actor)


def employee_restore_seats(*, employee: Employee, actor: ActorLike) -> list[SeatOutcome]:
    """Claim again, in the same pool, each seat deprovisioning took, where the pool's agency allows it.

    Only a program whose most recent seat for the person was revoked by deprovisioning is
    restored, so a seat an administrator revoked later for another reason stays revoked. A full
    pool puts the person on its waitlist; other refusals are recorded in the audit trail.
    """
    outcomes: list[SeatOutcome] = []
    with transaction.atomic(savepoint=False):
        seats = (
            Seat.objects.filter(employee=employee)
            .select_related("allocation__agency", "allocation__program")
            .order_by("program_id", "-claimed_at", "-pk")
        )
        latest: dict[int, Seat] = {}
        for seat in seats:
            latest.setdefault(seat.program_id, seat)
        for seat in latest.values():
            if seat.state != Seat.State.REVOKED or seat.reason != DEPROVISIONED:
                continue
            allocation = seat.allocation
            program = allocation.program.name
            if not allocation.agency.restore_seats_on_reactivation:
                outcomes.append(SeatOutcome(program=program, outcome="refused", detail="agency policy"))
                continue
            try:
                with transaction.atomic():
                    new_seat = seat_services.seat_claim(allocation=allocation, employee=employee, actor=actor)
                outcomes.append(SeatOutcome(program=program, outcome="restored", seat=new_seat))
            except PoolExhausted as exc:
                with transaction.atomic():
                    seat_services.waitlist_join(allocation=allocation, employee=employee, actor=actor)
                outcomes.append(SeatOutcome(program=program, outcome="waiting", detail=exc.message))
            except DomainError as exc:
                audit_record(
                    actor=actor,
                    verb="seat.restore_refused",
                    target=seat,
                    agency_id=allocation.agency_id,
                    after={"employee": employee.email, "reason": exc.message},
                )
                outcomes.append(SeatOutcome(program=program, outcome="refused", detail=exc.message))
    return outcomes
