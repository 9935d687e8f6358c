"""Reconciliation: the vendor's users against our live seats, drift reported both ways.

* **missing at the vendor**: a seat we consider active whose user the vendor lacks or holds
  inactive. Repair: queue a reactivation (an idempotent "make sure the user is active").
* **unlinked**: a live seat whose vendor user exists but whose id we never stored. Repair: store it.
* **orphaned at the vendor**: an active vendor user with no live seat behind it. Repair: queue a
  deactivation on the person's last seat, or deactivate it directly when we never had one.

Pending seats are in flight and are not drift. People are matched by ``externalId`` (the
employee's uuid) and then by ``userName`` (their e-mail).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import ActorLike
from audit.services import audit_record
from core.errors import ReconcileNotSupported
from provisioning.models import ProvisioningJob
from provisioning.services import job_enqueue
from provisioning.vendor import ScimConnector, VendorUser, scim_connector_for
from seats.models import Program, Seat

HELD = (Seat.State.ACTIVE, Seat.State.RECLAIM_NOTICE)


@dataclass
class Drift:
    """One difference between the vendor and us."""

    kind: str  # missing | unlinked | orphaned
    user_name: str
    seat_id: int | None = None
    vendor_user_id: str = ""
    repaired: str = ""


@dataclass
class ReconcileReport:
    program: str
    vendor_users: int = 0
    live_seats: int = 0
    drift: list[Drift] = field(default_factory=list)

    def of(self, kind: str) -> list[Drift]:
        return [d for d in self.drift if d.kind == kind]

    def counts(self) -> dict[str, int]:
        return {
            "vendor_users": self.vendor_users,
            "live_seats": self.live_seats,
            "missing": len(self.of("missing")),
            "unlinked": len(self.of("unlinked")),
            "orphaned": len(self.of("orphaned")),
            "repaired": sum(1 for d in self.drift if d.repaired),
        }


def _index(users: Iterable[VendorUser]) -> tuple[dict[str, VendorUser], dict[str, VendorUser], int]:
    by_external, by_name, total = {}, {}, 0
    for user in users:
        total += 1
        if user.external_id:
            by_external[user.external_id] = user
        by_name[user.user_name.lower()] = user
    return by_external, by_name, total


def program_reconcile(
    *,
    program: Program,
    actor: ActorLike,
    repair: bool = False,
    connector: ScimConnector | None = None,
) -> ReconcileReport:
    if program.connector != Program.Connector.SCIM:
        raise ReconcileNotSupported(
            f"{program.name} has no vendor API to list users ({program.get_connector_display()}); "
            "reconcile it against the vendor's own export by hand."
        )
    own = connector is None
    connector = connector or scim_connector_for(program)
    try:
        by_external, by_name, total = _index(connector.list_users())
        report = ReconcileReport(program=program.slug, vendor_users=total)
        seats = list(
            Seat.objects.live()
            .filter(program=program)
            .values_list("pk", "state", "vendor_user_id", "employee__uuid", "employee__email")
        )
        report.live_seats = len(seats)
        claimed: set[str] = set()
        for pk, state, vendor_id, person_uuid, email in seats:
            user = by_external.get(str(person_uuid)) or by_name.get(email.lower())
            if user is not None:
                claimed.add(user.id)
            if state not in HELD:
                continue
            if user is None or not user.active:
                report.drift.append(
                    Drift("missing", email, seat_id=pk, vendor_user_id=user.id if user else "")
                )
            elif user.id != vendor_id:
                report.drift.append(Drift("unlinked", email, seat_id=pk, vendor_user_id=user.id))
        ended = _last_ended_seats(program, [u for u in by_name.values() if u.active and u.id not in claimed])
        for user in by_name.values():
            if user.active and user.id not in claimed:
                report.drift.append(
                    Drift("orphaned", user.user_name, seat_id=ended.get(user.id), vendor_user_id=user.id)
                )
        if repair:
            _repair(program, report, connector, actor)
    finally:
        if own:
            connector.close()
    return report


def _last_ended_seats(program: Program, users: list[VendorUser]) -> dict[str, int]:
    """Vendor user id -> the person's most recent ended seat in this program (one query)."""
    if not users:
        return {}
    names = {u.user_name.lower(): u.id for u in users}
    externals = {u.external_id: u.id for u in users if u.external_id}
    rows = (
        Seat.objects.filter(program=program)
        .exclude(state__in=Seat.LIVE_STATES)
        .filter(Q(employee__email__in=list(names)) | Q(employee__uuid__in=_uuids(externals)))
        .order_by("employee_id", "-ended_at", "-pk")
        .values_list("pk", "employee__email", "employee__uuid")
    )
    found: dict[str, int] = {}
    for pk, email, person_uuid in rows:
        user_id = externals.get(str(person_uuid)) or names.get(email)
        if user_id and user_id not in found:
            found[user_id] = pk
    return found


def _uuids(externals: dict[str, str]) -> list[str]:
    import uuid

    valid = []
    for value in externals:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


def _queued(seat_id: int, action: str) -> bool:
    return ProvisioningJob.objects.filter(
        seat_id=seat_id, action=action, state=ProvisioningJob.State.QUEUED
    ).exists()


def _repair(program: Program, report: ReconcileReport, connector: ScimConnector, actor: ActorLike) -> None:
    from seats.services import seat_link_vendor_user

    for drift in report.drift:
        with transaction.atomic():
            if drift.kind == "unlinked" and drift.seat_id:
                seat = Seat.objects.get(pk=drift.seat_id)
                seat_link_vendor_user(seat=seat, vendor_user_id=drift.vendor_user_id, actor=actor)
                drift.repaired = "linked"
            elif drift.kind == "missing" and drift.seat_id:
                if not _queued(drift.seat_id, ProvisioningJob.Action.REACTIVATE):
                    job_enqueue(seat_id=drift.seat_id, action=ProvisioningJob.Action.REACTIVATE)
                drift.repaired = "reactivation queued"
            elif drift.kind == "orphaned" and drift.seat_id:
                seat = Seat.objects.get(pk=drift.seat_id)
                if seat.vendor_user_id != drift.vendor_user_id:
                    seat_link_vendor_user(seat=seat, vendor_user_id=drift.vendor_user_id, actor=actor)
                if not _queued(drift.seat_id, ProvisioningJob.Action.DEACTIVATE):
                    job_enqueue(seat_id=drift.seat_id, action=ProvisioningJob.Action.DEACTIVATE)
                drift.repaired = "deactivation queued"
        if drift.kind == "orphaned" and not drift.seat_id:
            # Nobody here ever held this user: deactivate it now and say so in the trail.
            connector.deactivate_id(drift.vendor_user_id)
            with transaction.atomic():
                audit_record(
                    actor=actor,
                    verb="vendor.deactivate_orphan",
                    target=program,
                    after={"vendor_user_id": drift.vendor_user_id, "user_name": drift.user_name},
                    at=timezone.now(),
                )
            drift.repaired = "deactivated"
