"""Group-based seats: members of a SCIM group an agency mapped to a pool hold a seat from that pool.

Joining a mapped group claims a seat; leaving gives it back (the foundation's ``seat_revoke``
queues the vendor deactivation and serves the pool's waitlist). A full pool is never a silent
drop: the grant is recorded as ``waiting`` with the reason, and the person joins the pool's
waitlist, which hands them the next freed seat first-come first-served. Any other refusal is
recorded as ``failed`` with a message that says what to do, and retried when the person is
reactivated or an administrator asks.

A grant owns only the seat it claimed: a person who already held a seat in the program keeps it
when they leave the group. When two mapped groups give the same program, leaving one hands the
seat to the other's grant instead of revoking it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from agencies.models import Agency, Employee
from audit.actors import Actor, ActorLike, as_actor
from audit.services import audit_record
from core.errors import AlreadyClaimed, DomainError, ForeignAgency, InvalidInput, PoolExhausted
from provisioning.scim.models import ScimGroup, ScimGroupMember, ScimGroupPool, ScimSeatGrant
from seats import services as seat_services
from seats.models import Allocation, Seat, WaitlistEntry

LIVE = Seat.LIVE_STATES
logger = logging.getLogger(__name__)
# A mapped group with more members than this (or more failed grants to retry) is handed to a
# worker: each member is a seat claim of its own, and an "all staff" group can hold a whole
# department, far more than one request should carry.
INLINE_MAX = 200
SWEEP_LIMIT = 5000


def _removal_reason(group: ScimGroup) -> str:
    return f"removed from group “{group.display_name}” by identity provider"[:255]


def _settle_waiting(grant: ScimSeatGrant) -> None:
    """A waiting grant whose waitlist place has been served now owns the seat it got."""
    if grant.state != ScimSeatGrant.State.WAITING or grant.waitlist_entry_id is None:
        return
    entry = WaitlistEntry.objects.filter(pk=grant.waitlist_entry_id).first()
    if entry is None or entry.state == WaitlistEntry.State.WAITING:
        return
    if entry.state == WaitlistEntry.State.SERVED and entry.seat_id:
        grant.state, grant.seat_id, grant.error = ScimSeatGrant.State.GRANTED, entry.seat_id, ""
    else:
        grant.state = ScimSeatGrant.State.FAILED
        grant.error = (entry.note or "The waitlist place was cancelled.")[:500]
    ScimSeatGrant.objects.filter(pk=grant.pk).update(
        state=grant.state, seat_id=grant.seat_id, error=grant.error, updated_at=timezone.now()
    )


def grant_evaluate(*, mapping: ScimGroupPool, employee: Employee, actor: ActorLike) -> ScimSeatGrant:
    """Make sure a member of a mapped group has (or waits for) a seat from the mapped pool."""
    allocation = mapping.allocation
    with transaction.atomic():
        grant, _ = ScimSeatGrant.objects.get_or_create(
            mapping=mapping, employee=employee, defaults={"state": ScimSeatGrant.State.FAILED}
        )
        _settle_waiting(grant)
        if grant.state == ScimSeatGrant.State.GRANTED and (
            grant.seat_id is None or Seat.objects.filter(pk=grant.seat_id, state__in=LIVE).exists()
        ):
            return grant
        if grant.state == ScimSeatGrant.State.WAITING:
            return grant
        values: dict = {"seat": None, "waitlist_entry": None, "error": ""}
        try:
            with transaction.atomic():
                seat = seat_services.seat_claim(allocation=allocation, employee=employee, actor=actor)
            values.update(state=ScimSeatGrant.State.GRANTED, seat=seat)
        except AlreadyClaimed:
            # Someone's own seat or another group's: held, but not owned by this grant.
            values.update(state=ScimSeatGrant.State.GRANTED)
        except PoolExhausted as exc:
            with transaction.atomic():
                entry = seat_services.waitlist_join(allocation=allocation, employee=employee, actor=actor)
            values.update(state=ScimSeatGrant.State.WAITING, waitlist_entry=entry, error=exc.message[:500])
        except DomainError as exc:
            values.update(state=ScimSeatGrant.State.FAILED, error=exc.message[:500])
        for field, value in values.items():
            setattr(grant, field, value)
        grant.save(update_fields=[*values, "updated_at"])
        if grant.state != ScimSeatGrant.State.GRANTED:
            audit_record(
                actor=actor,
                verb=f"scim_grant.{grant.state}",
                target=grant,
                agency_id=allocation.agency_id,
                after={
                    "employee": employee.email,
                    "group": mapping.group.display_name,
                    "pool": str(allocation),
                    "error": grant.error,
                },
            )
    return grant


def grant_release(*, grant: ScimSeatGrant, actor: ActorLike, reason: str) -> None:
    """The person left the group (or the group went): give back what the grant holds."""
    with transaction.atomic():
        _settle_waiting(grant)
        if grant.state == ScimSeatGrant.State.WAITING and grant.waitlist_entry_id:
            entry = WaitlistEntry.objects.select_related("allocation").get(pk=grant.waitlist_entry_id)
            seat_services.waitlist_leave(entry=entry, actor=actor)
        seat = Seat.objects.filter(pk=grant.seat_id, state__in=LIVE).first() if grant.seat_id else None
        ScimSeatGrant.objects.filter(pk=grant.pk).delete()
        if seat is None:
            return
        heir = (
            ScimSeatGrant.objects.filter(
                employee_id=grant.employee_id,
                mapping__allocation__program_id=seat.program_id,
                seat__isnull=True,
                state=ScimSeatGrant.State.GRANTED,
            )
            .exclude(pk=grant.pk)
            .first()
        )
        if heir is not None:
            ScimSeatGrant.objects.filter(pk=heir.pk).update(seat=seat, updated_at=timezone.now())
            return
        seat_services.seat_revoke(seat=seat, actor=actor, reason=reason)


def grants_on_join(*, group: ScimGroup, employee_ids: list[int], actor: ActorLike) -> None:
    """New members of a group get the seats its mappings give: in this transaction for a few, by a
    worker after it commits for many (an IdP adding a whole department in one PATCH)."""
    mappings = list(group.pools.select_related("allocation__agency", "allocation__program", "group"))
    if not mappings or not employee_ids:
        return
    if len(employee_ids) > INLINE_MAX:
        _after_commit("grants_on_join", group.pk, actor, employee_ids)
        return
    employees = Employee.objects.filter(pk__in=employee_ids).select_related("agency").order_by("pk")
    for employee in employees:
        for mapping in mappings:
            grant_evaluate(mapping=mapping, employee=employee, actor=actor)


def grants_on_join_later(*, group: ScimGroup, employee_ids: list[int], actor: ActorLike) -> int:
    """The worker's half of ``grants_on_join``: only those still in the group get a seat."""
    mappings = list(group.pools.select_related("allocation__agency", "allocation__program", "group"))
    return _walk(mappings, employee_ids, actor)


def _walk(mappings: list[ScimGroupPool], employee_ids: list[int], actor: ActorLike) -> int:
    """Evaluate these people through these mappings, each while still a member; returns how many."""
    evaluated = 0
    for employee in Employee.objects.filter(pk__in=employee_ids).select_related("agency").order_by("pk"):
        for mapping in mappings:
            evaluated += _evaluate_if_member(mapping=mapping, employee=employee, actor=actor)
    return evaluated


def _evaluate_if_member(*, mapping: ScimGroupPool, employee: Employee, actor: ActorLike) -> bool:
    """For a walk over members read earlier: evaluate someone only while they are still in the group.

    Their membership row is held meanwhile, so a removal arriving now waits for this grant and
    then gives the seat back, and one that came first leaves nothing to hold: no seat is left
    behind with someone who has left the group.
    """
    with transaction.atomic():
        held = ScimGroupMember.objects.select_for_update().filter(
            group_id=mapping.group_id, employee_id=employee.pk
        )
        if not list(held.values_list("pk", flat=True)[:1]):
            return False
        grant_evaluate(mapping=mapping, employee=employee, actor=actor)
    return True


def grants_on_leave(*, group: ScimGroup, employee_ids: list[int], actor: ActorLike) -> None:
    if not employee_ids:
        return
    grants = ScimSeatGrant.objects.filter(mapping__group=group, employee_id__in=employee_ids).order_by("pk")
    reason = _removal_reason(group)
    for grant in grants:
        grant_release(grant=grant, actor=actor, reason=reason)


def grants_on_suspend(*, employee: Employee) -> None:
    """Suspension revoked the seats; the grants wait for reactivation, visibly."""
    ScimSeatGrant.objects.filter(employee=employee).exclude(state=ScimSeatGrant.State.FAILED).update(
        state=ScimSeatGrant.State.FAILED,
        seat=None,
        waitlist_entry=None,
        error="Suspended by the identity provider; the seat comes back when they are reactivated.",
        updated_at=timezone.now(),
    )


def grants_retry_for(*, employee: Employee, actor: ActorLike) -> None:
    """Re-evaluate every grant of a person (after reactivation or a move)."""
    grants = ScimSeatGrant.objects.filter(employee=employee).select_related(
        "mapping__allocation__agency", "mapping__allocation__program", "mapping__group"
    )
    for grant in grants.order_by("pk"):
        grant_evaluate(mapping=grant.mapping, employee=employee, actor=actor)


# --- mappings (agency administrators) ---------------------------------------------------------------
def scim_group_pool_create(*, group: ScimGroup, allocation: Allocation, actor: ActorLike) -> ScimGroupPool:
    """Map a group to a pool; its current members are then given seats (see ``scim_group_pool_sync``)."""
    group_agency: Agency = group.agency
    pool_agency: Agency = allocation.agency
    if not (group_agency.is_within(pool_agency) or pool_agency.is_within(group_agency)):
        raise ForeignAgency(
            f"The {allocation.program} pool of {pool_agency.name} is not {group_agency.name}'s; "
            "map the group to a pool of its own agency, a bureau below it, or the department above it."
        )
    with transaction.atomic():
        mapping, created = ScimGroupPool.objects.get_or_create(
            group=group, allocation=allocation, defaults={"created_by_id": as_actor(actor).user_id}
        )
        if not created:
            raise InvalidInput(f"“{group.display_name}” already gives seats from this pool.")
        audit_record(
            actor=actor,
            verb="scim_group_pool.create",
            target=mapping,
            agency_id=group.agency_id,
            after={"group": group.display_name, "pool": str(allocation)},
        )
    return mapping


def scim_group_pool_sync_start(*, mapping: ScimGroupPool, actor: ActorLike) -> int | None:
    """Give a newly mapped group's members their seats: now when the group is small (returns how
    many were evaluated), else by a worker once this transaction commits (returns None)."""
    members = ScimGroupMember.objects.filter(group_id=mapping.group_id).count()
    if members <= INLINE_MAX:
        return scim_group_pool_sync(mapping=mapping, actor=actor)
    _after_commit("scim_group_pool_sync", mapping.pk, actor)
    return None


def grants_retry_failed_start(*, agency: Agency, actor: ActorLike) -> int | None:
    """An administrator's retry: done now for a few failed grants (returns how many), queued for many."""
    failed = _failed_grants(agency).count()
    if failed <= INLINE_MAX:
        return grants_retry_failed(agency=agency, actor=actor)
    _after_commit("grants_retry_failed", agency.pk, actor)
    return None


def _after_commit(task_name: str, object_id: int, actor: ActorLike, *more: object) -> None:
    """Hand the work to a worker once this transaction commits. If the broker cannot take the
    message, the request still succeeds and the sweep (``grants_sweep``) finds the members left
    without a grant."""
    from core.queue import publish
    from provisioning import tasks

    by = as_actor(actor)
    args = (object_id, by.label, by.kind, by.user_id, *more)
    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: publish(task, args, what=f"group seats ({task_name} {object_id})"))


def grants_sweep(*, limit: int = SWEEP_LIMIT) -> int:
    """Members of mapped groups who have no grant through the mapping yet (a lost message, a dead
    worker): evaluate them, at most ``limit`` a run. Returns how many were evaluated.

    One query per mapping (a deployment has a few hundred at most), each an anti-join on the
    grant's unique (mapping, employee) index.
    """
    actor = Actor.system("group seats sweep")
    mappings = ScimGroupPool.objects.select_related("allocation__agency", "allocation__program", "group")
    evaluated = seen = 0
    for mapping in mappings.order_by("pk"):
        if seen >= limit:
            break
        granted = ScimSeatGrant.objects.filter(mapping=mapping, employee_id=OuterRef("employee_id"))
        missing = list(
            ScimGroupMember.objects.filter(group_id=mapping.group_id)
            .exclude(Exists(granted))
            .order_by("employee_id")
            .values_list("employee_id", flat=True)[: limit - seen]
        )
        seen += len(missing)
        evaluated += _walk([mapping], missing, actor)
    if evaluated:
        logger.info("grants sweep gave %d members of mapped groups their grant", evaluated)
    return evaluated


def scim_group_pool_sync(*, mapping: ScimGroupPool, actor: ActorLike) -> int:
    """Give every current member of a mapped group their grant; returns how many were evaluated
    (members who left while it ran are skipped)."""
    member_ids = list(
        ScimGroupMember.objects.filter(group_id=mapping.group_id)
        .order_by("pk")
        .values_list("employee_id", flat=True)
    )
    mapping = ScimGroupPool.objects.select_related("allocation__agency", "allocation__program", "group").get(
        pk=mapping.pk
    )
    return _walk([mapping], member_ids, actor)


def scim_group_pool_delete(*, mapping: ScimGroupPool, actor: ActorLike) -> None:
    """Stop giving seats through a group. Seats already granted stay; only the rule goes."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            verb="scim_group_pool.delete",
            target=mapping,
            agency_id=mapping.group.agency_id,
            before={"group": mapping.group.display_name, "pool": str(mapping.allocation)},
        )
        for grant in ScimSeatGrant.objects.filter(mapping=mapping, state=ScimSeatGrant.State.WAITING):
            if grant.waitlist_entry_id:
                entry = WaitlistEntry.objects.select_related("allocation").get(pk=grant.waitlist_entry_id)
                seat_services.waitlist_leave(entry=entry, actor=actor)
        ScimGroupPool.objects.filter(pk=mapping.pk).delete()


def grants_retry_failed(*, agency: Agency, actor: ActorLike) -> int:
    """An administrator's retry of every failed grant of an agency's groups (after a renewal, say)."""
    grants = _failed_grants(agency).select_related(
        "mapping__allocation__agency", "mapping__allocation__program", "mapping__group", "employee"
    )
    count = 0
    for grant in grants.order_by("pk"):
        count += _evaluate_if_member(mapping=grant.mapping, employee=grant.employee, actor=actor)
    return count


def _failed_grants(agency: Agency):  # type: ignore[no-untyped-def]
    return ScimSeatGrant.objects.filter(
        mapping__group__agency=agency,
        state=ScimSeatGrant.State.FAILED,
        employee__status=Employee.Status.ACTIVE,
    )
