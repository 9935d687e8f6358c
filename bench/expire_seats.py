"""Benchmark: expire_seats on 1,000,000 seats on PostgreSQL against the bare set-based SQL floor.

    .venv/bin/python -m bench.expire_seats [--seats 1000000] [--pools 100] [--batch-size 10000]
        [--database-url postgres://postgres@127.0.0.1:5432/seats_life_bench]

It (re)creates the benchmark database, migrates it, and loads two identical populations of
active, vendor-provisioned seats in two programs whose terms end a day apart. Then, in the same
run, with a VACUUM ANALYZE before each:

* **floor**: one bare SQL statement expires the first population: the same seat updates, pool
  counter updates, job cancellations, deactivation jobs and audit rows, with no batching, no
  locking for concurrent runs and nothing sent to Celery;
* **expire_seats**: the service (``seats.services.seats_expire``, the PostgreSQL path) expires
  the second population as production does: batches of ``--batch-size`` rows in their own
  transactions with SKIP LOCKED, and the deactivation jobs published after each commit to the
  default filesystem broker (in a temporary directory).

It prints both times and their ratio (the goal is at most 2x), and checks both did the same work.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLOOR = """
WITH expired AS (
    UPDATE seats_seat s
    SET state = 'expired', ended_at = %(now)s, updated_at = %(now)s, reason = 'term ended'
    FROM seats_seat old
    WHERE s.id = old.id
      AND old.state IN ('requested', 'pending', 'active', 'reclaim_notice', 'failed')
      AND old.expires_at <= %(now)s
    RETURNING s.id, s.allocation_id, s.program_id, s.vendor_user_id, old.state AS old_state
),
refilled AS (
    UPDATE seats_allocation a
    SET assigned = a.assigned - freed.n, updated_at = %(now)s
    FROM (SELECT allocation_id, count(*) AS n FROM expired GROUP BY allocation_id) freed
    WHERE a.id = freed.allocation_id
),
cancelled AS (
    UPDATE provisioning_provisioningjob j
    SET state = 'cancelled', finished_at = %(now)s, updated_at = %(now)s
    FROM expired e
    WHERE j.seat_id = e.id AND j.action = 'create' AND j.state = 'queued'
),
queued AS (
    INSERT INTO provisioning_provisioningjob
        (key, seat_id, action, state, attempts, next_attempt_at, last_error, created_at, updated_at)
    SELECT gen_random_uuid(), e.id, 'deactivate', 'queued', 0, %(now)s, '', %(now)s, %(now)s
    FROM expired e JOIN seats_program p ON p.id = e.program_id
    WHERE p.connector <> 'none'
      AND (e.old_state IN ('active', 'reclaim_notice', 'failed') OR e.vendor_user_id <> ''
           OR EXISTS (SELECT 1 FROM provisioning_provisioningjob j
                      WHERE j.seat_id = e.id AND j.action = 'create' AND j.attempts > 0))
),
audited AS (
    INSERT INTO audit_auditevent
        (occurred_at, actor_id, actor_label, actor_kind, agency_id, verb, target_type, target_id,
         target_label, before, after, request_id)
    SELECT %(now)s, NULL, 'bench floor', 'system', a.agency_id, 'seat.expire', 'seats.seat', e.id::text,
           'seat ' || e.id, jsonb_build_object('state', e.old_state), '{"state": "expired"}'::jsonb, ''
    FROM expired e JOIN seats_allocation a ON a.id = e.allocation_id
)
SELECT count(*) FROM expired
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=1_000_000, help="seats per population")
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print the result row as JSON (bench.run)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("EXPIRE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seats_life_bench"),
        help="dropped and created again (EXPIRE_DATABASE_URL)",
    )
    return parser.parse_args()


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def say(message: str) -> None:
    print(message, flush=True)


def seed(args: argparse.Namespace):
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from agencies.models import Agency
    from agencies.services import _agency_insert
    from audit.actors import Actor
    from seats.models import Allocation, Program
    from seats.services import allocation_create, program_create

    actor = Actor.system("bench")
    start = timezone.now() - timedelta(days=1)
    programs = [
        program_create(
            name=f"Bench {label}",
            vendor="Bench AI",
            product="Enterprise",
            actor=actor,
            starts_at=start - timedelta(days=30),
            connector=Program.Connector.SCIM,
        )
        for label in ("floor", "service")
    ]
    agencies = [
        _agency_insert(
            agency=Agency(name=f"Bench agency {i}", slug=f"bench-{i}", kind=Agency.Kind.DEPARTMENT)
        )
        for i in range(args.pools)
    ]
    per_pool = args.seats // args.pools
    pools = {}
    for offset, program in enumerate(programs):
        pools[program.pk] = [
            allocation_create(
                program=program,
                agency=agency,
                quantity=per_pool,
                actor=actor,
                term_starts_at=start + timedelta(days=offset),
            )
            for agency in agencies
        ]
    total = per_pool * args.pools
    say(f"loading {total:,} employees and {2 * total:,} seats ...")
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO agencies_employee (uuid, agency_id, email, given_name, family_name, external_id,
                employee_number, status, source, created_at, updated_at)
            SELECT gen_random_uuid(), (%(agencies)s::bigint[])[1 + n %% %(pools)s],
                   'person' || n || '@bench.gov', 'Pat', 'Doe', '', '', 'active', 'manual', now(), now()
            FROM generate_series(1, %(total)s) n
            """,
            {"agencies": [a.pk for a in agencies], "pools": args.pools, "total": total},
        )
        for program in programs:
            cursor.execute(
                """
                INSERT INTO seats_seat (uuid, allocation_id, program_id, employee_id, state, claimed_at,
                    approved_at, activated_at, expires_at, reason, vendor_user_id, last_error, updated_at)
                SELECT gen_random_uuid(), a.id, a.program_id, e.id, 'active', now(), now(), now(),
                       a.term_ends_at, '', 'vu-' || e.id, '', now()
                FROM agencies_employee e
                JOIN seats_allocation a ON a.agency_id = e.agency_id AND a.program_id = %(program)s
                """,
                {"program": program.pk},
            )
        cursor.execute(
            "UPDATE seats_allocation a "
            "SET assigned = (SELECT count(*) FROM seats_seat s WHERE s.allocation_id = a.id)"
        )
    say(f"loaded in {time.monotonic() - started:.0f}s")
    ends = [
        Allocation.objects.filter(program=p).values_list("term_ends_at", flat=True).first() for p in programs
    ]
    return programs, ends, total


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def main() -> None:
    args = parse_args()
    stdout = sys.stdout
    if args.json:  # progress to stderr; stdout carries only the result row
        sys.stdout = sys.stderr
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DEBUG", "true")
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="seats-bench-")  # its own filesystem broker
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if not args.database_url.startswith("postgres"):
        sys.exit("the benchmark needs PostgreSQL: pass --database-url postgres://...")
    recreate_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from audit.actors import Actor
    from audit.models import AuditEvent
    from provisioning.models import ProvisioningJob
    from seats.models import Allocation, Seat
    from seats.services import seats_expire

    call_command("migrate", verbosity=0)
    programs, ends, total = seed(args)
    vacuum()

    say("floor: the bare set-based SQL ...")
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FLOOR, {"now": ends[0]})
        floor_count = cursor.fetchone()[0]
    floor_seconds = time.monotonic() - started
    vacuum()

    say(f"expire_seats (batches of {args.batch_size:,}) ...")
    started = time.monotonic()
    service_count = seats_expire(now=ends[1], actor=Actor.system("bench"), batch_size=args.batch_size)
    service_seconds = time.monotonic() - started

    for program, count in zip(programs, (floor_count, service_count), strict=True):
        assert count == total, (program, count)
        assert not Seat.objects.live().filter(program=program).exists()
        assert not Allocation.objects.filter(program=program).exclude(assigned=0).exists()
        assert ProvisioningJob.objects.filter(seat__program=program, action="deactivate").count() == total
    assert AuditEvent.objects.filter(verb="seat.expire").count() == 2 * total
    messages = sum(1 for _ in (Path(os.environ["VAR_DIR"]) / "celery" / "queue").iterdir())

    ratio = service_seconds / floor_seconds
    say("")
    say(f"seats expired per run      {total:>12,}")
    say(f"bare set-based SQL floor   {floor_seconds:>11.1f}s  ({total / floor_seconds:,.0f} seats/s)")
    say(
        f"expire_seats               {service_seconds:>11.1f}s  ({total / service_seconds:,.0f} seats/s, "
        f"{messages:,} delivery messages published)"
    )
    say(f"ratio                      {ratio:>11.2f}x  (goal: at most 2x) {'OK' if ratio <= 2 else 'OVER'}")
    if args.json:
        from bench.common import Result, emit

        sys.stdout = stdout
        emit(
            [
                Result(
                    benchmark=f"expire_seats, {total:,} seats (PostgreSQL)",
                    figure=f"{service_seconds:.1f} s ({total / service_seconds:,.0f} seats/s)",
                    baseline=f"{floor_seconds:.1f} s bare set-based SQL",
                    ratio=ratio,
                    goal="at most 2x",
                    met=ratio <= 2,
                    note=f"batches of {args.batch_size:,} with SKIP LOCKED; {messages:,} messages published",
                )
            ]
        )


if __name__ == "__main__":
    main()
