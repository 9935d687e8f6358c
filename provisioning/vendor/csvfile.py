"""The manual connector: the vendor's CSV file for agencies whose vendor takes files.

The file names every queued job by its key, so the same file, once the vendor has loaded it, is
what confirms those jobs (``provisioning.outbox.jobs_mark_delivered``): nothing is marked
delivered that was not in a file the vendor received.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

from provisioning.models import ProvisioningJob

COLUMNS = [
    "request_id",
    "action",
    "external_id",
    "user_name",
    "email",
    "given_name",
    "family_name",
    "agency",
    "active",
]
ACTIVE_AFTER = {
    ProvisioningJob.Action.CREATE: "true",
    ProvisioningJob.Action.REACTIVATE: "true",
    ProvisioningJob.Action.UPDATE: "true",
    ProvisioningJob.Action.DEACTIVATE: "false",
}


def csv_jobs(program) -> Iterable[ProvisioningJob]:  # type: ignore[no-untyped-def]
    """Queued jobs of a CSV program, oldest first, in one query."""
    return (
        ProvisioningJob.objects.filter(seat__program=program, state=ProvisioningJob.State.QUEUED)
        .select_related("seat__employee", "seat__allocation__agency")
        .order_by("created_at", "id")
    )


def csv_write(jobs: Iterable[ProvisioningJob], out: IO[str]) -> int:
    """Write the vendor's file; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for job in jobs:
        employee = job.seat.employee
        writer.writerow(
            [
                str(job.key),
                job.action,
                str(employee.uuid),
                employee.email,
                employee.email,
                _safe(employee.given_name),
                _safe(employee.family_name),
                _safe(job.seat.allocation.agency.name),
                ACTIVE_AFTER[job.action],
            ]
        )
        count += 1
    return count


def csv_read_keys(lines: Iterable[str]) -> list[str]:
    """The job keys of a file this module wrote (and the vendor loaded)."""
    reader = csv.DictReader(lines)
    if not reader.fieldnames or "request_id" not in reader.fieldnames:
        from core.errors import InvalidInput

        raise InvalidInput("This is not a vendor file from AI Seats: it has no request_id column.")
    return [row["request_id"].strip() for row in reader if row.get("request_id", "").strip()]


def _safe(value: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
