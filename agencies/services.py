"""Every write to agencies, their domains, employees and staff roles."""

from __future__ import annotations

import re
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from agencies.models import (
    Agency,
    AgencyDomain,
    Employee,
    RegisteredDomain,
    RoleAssignment,
    RosterImport,
    RosterImportIssue,
)
from agencies.roster_csv import UPDATABLE, RosterChecker, RosterRow, Verdict, batches, read_rows
from agencies.selectors import agency_domain_for_email, email_domain_candidates
from audit.actors import Actor, ActorLike, as_actor
from audit.services import audit_record, audit_record_many
from core.db import constraint_violated
from core.errors import (
    DomainNotFederal,
    DomainTaken,
    EmailDomainUnknown,
    EmployeeExists,
    ForeignAgency,
    InvalidInput,
    InvalidTransition,
)

_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
TXT_PREFIX = "ai-seats-verification="
# Public mailbox providers: anyone can hold an address there, so no agency may claim them (a DNS
# proof would fail anyway, but only after the administrator has waited for it).
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "mail.com",
        "gmx.com",
        "zoho.com",
    }
)


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
    if PUBLIC_MAIL_DOMAINS.intersection(candidates):
        raise DomainNotFederal(
            f"{domain} is a public email service, not a federal agency's own domain. Add the domain "
            "of your agency's work email addresses, such as agency.gov."
        )
    registered = {r.domain: r for r in RegisteredDomain.objects.filter(domain__in=candidates)}
    for candidate in candidates:
        row = registered.get(candidate)
        if row is None:
            continue
        if not row.is_federal_executive:
            raise DomainNotFederal(
                f"{domain} is registered to {row.organization_name} ({row.domain_type}), "
                "not to a federal executive agency, so it cannot be an agency email domain. Add the "
                "domain of your agency's work email addresses instead."
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
    return check_domain_owner(agency=agency, email=email, owner=agency_domain_for_email(email))


def check_domain_owner(*, agency: Agency, email: str, owner: AgencyDomain | None) -> Agency:
    """``check_email_belongs`` with the owning domain already looked up (a roster at a time)."""
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
    domain_owner: AgencyDomain | None = None,
    savepoint: bool = True,
) -> Employee:
    """Put a person on an agency's roster. ``domain_owner``: the caller has already looked up the
    verified domain that owns the address (``agency_domain_for_email``); it is checked all the same.

    ``savepoint=False``: the caller's transaction has written nothing yet and ends at an
    ``EmployeeExists`` anyway, so the duplicate need not be undone inside it.
    """
    value = normalize_email(email)
    if (
        domain_owner is not None
        and domain_owner.verified_at is not None
        and domain_owner.domain in email_domain_candidates(value.rpartition("@")[2])
    ):
        check_domain_owner(agency=agency, email=value, owner=domain_owner)
    else:
        check_email_belongs(agency=agency, email=value)
    if agency.kind == Agency.Kind.AGGREGATE:
        raise InvalidInput("The OPM aggregate is not an agency and cannot hold employees.")
    try:
        with transaction.atomic(savepoint=savepoint):
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


# --- roster imports -------------------------------------------------------------------------------
@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    kept: int = 0
    issues: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.issues)


def employee_import_batch(
    *, agency: Agency, rows: list[RosterRow], actor: ActorLike, checker: RosterChecker | None = None
) -> BatchResult:
    """Create and update the people of one batch of roster rows; one audit row per change.

    Judges the rows again at write time (the roster may have moved since the dry run) and writes
    them set-based: one INSERT for the new people, one UPDATE per changed column set.
    """
    checker = checker or RosterChecker(agency)
    result = BatchResult()
    now = timezone.now()
    with transaction.atomic():
        verdicts = checker.check(rows)
        new = [v for v in verdicts if v.action == "create"]
        ids = _insert_employees(new, now)
        changed = [v for v in verdicts if v.action == "update" and v.employee is not None]
        updated: list[Employee] = []
        for verdict in changed:
            employee = verdict.employee
            assert employee is not None  # an update verdict always names the person
            for name, (_, value) in verdict.changes.items():
                setattr(employee, name, verdict.agency if name == "agency" else value)
            employee.updated_at = now
            updated.append(employee)
        if updated:
            Employee.objects.bulk_update(updated, [*UPDATABLE, "agency", "updated_at"], batch_size=1000)
        audit_record_many(
            actor=actor,
            verb="employee.create",
            target_type="agencies.employee",
            rows=[
                (
                    str(ids[v.email]),
                    v.agency.pk,  # type: ignore[union-attr]
                    v.email,
                    None,
                    {"email": v.email, "agency": v.agency.slug, "source": "csv"},  # type: ignore[union-attr]
                )
                for v in new
            ],
            at=now,
        )
        audit_record_many(
            actor=actor,
            verb="employee.update",
            target_type="agencies.employee",
            rows=[
                (
                    str(v.employee.pk),  # type: ignore[union-attr]
                    v.agency.pk,  # type: ignore[union-attr]
                    v.email,
                    {name: old for name, (old, _) in v.changes.items()},
                    {name: value for name, (_, value) in v.changes.items()},
                )
                for v in changed
            ],
            at=now,
        )
    result.created, result.updated = len(new), len(changed)
    result.kept = sum(1 for v in verdicts if v.action == "keep")
    result.issues = [
        (v.row.line, v.row.email[:254], v.message[:500]) for v in verdicts if v.action == "invalid"
    ]
    return result


# The employee columns a roster row fills, in COPY order.
COPY_COLUMNS = (
    "uuid",
    "agency_id",
    "email",
    "given_name",
    "family_name",
    "external_id",
    "employee_number",
    "status",
    "source",
    "created_at",
    "updated_at",
)


def _insert_employees(verdicts: list[Verdict], now: datetime) -> dict[str, int]:
    """Insert the people of ``create`` verdicts; returns their ids by email.

    On PostgreSQL one COPY and one indexed lookup of the new ids, instead of a thousand-row
    INSERT the ORM builds value by value and a model instance per person. A duplicate email
    still raises IntegrityError, so the caller's retry (judge the batch again) is unchanged.
    """
    if not verdicts:
        return {}
    if connection.vendor != "postgresql":
        people = [
            Employee(
                agency=v.agency,
                email=v.email,
                given_name=v.row.given_name,
                family_name=v.row.family_name,
                employee_number=v.row.employee_number,
                external_id=v.row.external_id,
                source=Employee.Source.CSV,
            )
            for v in verdicts
        ]
        Employee.objects.bulk_create(people, batch_size=1000)
        return {person.email: person.pk for person in people}
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY agencies_employee ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for v in verdicts:
                copy.write_row(
                    (
                        uuid.uuid4(),
                        v.agency.pk,  # type: ignore[union-attr]
                        v.email,
                        v.row.given_name,
                        v.row.family_name,
                        v.row.external_id,
                        v.row.employee_number,
                        Employee.Status.ACTIVE.value,
                        Employee.Source.CSV.value,
                        now,
                        now,
                    )
                )
        cursor.execute(
            "SELECT email, id FROM agencies_employee WHERE email = ANY(%s)", [[v.email for v in verdicts]]
        )
        return dict(cursor.fetchall())


def _issues(roster_import: RosterImport, issues: list[tuple[int, str, str]], *, during_import: bool) -> None:
    RosterImportIssue.objects.bulk_create(
        [
            RosterImportIssue(
                roster_import=roster_import,
                line=line,
                email=email,
                message=message,
                found_during_import=during_import,
            )
            for line, email, message in issues
        ]
    )


# How long a worker holds a roster import between batches before another may take it over.
IMPORT_LEASE = timedelta(minutes=5)


def roster_import_create(
    *, agency: Agency, upload: File, actor: ActorLike, background: bool = True
) -> RosterImport:
    """Keep an uploaded roster and queue its dry run. Refuses a file that cannot be read at all.

    ``background=False`` leaves the check to the caller (the import_roster command runs it).
    """
    upload.seek(0)
    total = sum(1 for _ in read_rows(upload))
    if total == 0:
        raise InvalidInput(
            "The file has a header but no people. Add one line per person, then upload it again."
        )
    upload.seek(0)
    who = as_actor(actor)
    with transaction.atomic():
        roster_import = RosterImport(
            agency=agency,
            created_by_id=who.user_id,
            actor_label=who.label[:255],
            filename=Path(upload.name or "roster.csv").name[-255:],
            total_rows=total,
        )
        roster_import.file.save(f"{roster_import.uuid}.csv", upload, save=False)
        roster_import.save()
        audit_record(
            actor=actor,
            verb="roster_import.upload",
            target=roster_import,
            agency_id=agency.pk,
            after={"filename": roster_import.filename, "rows": total},
        )
        if background:
            transaction.on_commit(lambda: _enqueue("roster_import_check", roster_import.pk))
    return roster_import


def _enqueue(task_name: str, roster_import_id: int) -> None:
    """Queue an import's next step; a lost message is found by ``roster_imports_sweep``."""
    from agencies import tasks
    from core.queue import publish

    publish(getattr(tasks, task_name), (roster_import_id,), what=f"roster import {roster_import_id}")


# An import waiting (or stopped) this long with no worker holding it lost its message.
IMPORT_SWEEP_GRACE = timedelta(minutes=10)


def roster_imports_sweep(*, now: datetime | None = None) -> int:
    """Queue again the imports no worker holds and nothing has touched for IMPORT_SWEEP_GRACE: a
    message lost at upload, or a worker gone for good. A duplicate is harmless (leases)."""
    now = now or timezone.now()
    stale = RosterImport.objects.filter(
        state__in=[RosterImport.State.CHECKING, RosterImport.State.QUEUED, RosterImport.State.IMPORTING],
        updated_at__lt=now - IMPORT_SWEEP_GRACE,
    ).filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
    count = 0
    for pk, state in stale.values_list("pk", "state"):
        step = "roster_import_check" if state == RosterImport.State.CHECKING else "roster_import_run"
        _enqueue(step, pk)
        count += 1
    return count


def _rows(roster_import: RosterImport) -> Iterator[RosterRow]:
    with roster_import.file.open("rb") as stream:
        yield from read_rows(stream)


def _take_lease(pk: int, state: str, **changes: object) -> bool:
    """Hold the import for this worker unless another holds a live lease; renewed each batch."""
    now = timezone.now()
    return bool(
        RosterImport.objects.filter(pk=pk, state=state)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + IMPORT_LEASE, updated_at=now, **changes)
    )


def roster_import_check(
    *, roster_import: RosterImport, batch_size: int = 1000, on_batch: Callable[[int], None] | None = None
) -> RosterImport:
    """The dry run: judge every row, count what would happen, keep each problem. Writes no people.

    Starts over if an earlier run stopped part-way: it is only a report. ``on_batch`` hears how
    many rows each batch held (a command's progress bar).
    """
    pk = roster_import.pk
    zero = {"checked_rows": 0, "will_create": 0, "will_update": 0, "will_keep": 0, "invalid_rows": 0}
    if not _take_lease(pk, RosterImport.State.CHECKING, **zero):
        roster_import.refresh_from_db()
        return roster_import
    RosterImportIssue.objects.filter(roster_import_id=pk).delete()
    checker = RosterChecker(roster_import.agency)
    try:
        for batch in batches(_rows(roster_import), batch_size):
            verdicts = checker.check(batch)
            counts = Counter(v.action for v in verdicts)
            now = timezone.now()
            with transaction.atomic():
                moved = RosterImport.objects.filter(pk=pk, state=RosterImport.State.CHECKING).update(
                    checked_rows=F("checked_rows") + len(batch),
                    will_create=F("will_create") + counts["create"],
                    will_update=F("will_update") + counts["update"],
                    will_keep=F("will_keep") + counts["keep"],
                    invalid_rows=F("invalid_rows") + counts["invalid"],
                    leased_until=now + IMPORT_LEASE,
                    updated_at=now,
                )
                if not moved:  # cancelled meanwhile
                    break
                _issues(
                    roster_import,
                    [
                        (v.row.line, v.row.email[:254], v.message[:500])
                        for v in verdicts
                        if v.action == "invalid"
                    ],
                    during_import=False,
                )
            if on_batch:
                on_batch(len(batch))
    except InvalidInput as exc:
        RosterImport.objects.filter(pk=pk).update(
            state=RosterImport.State.FAILED, error=exc.message, leased_until=None
        )
    else:
        RosterImport.objects.filter(pk=pk, state=RosterImport.State.CHECKING).update(
            state=RosterImport.State.CHECKED, checked_at=timezone.now(), leased_until=None
        )
    roster_import.refresh_from_db()
    return roster_import


def roster_import_start(
    *, roster_import: RosterImport, actor: ActorLike, background: bool = True
) -> RosterImport:
    """After the dry run, import for real (in the background unless the caller runs it)."""
    with transaction.atomic():
        started = RosterImport.objects.filter(pk=roster_import.pk, state=RosterImport.State.CHECKED).update(
            state=RosterImport.State.QUEUED, updated_at=timezone.now()
        )
        if not started:
            roster_import.refresh_from_db()
            raise InvalidTransition(
                f"This import is {roster_import.get_state_display().lower()}; "
                "only a checked file can be imported."
            )
        audit_record(
            actor=actor,
            verb="roster_import.start",
            target=roster_import,
            agency_id=roster_import.agency_id,
            after={"rows": roster_import.total_rows},
        )
        if background:
            transaction.on_commit(lambda: _enqueue("roster_import_run", roster_import.pk))
    roster_import.refresh_from_db()
    return roster_import


def roster_import_run(
    *, roster_import: RosterImport, batch_size: int = 2000, on_batch: Callable[[int], None] | None = None
) -> RosterImport:
    """Import the rows in batches; each batch commits its people and the progress counters together.

    One worker at a time holds the import (a lease renewed every batch). A worker that died
    part-way lets the lease run out, and the next run resumes after the last committed batch.
    Stops between batches when the import is cancelled.
    """
    pk = roster_import.pk
    now = timezone.now()
    RosterImport.objects.filter(pk=pk, state=RosterImport.State.QUEUED).update(
        state=RosterImport.State.IMPORTING, started_at=now
    )
    if not _take_lease(pk, RosterImport.State.IMPORTING):
        roster_import.refresh_from_db()
        return roster_import
    roster_import.refresh_from_db()
    actor = roster_import.created_by or Actor.system(f"import by {roster_import.actor_label}")
    checker = RosterChecker(roster_import.agency)
    rows = islice(_rows(roster_import), roster_import.processed_rows, None)
    for batch in batches(rows, batch_size):
        for attempt in range(3):
            try:
                with transaction.atomic(durable=True):
                    if not RosterImport.objects.filter(pk=pk, state=RosterImport.State.IMPORTING).exists():
                        roster_import.refresh_from_db()
                        return roster_import
                    result = employee_import_batch(
                        agency=roster_import.agency, rows=batch, actor=actor, checker=checker
                    )
                    _issues(roster_import, result.issues, during_import=True)
                    now = timezone.now()
                    RosterImport.objects.filter(pk=pk).update(
                        processed_rows=F("processed_rows") + len(batch),
                        created_rows=F("created_rows") + result.created,
                        updated_rows=F("updated_rows") + result.updated,
                        kept_rows=F("kept_rows") + result.kept,
                        skipped_rows=F("skipped_rows") + result.skipped,
                        leased_until=now + IMPORT_LEASE,
                        updated_at=now,
                    )
                break
            except IntegrityError:
                # Someone (a SAML sign-in, SCIM) added one of these people between the check and
                # the insert: judge the batch again, and they are updates now.
                checker.first_line.clear()
                if attempt == 2:
                    raise
        if on_batch:
            on_batch(len(batch))
    now = timezone.now()
    with transaction.atomic():
        finished = RosterImport.objects.filter(pk=pk, state=RosterImport.State.IMPORTING).update(
            state=RosterImport.State.DONE, finished_at=now, leased_until=None
        )
        roster_import.refresh_from_db()
        if finished:
            audit_record(
                actor=actor,
                verb="roster_import.finish",
                target=roster_import,
                agency_id=roster_import.agency_id,
                after={
                    "created": roster_import.created_rows,
                    "updated": roster_import.updated_rows,
                    "kept": roster_import.kept_rows,
                    "skipped": roster_import.skipped_rows,
                },
                at=now,
            )
    return roster_import


def roster_import_cancel(*, roster_import: RosterImport, actor: ActorLike) -> RosterImport:
    """Stop an import before or while it runs; batches already committed stay."""
    open_states = (
        RosterImport.State.CHECKING,
        RosterImport.State.CHECKED,
        RosterImport.State.QUEUED,
        RosterImport.State.IMPORTING,
    )
    with transaction.atomic():
        cancelled = RosterImport.objects.filter(pk=roster_import.pk, state__in=open_states).update(
            state=RosterImport.State.CANCELLED, finished_at=timezone.now(), leased_until=None
        )
        roster_import.refresh_from_db()
        if not cancelled:
            raise InvalidTransition(f"This import is already {roster_import.get_state_display().lower()}.")
        audit_record(
            actor=actor,
            verb="roster_import.cancel",
            target=roster_import,
            agency_id=roster_import.agency_id,
            after={"processed": roster_import.processed_rows},
        )
    return roster_import
