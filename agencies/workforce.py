"""A deterministic synthetic workforce sized by the real OPM headcounts, for scale runs.

Every OPM sub-agency gets as many employees as FedScope counted in March 2025 (times an
optional scale factor), with addresses on the agency's own .gov domain. The 127 people OPM
folds into its "10 or fewer" row go to the small agencies whose own March 2025 count is zero.

This is load-test fixture data, written with COPY on PostgreSQL (bulk inserts elsewhere)
rather than through the services: two million audited service calls would measure the
generator, not the platform. The rows are marked (``external_id`` starts with ``syn-``) so a
second run can replace them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from agencies.federal_data import AGGREGATE_CODE, DATA_DIR, build_plan
from agencies.models import Agency, AgencyDomain, Employee

SYNTHETIC_PREFIX = "syn-"
NAMES_FILE = DATA_DIR / "synthetic-names.txt"


COLUMNS = (
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


@dataclass(frozen=True)
class Quota:
    """How many synthetic employees one agency node gets, and on which domain."""

    agency_id: int
    count: int
    domain: str
    real_domain: bool


def primary_domains() -> dict[int, str]:
    """Each agency's most plausible email domain: its slug's or abbreviation's, else the shortest."""
    by_agency: dict[int, list[str]] = {}
    for agency_id, domain in AgencyDomain.objects.filter(verified_at__isnull=False).values_list(
        "agency_id", "domain"
    ):
        by_agency.setdefault(agency_id, []).append(domain)
    names = {a.pk: {a.slug, a.abbreviation.lower()} for a in Agency.objects.only("slug", "abbreviation")}
    chosen = {}
    for agency_id, domains in by_agency.items():
        preferred = [d for d in domains if d.split(".")[0] in names.get(agency_id, set())]
        chosen[agency_id] = min(preferred or domains, key=lambda d: (len(d), d))
    return chosen


def plan_quotas(scale: float = 1.0) -> list[Quota]:
    """Quotas per agency node from the shipped OPM data and the loaded tree."""
    plan = build_plan()
    agencies = {a.slug: a for a in Agency.objects.only("pk", "slug", "parent_id", "opm_code")}
    by_pk = {a.pk: a for a in agencies.values()}
    domains = primary_domains()

    def domain_for(agency: Agency) -> tuple[str, bool]:
        node: Agency | None = agency
        while node is not None:
            if node.pk in domains:
                return domains[node.pk], True
            node = by_pk.get(node.parent_id) if node.parent_id else None
        return f"{agency.slug}.example", False

    counts: dict[int, int] = {}
    aggregate = 0
    for spec in plan.agencies.values():
        if not spec.own_headcount:
            continue
        if spec.key == AGGREGATE_CODE:
            aggregate = spec.own_headcount
            continue
        counts[agencies[spec.slug].pk] = spec.own_headcount
    # OPM's "10 or fewer" row: spread over the small agencies it hides (zero count of their own).
    small = sorted(
        agencies[s.slug].pk
        for s in plan.agencies.values()
        if s.opm_code and s.parent_key is None and s.headcount == 0 and agencies[s.slug].pk in domains
    )
    for index in range(aggregate):
        target = small[index % len(small)]
        counts[target] = counts.get(target, 0) + 1

    quotas = []
    for agency_id, count in sorted(counts.items()):
        scaled = round(count * scale)
        if scaled:
            domain, real = domain_for(by_pk[agency_id])
            quotas.append(Quota(agency_id=agency_id, count=scaled, domain=domain, real_domain=real))
    return quotas


def _names() -> tuple[list[str], list[str]]:
    lists = {}
    for line in NAMES_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, words = line.partition(":")
            lists[key.strip()] = words.split()
    return lists["given"], lists["family"]


def synthetic_rows(quotas: list[Quota], seed: int, now: datetime) -> Iterator[tuple]:
    """Deterministic rows: the same seed and data always give the same people."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    given_names, family_names = _names()
    index = 0
    for quota in quotas:
        for _ in range(quota.count):
            index += 1
            given, family = rng.choice(given_names), rng.choice(family_names)
            yield (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                quota.agency_id,
                f"{given}.{family}.{index}@{quota.domain}".lower(),
                given,
                family,
                f"{SYNTHETIC_PREFIX}{index}",
                f"S{index:07d}",
                Employee.Status.ACTIVE,
                Employee.Source.SCIM,
                now,
                now,
            )


def delete_synthetic() -> int:
    """Remove an earlier run's people (and nothing else); seats they hold block the delete."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM agencies_employee WHERE external_id LIKE %s", [f"{SYNTHETIC_PREFIX}%"])
        return cursor.rowcount


def existing_synthetic() -> int:
    return Employee.objects.filter(external_id__startswith=SYNTHETIC_PREFIX).count()


def write(rows: Iterator[tuple], total: int, progress, batch_size: int = 10_000) -> int:
    """COPY on PostgreSQL; batched INSERTs elsewhere. Calls ``progress.advance`` as it goes."""
    written = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                raw = cursor.cursor
                with raw.copy(f"COPY agencies_employee ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        written += 1
                        if written % batch_size == 0:
                            progress.advance(batch_size)
                cursor.execute("ANALYZE agencies_employee")
        else:
            batch: list[Employee] = []
            for row in rows:
                batch.append(Employee(**dict(zip(COLUMNS, row, strict=True))))
                if len(batch) == batch_size:
                    Employee.objects.bulk_create(batch)
                    written += len(batch)
                    progress.advance(len(batch))
                    batch = []
            Employee.objects.bulk_create(batch)
            written += len(batch)
    progress.advance(written % batch_size)
    return written
