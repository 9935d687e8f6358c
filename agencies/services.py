"""Every write to agencies, their domains, employees and staff roles."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from agencies.models import Agency, AgencyDomain, Employee, RegisteredDomain, RoleAssignment
from agencies.selectors import agency_domain_for_email
from audit.actors import ActorLike
from audit.services import audit_record
from core.db import constraint_violated
from core.errors import (
    DomainNotFederal,
    DomainTaken,
    EmailDomainUnknown,
    EmployeeExists,
    ForeignAgency,
    InvalidInput,
)

_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TXT_PREFIX = "ai-seats-verification="


# --- agencies -------------------------------------------------------------------------------------
def agency_path_for(agency: Agency) -> str:
    parent_path = agency.parent.path if agency.parent is not None else "/"
    return f"{parent_path}{agency.pk}/"


@transaction.atomic(savepoint=False)
def _agency_insert(*, agency: Agency) -> Agency:
    # The path needs the row's id, which only the insert gives; a placeholder keeps the
    # unique index happy for the instant between the two statements.
    agency.path = f"~{secrets.token_hex(8)}"
    agency.save(force_insert=True)
    agency.path = agency_path_for(agency)
    agency.depth = agency.path.count("/") - 2
    Agency.objects.filter(pk=agency.pk).update(path=agency.path, depth=agency.depth)
    return agency


def agency_create(
    *,
    parent: Agency,
    name: str,
    actor: ActorLike,
    kind: str = Agency.Kind.OFFICE,
    abbreviation: str = "",
    slug: str = "",
) -> Agency:
    """Add a bureau or office under an existing agency (departments come from OPM data)."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give the new office a name.")
    if kind not in (Agency.Kind.BUREAU, Agency.Kind.OFFICE):
        raise InvalidInput("Only bureaus and offices can be added under an agency.")
    slug = slugify(slug or f"{parent.abbreviation or parent.slug} {name}")[:80].rstrip("-")
    with transaction.atomic():
        if Agency.objects.filter(slug=slug).exists():
            raise InvalidInput(f"The short name {slug!r} is taken; choose another.")
        agency = _agency_insert(
            agency=Agency(parent=parent, name=name, kind=kind, abbreviation=abbreviation, slug=slug)
        )
        audit_record(
            actor=actor,
            verb="agency.create",
            target=agency,
            agency_id=agency.pk,
            after={"name": name, "parent": parent.slug, "kind": kind},
        )
    return agency


POLICY_FIELDS = (
    "claims_require_approval",
    "inactivity_reclaim_days",
    "reclaim_grace_days",
    "restore_seats_on_reactivation",
)


def agency_update_policy(*, agency: Agency, actor: ActorLike, **changes: object) -> Agency:
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"Not a policy setting: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency.pk)
        before = {f: getattr(locked, f) for f in changes}
        after = {f: v for f, v in changes.items() if before[f] != v}
        if not after:
            return locked
        for field_name, value in after.items():
            setattr(locked, field_name, value)
        locked.save(update_fields=[*after, "updated_at"])
        audit_record(
            actor=actor,
            verb="agency.policy",
            target=locked,
            agency_id=locked.pk,
            before={f: before[f] for f in after},
            after=after,
        )
    return locked


# --- domains --------------------------------------------------------------------------------------
def normalize_domain(domain: str) -> str:
    value = (domain or "").strip().lower().rstrip(".")
    if value.startswith("@"):
        value = value[1:]
    if not _DOMAIN_RE.match(value):
        raise InvalidInput(f"{domain!r} is not a domain name such as agency.gov.")
    return value


def check_domain_may_be_federal(domain: str) -> RegisteredDomain | None:
    """Refuse any domain the .gov registry lists as not federal-executive.

    A .gov domain must be a registered Federal - Executive domain (or a subdomain of one);
    domains outside .gov (such as .mil) are allowed but need DNS proof.
    """
    labels = domain.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    registered = {r.domain: r for r in RegisteredDomain.objects.filter(domain__in=candidates)}
    for candidate in candidates:
        row = registered.get(candidate)
        if row is None:
            continue
        if not row.is_federal_executive:
            raise DomainNotFederal(
                f"{domain} is registered to {row.organization_name} ({row.domain_type}), "
                "not to a federal executive agency, so it cannot be an agency email domain."
            )
        return row
    if domain.endswith(".gov"):
        raise DomainNotFederal(
            f"{domain} is not in the .gov registry's list of federal executive domains. "
            "Check the spelling, or ask GSA to refresh the registry data."
        )
    return None


def agency_domain_add(
    *,
    agency: Agency,
    domain: str,
    actor: ActorLike,
    method: str = AgencyDomain.Method.DNS_TXT,
    verified_at: datetime | None = None,
) -> AgencyDomain:
    """Claim an email domain for an agency; DNS-verified domains start unverified."""
    value = normalize_domain(domain)
    check_domain_may_be_federal(value)
    if agency.kind == Agency.Kind.AGGREGATE:
        raise InvalidInput("The OPM aggregate is not an agency and cannot hold domains.")
    token = secrets.token_urlsafe(24) if method == AgencyDomain.Method.DNS_TXT else ""
    try:
        with transaction.atomic():
            row = AgencyDomain.objects.create(
                domain=value,
                agency=agency,
                method=method,
                verification_token=token,
                verified_at=verified_at,
            )
            audit_record(
                actor=actor,
                verb="domain.add",
                target=row,
                agency_id=agency.pk,
                after={"domain": value, "method": method, "verified": verified_at is not None},
            )
    except IntegrityError as exc:
        if constraint_violated(
            exc, "agencies_agencydomain_one_agency_per_domain", "agencies_agencydomain.domain"
        ):
            owner = AgencyDomain.objects.filter(domain=value).select_related("agency").first()
            where = f" to {owner.agency.name}" if owner else ""
            raise DomainTaken(
                f"{value} already belongs{where}. A domain can belong to one agency only; "
                "ask GSA to move it if it is listed under the wrong agency."
            ) from exc
        raise
    return row


def agency_domain_verify(
    *, agency_domain: AgencyDomain, txt_records: Iterable[str], actor: ActorLike
) -> AgencyDomain:
    """Mark a domain verified when one of its TXT records carries the verification token."""
    if agency_domain.verified_at is not None:
        return agency_domain
    expected = f"{TXT_PREFIX}{agency_domain.verification_token}"
    if not agency_domain.verification_token or expected not in {r.strip() for r in txt_records}:
        raise InvalidInput(
            f"No TXT record on {agency_domain.domain} reads {expected!r} yet. Add it at your "
            "DNS provider, wait for it to propagate, then try again."
        )
    now = timezone.now()
    with transaction.atomic():
        updated = AgencyDomain.objects.filter(pk=agency_domain.pk, verified_at__isnull=True).update(
            verified_at=now
        )
        if updated:
            audit_record(
                actor=actor,
                verb="domain.verify",
                target=agency_domain,
                agency_id=agency_domain.agency_id,
                after={"verified_at": now.isoformat()},
            )
    agency_domain.refresh_from_db()
    return agency_domain


# --- employees ------------------------------------------------------------------------------------
def normalize_email(email: str) -> str:
    value = (email or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise InvalidInput(f"{email!r} is not an email address.") from exc
    return value


def check_email_belongs(*, agency: Agency, email: str) -> Agency:
    """The email's domain must be a verified domain inside the agency's department.

    Returns the agency that owns the domain. Agency A may never hold a person whose address is
    on agency B's domain: that is how one agency's IdP could hand out another's seats.
    """
    owner = agency_domain_for_email(email)
    if owner is None:
        raise EmailDomainUnknown(
            f"{email.rpartition('@')[2]} is not a verified email domain of any agency. "
            "An agency administrator can add and verify it under Domains."
        )
    root_id = agency.ancestor_ids()[0]
    if owner.agency.ancestor_ids()[0] != root_id:
        raise ForeignAgency(
            f"{email} belongs to {owner.agency.name}, not to {agency.name}; "
            "people are onboarded by their own agency."
        )
    return owner.agency


EMPLOYEE_FIELDS = ("given_name", "family_name", "external_id", "employee_number")


def employee_create(
    *,
    agency: Agency,
    email: str,
    source: str,
    actor: ActorLike,
    given_name: str = "",
    family_name: str = "",
    external_id: str = "",
    employee_number: str = "",
    user: User | None = None,
) -> Employee:
    value = normalize_email(email)
    check_email_belongs(agency=agency, email=value)
    if agency.kind == Agency.Kind.AGGREGATE:
        raise InvalidInput("The OPM aggregate is not an agency and cannot hold employees.")
    try:
        with transaction.atomic():
            employee = Employee.objects.create(
                agency=agency,
                email=value,
                given_name=given_name.strip()[:150],
                family_name=family_name.strip()[:150],
                external_id=external_id.strip()[:255],
                employee_number=employee_number.strip()[:64],
                source=source,
                user=user,
            )
            audit_record(
                actor=actor,
                verb="employee.create",
                target=employee,
                agency_id=agency.pk,
                after={"email": value, "agency": agency.slug, "source": source},
            )
    except IntegrityError as exc:
        if constraint_violated(exc, "agencies_employee_unique_email", "agencies_employee.email"):
            raise EmployeeExists(f"{value} is already on the roster.") from exc
        raise
    return employee


def employee_update(
    *, employee: Employee, actor: ActorLike, agency: Agency | None = None, **changes: str
) -> Employee:
    """Change names, ids or the employee's office (within their department)."""
    unknown = set(changes) - set(EMPLOYEE_FIELDS)
    if unknown:
        raise InvalidInput(f"Cannot change {', '.join(sorted(unknown))} here.")
    with transaction.atomic():
        locked = Employee.objects.select_for_update().select_related("agency").get(pk=employee.pk)
        before: dict[str, object] = {}
        after: dict[str, object] = {}
        for field_name, value in changes.items():
            value = (value or "").strip()
            if getattr(locked, field_name) != value:
                before[field_name], after[field_name] = getattr(locked, field_name), value
                setattr(locked, field_name, value)
        if agency is not None and agency.pk != locked.agency_id:
            if agency.ancestor_ids()[0] != locked.agency.ancestor_ids()[0]:
                raise ForeignAgency(
                    f"{locked.email} cannot move to {agency.name}: people move between agencies "
                    "by leaving one and joining the other."
                )
            before["agency"], after["agency"] = locked.agency.slug, agency.slug
            locked.agency = agency
        if not after:
            return locked
        locked.save()
        audit_record(
            actor=actor,
            verb="employee.update",
            target=locked,
            agency_id=locked.agency_id,
            before=before,
            after=after,
        )
    return locked


def employee_touch(*, employee: Employee, at: datetime | None = None) -> None:
    """Note that the person was seen (sign-in, vendor activity); not an audited change."""
    Employee.objects.filter(pk=employee.pk).update(last_seen_at=at or timezone.now())


# --- staff roles ----------------------------------------------------------------------------------
def role_assign(*, user: User, role: str, actor: ActorLike, agency: Agency | None = None) -> RoleAssignment:
    if role == RoleAssignment.Role.GSA_ADMIN and agency is not None:
        raise InvalidInput("GSA administrators hold every agency; do not name one.")
    if role != RoleAssignment.Role.GSA_ADMIN and agency is None:
        raise InvalidInput("Name the agency this role applies to.")
    with transaction.atomic():
        assignment, created = RoleAssignment.objects.get_or_create(user=user, role=role, agency=agency)
        if created:
            audit_record(
                actor=actor,
                verb="role.assign",
                target=assignment,
                agency_id=agency.pk if agency else None,
                after={"user": user.get_username(), "role": role},
            )
    return assignment


def role_revoke(*, assignment: RoleAssignment, actor: ActorLike) -> None:
    with transaction.atomic():
        deleted, _ = RoleAssignment.objects.filter(pk=assignment.pk).delete()
        if deleted:
            audit_record(
                actor=actor,
                verb="role.revoke",
                target=assignment,
                agency_id=assignment.agency_id,
                before={"user": assignment.user.get_username(), "role": assignment.role},
            )
