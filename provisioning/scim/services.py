"""Every SCIM write: users (joiners, movers, leavers) and groups (with the seats they give).

Each function is one transaction and audits with the token's actor. The person-level effects
(suspend, reactivate, restore seats) are ``agencies.lifecycle`` services; group-based seats are
``provisioning.scim.grants``. A POST, a PUT and a PATCH of a user all end in ``scim_user_update``
with the wanted state, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from agencies import lifecycle
from agencies.models import Agency, AgencyDomain, Employee
from agencies.selectors import agency_domain_for_email
from agencies.services import check_domain_owner, employee_create, employee_update, normalize_email
from audit.actors import ActorLike
from audit.services import audit_record
from core.errors import EmployeeExists, InvalidInput
from provisioning.scim import grants, selectors
from provisioning.scim.models import ScimGroup, ScimGroupMember, ScimProfile
from provisioning.scim.patch import GroupPatch, MemberChange
from provisioning.scim.payloads import ScimProblem, UserState
from provisioning.scim.selectors import members_in_scope

_Row = TypeVar("_Row")
# A check of the locked row before a write (If-Match); it raises to refuse the write.
Precondition = Callable[[_Row], None] | None

PROFILE_FIELDS = ("display_name", "emails", "organization", "division", "department", "placement_note")


# --- placement: the enterprise extension -> agency, bureau, office -----------------------------------
def _key(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Placement:
    agency: Agency | None
    note: str = ""


def place(*, root: Agency, organization: str, division: str, department: str) -> Placement:
    """Find the deepest agency the three names point to, inside ``root``'s subtree only.

    Each name may be an agency's name, OPM name, abbreviation, short name or OPM code, and is
    looked up below the one before it. A name that matches nothing leaves the person at the last
    match and says so in ``note``; nothing outside the token's agency can ever be chosen.
    """
    wanted = [
        (label, value)
        for label, value in (
            ("organization", organization),
            ("division", division),
            ("department", department),
        )
        if value
    ]
    if not wanted:
        return Placement(agency=None)
    nodes = list(Agency.objects.filter(path__startswith=root.path).order_by("depth", "pk"))
    current: Agency | None = None
    misses: list[str] = []
    for label, value in wanted:
        key = _key(value)
        base = current or root
        candidates = [
            node
            for node in nodes
            if node.path.startswith(base.path)
            and (current is None or node.pk != current.pk)
            and key
            in {
                _key(v)
                for v in (node.name, node.opm_name, node.abbreviation, node.slug, node.opm_code or "")
                if v
            }
        ]
        if candidates:
            current = candidates[0]
        else:
            misses.append(f"{label} “{value}”")
    note = ""
    if misses:
        where = (current or root).name
        note = f"{' and '.join(misses)} match no agency under {where}; placed in {where}."[:500]
    return Placement(agency=current, note=note)


# --- users ------------------------------------------------------------------------------------------
def _profile_values(state: UserState, note: str) -> dict:
    return {
        "display_name": state.display_name[:255],
        "emails": state.emails,
        "organization": state.organization[:255],
        "division": state.division[:255],
        "department": state.department[:255],
        "placement_note": note,
    }


def _profile_write(
    *, employee: Employee, profile: ScimProfile | None, values: dict, actor: ActorLike, revive: bool = False
) -> ScimProfile:
    """Store what the IdP sent beyond the Employee row; audit what changed. The employee is locked."""
    now = timezone.now()
    if profile is None:
        profile = ScimProfile.objects.create(employee=employee, **values)
        before: dict = {}
        after = {k: v for k, v in values.items() if v}
    else:
        before, after = {}, {}
        for name, value in values.items():
            if getattr(profile, name) != value:
                before[name], after[name] = getattr(profile, name), value
                setattr(profile, name, value)
        if revive and profile.deleted_at is not None:
            profile.deleted_at = None
            before["deleted"], after["deleted"] = True, False
        if after:
            profile.updated_at = now
            ScimProfile.objects.filter(pk=profile.pk).update(
                **{k: getattr(profile, k) for k in (*values, "deleted_at")}, updated_at=now
            )
    if after:
        audit_record(
            actor=actor,
            verb="scim.user.profile",
            target=employee,
            agency_id=employee.agency_id,
            before=before or None,
            after=after,
            at=now,
        )
    return profile


def _default_agency(token_agency: Agency, email: str, owner: AgencyDomain | None) -> Agency:
    home = check_domain_owner(agency=token_agency, email=email, owner=owner)
    return home if home.is_within(token_agency) else token_agency


def _locked_with_profile(employee_id: int) -> Employee:
    employee = (
        Employee.objects.select_for_update(of=("self",))
        .select_related("agency", "scim_profile")
        .get(pk=employee_id)
    )
    try:
        employee._profile = employee.scim_profile  # type: ignore[attr-defined]
    except ScimProfile.DoesNotExist:
        employee._profile = None  # type: ignore[attr-defined]
    return employee


def scim_user_create(*, agency: Agency, state: UserState, actor: ActorLike) -> tuple[Employee, bool]:
    """A joiner. Returns (employee, created); an address the IdP deleted before comes back to life."""
    email = normalize_email(state.user_name)
    # The domain is checked first, so an address of another agency is refused the same way
    # whether or not that agency has such a person (no existence leak across agencies).
    owner = agency_domain_for_email(email)  # looked up once, for this check and the create below
    default_home = _default_agency(agency, email, owner)
    placement = place(
        root=agency, organization=state.organization, division=state.division, department=state.department
    )
    try:
        with transaction.atomic():
            # The insert comes first and a duplicate ends this transaction, so no savepoint:
            # the revival of a deleted user below starts a transaction of its own.
            employee = employee_create(
                agency=placement.agency or default_home,
                email=email,
                source=Employee.Source.SCIM,
                actor=actor,
                given_name=state.given_name,
                family_name=state.family_name,
                external_id=state.external_id,
                employee_number=state.employee_number,
                domain_owner=owner,
                savepoint=False,
            )
            employee._profile = _profile_write(  # type: ignore[attr-defined]
                employee=employee, profile=None, values=_profile_values(state, placement.note), actor=actor
            )
            if not state.active:
                lifecycle.employee_suspend(employee=employee, actor=actor)
                employee.status = Employee.Status.SUSPENDED
        return employee, True
    except EmployeeExists:
        pass
    with transaction.atomic():
        existing = Employee.objects.select_related("agency").get(email=email)
        deleted = ScimProfile.objects.filter(employee=existing, deleted_at__isnull=False).exists()
        if not (deleted and existing.agency.is_within(agency)):
            raise EmployeeExists(
                f"{email} is already on the roster. Look the user up with "
                f'filter=userName eq "{email}" and update it instead.'
            ) from None
        return scim_user_update(
            agency=agency, employee=existing, state=state, actor=actor, revive=True
        ), False


def _set_active(*, employee: Employee, active: bool, actor: ActorLike) -> None:
    if active and employee.status != Employee.Status.ACTIVE:
        lifecycle.employee_reactivate(employee=employee, actor=actor, restore_seats=False)
        # Group seats follow the groups; then the agency's policy decides about the rest.
        grants.grants_retry_for(employee=employee, actor=actor)
        lifecycle.employee_restore_seats(employee=employee, actor=actor)
    elif not active and employee.status == Employee.Status.ACTIVE:
        lifecycle.employee_suspend(employee=employee, actor=actor, locked=True)
        # Always, and as a statement of its own after the lock: a grant committed by whoever held
        # the person's row just before is then seen (one indexed UPDATE, usually of no rows).
        grants.grants_on_suspend(employee=employee)
    else:
        return
    employee.status = Employee.Status.ACTIVE if active else Employee.Status.SUSPENDED
    employee.updated_at = timezone.now()


def scim_user_change(
    *, agency: Agency, user_id: str, actor: ActorLike, wanted: Callable[[Employee], UserState]
) -> Employee | None:
    """A PUT or PATCH: lock the user (in the token's scope), work out the wanted state from what is
    stored, and write it, all in one transaction. None when there is no such user here."""
    with transaction.atomic():
        employee = selectors.user_get(agency=agency, user_id=user_id, for_update=True)
        if employee is None:
            return None
        return scim_user_update(
            agency=agency, employee=employee, state=wanted(employee), actor=actor, locked=True
        )


def scim_user_update(
    *,
    agency: Agency,
    employee: Employee,
    state: UserState,
    actor: ActorLike,
    revive: bool = False,
    locked: bool = False,
) -> Employee:
    """Bring an employee to the state the IdP wants: a PUT, a PATCH, or a re-created user.

    ``locked``: the caller holds the row lock and passes the row with its profile (``_profile``).
    Returns the employee as written, with its profile attached, ready to render.
    """
    with transaction.atomic(savepoint=False):
        if not locked:
            employee = _locked_with_profile(employee.pk)
        profile: ScimProfile | None = employee._profile  # type: ignore[attr-defined]
        email = normalize_email(state.user_name)
        if email != employee.email:
            employee = lifecycle.employee_change_email(employee=employee, email=email, actor=actor)
        moved_to: Agency | None = None
        note = profile.placement_note if profile else ""
        wanted_place = (state.organization[:255], state.division[:255], state.department[:255])
        if profile is None or (profile.organization, profile.division, profile.department) != wanted_place:
            placement = place(
                root=agency,
                organization=state.organization,
                division=state.division,
                department=state.department,
            )
            note = placement.note
            if placement.agency is not None and placement.agency.pk != employee.agency_id:
                moved_to = placement.agency
        names = {
            "given_name": state.given_name[:150],
            "family_name": state.family_name[:150],
            "external_id": state.external_id[:255],
            "employee_number": state.employee_number[:64],
        }
        if moved_to is not None or any(getattr(employee, k) != v for k, v in names.items()):
            employee = employee_update(employee=employee, actor=actor, agency=moved_to, **names)
        employee._profile = _profile_write(  # type: ignore[attr-defined]
            employee=employee,
            profile=profile,
            values=_profile_values(state, note),
            actor=actor,
            revive=revive,
        )
        _set_active(employee=employee, active=state.active, actor=actor)
        if moved_to is not None and employee.status == Employee.Status.ACTIVE:
            grants.grants_retry_for(employee=employee, actor=actor)
    return employee


def scim_user_delete(
    *, agency: Agency, employee: Employee, actor: ActorLike, precondition: Precondition[Employee] = None
) -> None:
    """DELETE: the person is suspended (seats revoked, vendor deactivation queued), leaves every
    group, and the SCIM resource answers 404 from now on. The employee row and its history stay.
    ``precondition`` (If-Match) sees the locked row and may refuse before anything changes."""
    with transaction.atomic():
        employee = _locked_with_profile(employee.pk)
        if precondition is not None:
            precondition(employee)
        lifecycle.employee_suspend(employee=employee, actor=actor)
        grants.grants_on_suspend(employee=employee)
        for group in ScimGroup.objects.filter(memberships__employee=employee).order_by("pk"):
            _members_remove(group=group, employee_ids=[employee.pk], actor=actor)
            _touch(group)  # its members changed, so its version (updated_at) must move
        now = timezone.now()
        if employee._profile is None:  # type: ignore[attr-defined]
            ScimProfile.objects.create(employee=employee, deleted_at=now)
        else:
            ScimProfile.objects.filter(employee=employee).update(deleted_at=now, updated_at=now)
        audit_record(
            actor=actor,
            verb="scim.user.delete",
            target=employee,
            agency_id=employee.agency_id,
            after={"email": employee.email, "status": Employee.Status.SUSPENDED},
        )


# --- groups -----------------------------------------------------------------------------------------
def _resolve_members(*, agency: Agency, ids: list[str]) -> list[int]:
    found = members_in_scope(agency=agency, ids=ids)
    missing = [i for i in dict.fromkeys(ids) if i not in found]
    if missing:
        # The same answer for a user of another agency as for no user at all.
        raise ScimProblem(
            f"No user with id {missing[0]} exists here; create the user first.", 400, "invalidValue"
        )
    return list(dict.fromkeys(found[i] for i in ids))


def _members_add(*, group: ScimGroup, employee_ids: list[int], actor: ActorLike) -> list[int]:
    present = set(
        ScimGroupMember.objects.filter(group=group, employee_id__in=employee_ids).values_list(
            "employee_id", flat=True
        )
    )
    new = [pk for pk in employee_ids if pk not in present]
    if not new:
        return []
    ScimGroupMember.objects.bulk_create([ScimGroupMember(group=group, employee_id=pk) for pk in new])
    grants.grants_on_join(group=group, employee_ids=new, actor=actor)
    return new


def _members_remove(*, group: ScimGroup, employee_ids: list[int], actor: ActorLike) -> list[int]:
    gone = list(
        ScimGroupMember.objects.filter(group=group, employee_id__in=employee_ids).values_list(
            "employee_id", flat=True
        )
    )
    if not gone:
        return []
    ScimGroupMember.objects.filter(group=group, employee_id__in=gone).delete()
    grants.grants_on_leave(group=group, employee_ids=gone, actor=actor)
    return gone


def _audit_members(*, group: ScimGroup, added: list[int], removed: list[int], actor: ActorLike) -> None:
    if not added and not removed:
        return
    emails = dict(Employee.objects.filter(pk__in=[*added, *removed]).values_list("pk", "email"))
    audit_record(
        actor=actor,
        verb="scim.group.members",
        target=group,
        agency_id=group.agency_id,
        after={"added": sorted(emails[p] for p in added), "removed": sorted(emails[p] for p in removed)},
    )


def _check_name(display_name: str) -> str:
    name = (display_name or "").strip()
    if not name:
        raise InvalidInput("A group needs a displayName.")
    return name[:255]


def scim_group_create(
    *, agency: Agency, display_name: str, external_id: str, member_ids: list[str], actor: ActorLike
) -> ScimGroup:
    name = _check_name(display_name)
    with transaction.atomic():
        employee_ids = _resolve_members(agency=agency, ids=member_ids)
        group = ScimGroup.objects.create(
            agency=agency, display_name=name, external_id=external_id.strip()[:255]
        )
        audit_record(
            actor=actor,
            verb="scim.group.create",
            target=group,
            agency_id=agency.pk,
            after={"displayName": name, "externalId": group.external_id},
        )
        added = _members_add(group=group, employee_ids=employee_ids, actor=actor)
        _audit_members(group=group, added=added, removed=[], actor=actor)
    return group


def _rename(*, group: ScimGroup, display_name: str, external_id: str, actor: ActorLike) -> None:
    name = _check_name(display_name)
    external_id = external_id.strip()[:255]
    changes = {
        k: v for k, v in (("display_name", name), ("external_id", external_id)) if getattr(group, k) != v
    }
    if not changes:
        return
    before = {k: getattr(group, k) for k in changes}
    ScimGroup.objects.filter(pk=group.pk).update(**changes, updated_at=timezone.now())
    for k, v in changes.items():
        setattr(group, k, v)
    audit_record(
        actor=actor,
        verb="scim.group.update",
        target=group,
        agency_id=group.agency_id,
        before=before,
        after=changes,
    )


def scim_group_replace(
    *,
    agency: Agency,
    group: ScimGroup,
    display_name: str,
    external_id: str,
    member_ids: list[str],
    actor: ActorLike,
    precondition: Precondition[ScimGroup] = None,
) -> ScimGroup:
    """PUT: name, external id and the whole member list as given."""
    with transaction.atomic():
        group = ScimGroup.objects.select_for_update().get(pk=group.pk)
        if precondition is not None:
            precondition(group)
        _rename(group=group, display_name=display_name, external_id=external_id, actor=actor)
        wanted = _resolve_members(agency=agency, ids=member_ids)
        current = list(ScimGroupMember.objects.filter(group=group).values_list("employee_id", flat=True))
        removed = _members_remove(
            group=group, employee_ids=[p for p in current if p not in set(wanted)], actor=actor
        )
        added = _members_add(group=group, employee_ids=wanted, actor=actor)
        _audit_members(group=group, added=added, removed=removed, actor=actor)
        _touch(group)
    return group


def _touch(group: ScimGroup) -> None:
    ScimGroup.objects.filter(pk=group.pk).update(updated_at=timezone.now())


def scim_group_patch(
    *,
    agency: Agency,
    group: ScimGroup,
    patch: GroupPatch,
    actor: ActorLike,
    precondition: Precondition[ScimGroup] = None,
) -> ScimGroup:
    from provisioning.scim.filters import member_q

    with transaction.atomic():
        group = ScimGroup.objects.select_for_update().get(pk=group.pk)
        if precondition is not None:
            precondition(group)
        _rename(
            group=group,
            display_name=patch.display_name or group.display_name,
            external_id=patch.external_id if patch.external_id is not None else group.external_id,
            actor=actor,
        )
        added: list[int] = []
        removed: list[int] = []
        for change in patch.members:
            change: MemberChange
            if change.kind == "add":
                added += _members_add(
                    group=group, employee_ids=_resolve_members(agency=agency, ids=change.ids), actor=actor
                )
            elif change.kind == "replace":
                wanted = _resolve_members(agency=agency, ids=change.ids)
                current = ScimGroupMember.objects.filter(group=group).exclude(employee_id__in=wanted)
                removed += _members_remove(
                    group=group, employee_ids=list(current.values_list("employee_id", flat=True)), actor=actor
                )
                added += _members_add(group=group, employee_ids=wanted, actor=actor)
            else:
                members = ScimGroupMember.objects.filter(group=group)
                if change.kind == "remove":
                    # Ids that are not members (or not ours) are ignored: the end state is what was asked.
                    members = members.filter(employee__uuid__in=_valid_uuids(change.ids))
                elif change.kind == "remove_where":
                    members = members.filter(member_q(change.where))
                removed += _members_remove(
                    group=group, employee_ids=list(members.values_list("employee_id", flat=True)), actor=actor
                )
        _audit_members(
            group=group,
            added=[p for p in added if p not in set(removed)],
            removed=[p for p in removed if p not in set(added)],
            actor=actor,
        )
        if patch.members:
            _touch(group)
    return group


def _valid_uuids(ids: list[str]) -> list[str]:
    import uuid

    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid


def scim_group_delete(
    *, agency: Agency, group: ScimGroup, actor: ActorLike, precondition: Precondition[ScimGroup] = None
) -> None:
    """The group goes; its members leave it first, so seats it gave are given back."""
    with transaction.atomic():
        group = ScimGroup.objects.select_for_update().get(pk=group.pk)
        if precondition is not None:
            precondition(group)
        member_ids = list(ScimGroupMember.objects.filter(group=group).values_list("employee_id", flat=True))
        _members_remove(group=group, employee_ids=member_ids, actor=actor)
        mapped = [
            str(m.allocation) for m in group.pools.select_related("allocation__program", "allocation__agency")
        ]
        audit_record(
            actor=actor,
            verb="scim.group.delete",
            target=group,
            agency_id=group.agency_id,
            before={"displayName": group.display_name, "members": len(member_ids), "pools": mapped},
        )
        group.pools.all().delete()
        group.delete()
