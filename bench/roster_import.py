"""Roster import of 100,000 CSV rows at full scale against a bare COPY of the same rows.

Runs against the full-scale database (``SCALE_DATABASE_URL``: 2.29M people already on the
rosters, so every uniqueness check and index insert pays what production pays), for the
largest department, whose file names people in its offices too.

* **baseline**: read the CSV and ``COPY`` its rows straight into ``agencies_employee``: no
  validation, no audit, nothing else (rolled back afterwards);
* **import**: the portal's path, as the Celery tasks run it: ``roster_import_create`` (keep the
  upload), ``roster_import_check`` (the dry run), ``roster_import_start`` and
  ``roster_import_run`` (batches of ``ROSTER_IMPORT_BATCH_SIZE`` with validation, one audit row
  per person, progress counters).

The goal is at most 3x the bare COPY (timed before and after the import, averaged), reported for
the import itself and for the whole path. The imported people and the import are deleted
afterwards so the next run starts from the same roster (the audit trail is append-only, so
their audit rows stay).

    python -m bench.roster_import [--rows 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
import time
import uuid

from bench.common import Result, emit, ensure_scale_database, say

ROWS = 100_000
GOAL = 3.0
MARK = "bench.roster."


def _csv(rows: int) -> tuple[object, bytes]:
    """The department with the most people, and a roster file for it (a tenth in its offices)."""
    from agencies.models import Agency
    from agencies.workforce import primary_domains

    domains = primary_domains()
    department = (
        Agency.objects.filter(parent__isnull=True, pk__in=domains)
        .exclude(kind="aggregate")
        .order_by("-headcount")
    ).first()
    offices = list(
        department.children.exclude(kind="aggregate").order_by("pk").values_list("abbreviation", flat=True)
    )
    offices = [o for o in offices if o] or [""]
    domain = domains[department.pk]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "given_name", "family_name", "employee_number", "bureau"])
    for i in range(rows):
        bureau = offices[i % len(offices)] if i % 10 == 0 else ""
        writer.writerow([f"{MARK}{i}@{domain}", "Pat", f"Roster{i}", f"R{i:07d}", bureau])
    return department, out.getvalue().encode()


def _bare_copy(department, data: bytes) -> float:
    """Parse the file and COPY its rows into the employees table; timed to the end of the COPY."""
    from django.db import connection, transaction
    from django.utils import timezone

    from agencies.workforce import COLUMNS

    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY agencies_employee ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            reader = csv.reader(io.StringIO(data.decode()))
            next(reader)
            for email, given, family, number, _ in reader:
                copy.write_row(
                    (uuid.uuid4(), department.pk, email, given, family, "", number, "active", "csv", now, now)
                )
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def _import(department, data: bytes) -> tuple[float, float, object]:
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile

    from agencies.services import (
        roster_import_check,
        roster_import_create,
        roster_import_run,
        roster_import_start,
    )
    from audit.actors import Actor

    actor = Actor.system("bench roster import")
    batch = settings.ROSTER_IMPORT_BATCH_SIZE
    started = time.perf_counter()
    job = roster_import_create(
        agency=department, upload=SimpleUploadedFile("roster.csv", data), actor=actor, background=False
    )
    job = roster_import_check(roster_import=job, batch_size=batch)
    checked = time.perf_counter()
    job = roster_import_start(roster_import=job, actor=actor, background=False)
    job = roster_import_run(roster_import=job, batch_size=batch)
    done = time.perf_counter()
    return done - started, done - checked, job


def _clean(job=None) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM agencies_employee WHERE email LIKE %s", [MARK + "%"])
        if job is not None:
            cursor.execute("DELETE FROM agencies_rosterimportissue WHERE roster_import_id = %s", [job.pk])
            cursor.execute("DELETE FROM agencies_rosterimport WHERE id = %s", [job.pk])
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE agencies_employee")


def run(rows: int = ROWS) -> list[Result]:
    import os

    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="seats-bench-"))  # its uploads
    ensure_scale_database()
    from agencies.models import Employee

    _clean()
    department, data = _csv(rows)
    say(f"roster_import: {rows:,} rows for {department.name} ...")
    # The baseline before and after the import, averaged: the machine is shared and noisy.
    first_copy = _bare_copy(department, data)
    say(f"  bare COPY {first_copy:.2f}s")
    total_seconds, run_seconds, job = _import(department, data)
    say(f"  import {total_seconds:.2f}s (of which the import run {run_seconds:.2f}s)")
    created = Employee.objects.filter(email__startswith=MARK).count()
    assert job.state == "done" and job.created_rows == rows == created, (job.state, job.created_rows, created)
    _clean(job)
    second_copy = _bare_copy(department, data)
    say(f"  bare COPY {second_copy:.2f}s")
    copy_seconds = (first_copy + second_copy) / 2
    baseline = f"{copy_seconds:.1f} s bare COPY ({rows / copy_seconds:,.0f} rows/s)"
    return [
        Result(
            benchmark=f"roster import, {rows:,} CSV rows into 2.29M: the import (PostgreSQL)",
            figure=f"{run_seconds:.1f} s ({rows / run_seconds:,.0f} rows/s)",
            baseline=baseline,
            ratio=run_seconds / copy_seconds,
            goal=f"at most {GOAL:.0f}x",
            met=run_seconds / copy_seconds <= GOAL,
            note="roster_import_run as the Celery task runs it: every row judged again, one audit row per "
            "person, progress counters per batch of ROSTER_IMPORT_BATCH_SIZE",
        ),
        Result(
            benchmark=f"roster import, {rows:,} CSV rows into 2.29M: upload + dry run + import (PostgreSQL)",
            figure=f"{total_seconds:.1f} s ({rows / total_seconds:,.0f} rows/s)",
            baseline=baseline,
            ratio=total_seconds / copy_seconds,
            goal=f"at most {GOAL:.0f}x",
            met=total_seconds / copy_seconds <= GOAL,
            note="the whole portal path: the dry run reads and judges every row once more before a "
            "person starts the import",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--json", action="store_true", help="print the result rows as JSON (bench.run)")
    args = parser.parse_args()
    results = run(args.rows)
    if args.json:
        emit(results)
    else:
        for r in results:
            print(f"{r.benchmark}: {r.figure} vs {r.baseline} -> {r.ratio:.2f}x ({r.note})")


if __name__ == "__main__":
    main()
