"""Reading a roster CSV and judging its rows, a batch at a time, with a few queries per batch.

``RosterChecker`` answers, for each row, what importing it would do (create, update, keep) or
why it cannot be imported, in words staff can act on. The dry run shows those answers; the
import asks again at write time (``employee_import_batch``), since the roster may have moved.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import IO

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from agencies.models import Agency, Employee
from agencies.selectors import agency_domains_for
from core.errors import DomainError, InvalidInput

COLUMNS = {
    "email": ("email", "e-mail", "email_address", "work_email", "mail"),
    "given_name": ("given_name", "first_name", "firstname", "given"),
    "family_name": ("family_name", "last_name", "lastname", "surname", "family"),
    "employee_number": ("employee_number", "employee_id", "employee_no"),
    "external_id": ("external_id", "idp_id", "object_id"),
    "bureau": ("bureau", "office", "component", "sub_agency"),
}
UPDATABLE = ("given_name", "family_name", "employee_number", "external_id")
MAX_LENGTH = {"given_name": 150, "family_name": 150, "employee_number": 64, "external_id": 255}
SAMPLE = (
    "email,given_name,family_name,employee_number,external_id,bureau\n"
    "ada.lovelace@agency.gov,Ada,Lovelace,E-1001,,\n"
)


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    given_name: str = ""
    family_name: str = ""
    employee_number: str = ""
    external_id: str = ""
    bureau: str = ""


@dataclass
class Verdict:
    """What importing one row would do: ``create``, ``update``, ``keep`` or ``invalid``."""

    row: RosterRow
    action: str
    message: str = ""
    email: str = ""
    agency: Agency | None = None
    employee: Employee | None = None
    changes: dict[str, tuple[object, object]] = field(default_factory=dict)


def _normalise_header(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def read_rows(stream: IO[bytes]) -> Iterator[RosterRow]:
    """The rows of a roster file, numbered as a spreadsheet numbers them (header = line 1).

    Raises InvalidInput when the file is not UTF-8 text or has no email column.
    """
    # io's C decoder, not codecs' Python one (a third of a 100,000-row import's reading time);
    # newline="" leaves line ends inside quoted cells to the csv module, as codecs did.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput(
                "The file is empty. Save the roster as CSV with a header line, then upload it again."
            )
        names = [_normalise_header(h) for h in header]
        where: dict[str, int] = {}
        for column, aliases in COLUMNS.items():
            for alias in aliases:
                if alias in names:
                    where[column] = names.index(alias)
                    break
        if "email" not in where:
            raise InvalidInput(
                "The first line must name the columns, and one must be “email”. "
                f"This file's first line reads: {', '.join(header)[:200]}."
            )
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            cells = {column: (values[i].strip() if i < len(values) else "") for column, i in where.items()}
            yield RosterRow(line=reader.line_num, **cells)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not UTF-8 text. In your spreadsheet, save it as “CSV UTF-8”, then upload it again."
        ) from exc
    except csv.Error as exc:
        raise InvalidInput(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from exc
    finally:
        text.detach()  # the caller's stream stays open (the upload is read twice)


def _on_rosters(emails: set[str]) -> QuerySet[Employee]:
    """The people with these emails. On PostgreSQL the emails go as one array parameter
    (``= ANY``): a thousand-value IN list costs more to bind in Python than to run."""
    if connection.vendor == "postgresql":
        any_of = RawSQL('"agencies_employee"."email" = ANY(%s)', [list(emails)], output_field=BooleanField())
        return Employee.objects.filter(any_of)
    return Employee.objects.filter(email__in=emails)


def batches(rows: Iterable[RosterRow], size: int) -> Iterator[list[RosterRow]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


class RosterChecker:
    """Judges roster rows for one agency; keeps what it learns (offices, domains) between batches."""

    def __init__(self, agency: Agency) -> None:
        self.agency = agency
        self.offices = list(Agency.objects.subtree_of(agency).exclude(kind=Agency.Kind.AGGREGATE))
        self.by_key: dict[str, Agency] = {}
        for office in sorted(self.offices, key=lambda a: a.path, reverse=True):
            for key in (office.slug, office.abbreviation, office.name):
                if key:
                    self.by_key[key.strip().lower()] = office
        self.owners: dict[str, object] = {}
        self.domains_allowed: set[tuple[int, str]] = set()
        self.first_line: dict[str, int] = {}

    def office(self, value: str) -> Agency | None:
        return self.by_key.get(value.strip().lower()) if value else self.agency

    def check(self, rows: list[RosterRow]) -> list[Verdict]:
        """Judge a batch: one query for its email domains, one for people already on a roster."""
        from agencies.services import check_domain_owner, normalize_email

        emails: dict[int, str] = {}
        verdicts: dict[int, Verdict] = {}
        for row in rows:
            try:
                emails[row.line] = normalize_email(row.email)
            except DomainError as exc:
                verdicts[row.line] = Verdict(row, "invalid", exc.message or "Missing email address.")
        new_domains = {email.rpartition("@")[2] for email in emails.values()} - set(self.owners)
        if new_domains:
            self.owners.update(agency_domains_for(new_domains))
        existing = {e.email: e for e in _on_rosters(set(emails.values())).select_related("agency")}
        for row in rows:
            if row.line in verdicts:
                continue
            email = emails[row.line]
            earlier = self.first_line.setdefault(email, row.line)
            if earlier != row.line:
                verdicts[row.line] = Verdict(
                    row, "invalid", f"{email} appears earlier in the file, on line {earlier}."
                )
                continue
            verdicts[row.line] = self._judge(row, email, existing.get(email), check_domain_owner)
        return [verdicts[row.line] for row in rows]

    def _judge(self, row: RosterRow, email: str, employee: Employee | None, check_domain_owner) -> Verdict:  # type: ignore[no-untyped-def]
        office = self.office(row.bureau)
        if office is None:
            return Verdict(
                row,
                "invalid",
                f"“{row.bureau}” is not an office of {self.agency.name}. Use an office's short name, "
                "abbreviation or full name as the Roster page lists them, or leave the column empty.",
            )
        too_long = [name for name, limit in MAX_LENGTH.items() if len(getattr(row, name)) > limit]
        if too_long:
            return Verdict(row, "invalid", f"{', '.join(too_long)} is too long.")
        if employee is not None:
            if not employee.agency.is_within(self.agency):
                return Verdict(
                    row,
                    "invalid",
                    f"{email} is already on the roster of {employee.agency.name}, "
                    f"outside {self.agency.name}. "
                    "People move between agencies by leaving one and joining the other.",
                )
            target = office if row.bureau else employee.agency
            changes = {
                name: (getattr(employee, name), getattr(row, name))
                for name in UPDATABLE
                if getattr(row, name) and getattr(row, name) != getattr(employee, name)
            }
            if target.pk != employee.agency_id:
                changes["agency"] = (employee.agency.slug, target.slug)
            return Verdict(row, "update" if changes else "keep", "", email, target, employee, changes)
        domain = email.rpartition("@")[2]
        if (office.pk, domain) not in self.domains_allowed:
            try:
                check_domain_owner(agency=office, email=email, owner=self.owners.get(domain))
            except DomainError as exc:
                return Verdict(row, "invalid", exc.message, email)
            # The answer depends only on the office and the domain's owner (kept for the file).
            self.domains_allowed.add((office.pk, domain))
        return Verdict(row, "create", "", email, office)
