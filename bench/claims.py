"""Concurrent claims per second on PostgreSQL with two worker processes.

Two processes claim seats for the same 20,000 synthetic employees (spread over every agency in
proportion to its real headcount, so the big departments' pool rows are contended as they
would be), once through ``seat_claim`` (checks, guarded counter, seat row, audit row) and once
as the bare guarded SQL a claim cannot do without (the counter UPDATE and the seat INSERT in one
transaction). Both runs use the same processes, employees and pools.

    python -m bench.claims [--claims 20000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
import uuid

from bench.common import Result, ensure_database, setup_django

PROCESSES = 2


def _prepare(claims: int) -> tuple[dict[str, list[tuple[int, int]]], float]:
    """Two fresh programs with a pool per department; the employees who will claim."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from agencies import workforce
    from agencies.models import Agency, Employee
    from seats.models import Allocation, Program
    from seats.services import add_months

    call_command("load_federal_data", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    if workforce.existing_synthetic() < claims:
        call_command(
            "generate_workforce",
            "--scale",
            "0.01",
            "--replace",
            stdout=open("/dev/null", "w"),  # noqa: SIM115
        )
    with connection.cursor() as cursor:
        for table in ("seats_seat", "seats_allocation"):
            cursor.execute(
                f"DELETE FROM {table} WHERE program_id IN "
                "(SELECT id FROM seats_program WHERE slug LIKE 'bench-claims-%%')"
            )
        cursor.execute("DELETE FROM seats_program WHERE slug LIKE 'bench-claims-%%'")
    now = timezone.now()
    roots = {a.pk: a for a in Agency.objects.filter(parent__isnull=True).exclude(kind="aggregate")}
    pools: dict[str, dict[int, int]] = {}
    for label in ("service", "bare"):
        program = Program.objects.create(
            slug=f"bench-claims-{label}",
            name=f"Bench claims ({label})",
            vendor="Bench",
            product="Bench",
            starts_at=now,
        )
        Allocation.objects.bulk_create(
            Allocation(
                program=program,
                agency=agency,
                quantity=max(agency.headcount, 1),
                term_starts_at=now,
                term_ends_at=add_months(now, 12),
            )
            for agency in roots.values()
        )
        pools[label] = dict(Allocation.objects.filter(program=program).values_list("agency_id", "pk"))
    people = list(
        Employee.objects.filter(external_id__startswith=workforce.SYNTHETIC_PREFIX)
        .order_by("pk")
        .values_list("pk", "agency__path")[:claims]
    )
    work = {
        label: [
            (employee_id, pools[label][int(path.strip("/").split("/")[0])]) for employee_id, path in people
        ]
        for label in pools
    }
    return work, time.time()


def _service_worker(pairs, start_at, queue) -> None:
    setup_django()
    from agencies.models import Employee
    from audit.actors import Actor
    from seats.models import Allocation
    from seats.services import seat_claim

    actor = Actor.system("bench")
    allocations = {a.pk: a for a in Allocation.objects.select_related("agency", "program")}
    employees = Employee.objects.in_bulk([e for e, _ in pairs])
    for employee in employees.values():
        employee.agency  # noqa: B018 - load before the clock starts, as a request would have it
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    done = 0
    for employee_id, allocation_id in pairs:
        seat_claim(allocation=allocations[allocation_id], employee=employees[employee_id], actor=actor)
        done += 1
    queue.put((done, time.perf_counter() - started))


def _bare_worker(pairs, start_at, queue) -> None:
    import os

    import psycopg

    from bench.common import BENCH_DATABASE_URL

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    with psycopg.connect(BENCH_DATABASE_URL) as conn:
        program_of = dict(conn.execute("SELECT id, program_id FROM seats_allocation").fetchall())
        conn.commit()
        time.sleep(max(0.0, start_at - time.time()))
        started = time.perf_counter()
        done = 0
        for employee_id, allocation_id in pairs:
            with conn.transaction():
                row = conn.execute(
                    "UPDATE seats_allocation SET assigned = assigned + 1, updated_at = now() "
                    "WHERE id = %s AND term_ends_at > now() "
                    "AND quantity > assigned + reserved_for_children RETURNING term_ends_at",
                    [allocation_id],
                ).fetchone()
                conn.execute(
                    "INSERT INTO seats_seat (uuid, allocation_id, program_id, employee_id, state, "
                    "claimed_at, approved_at, activated_at, expires_at, reason, vendor_user_id, "
                    "last_error, updated_at) "
                    "VALUES (%s, %s, %s, %s, 'active', now(), now(), now(), %s, '', '', '', now())",
                    [uuid.uuid4(), allocation_id, program_of[allocation_id], employee_id, row[0]],
                )
            done += 1
        queue.put((done, time.perf_counter() - started))


def _run(target, pairs) -> tuple[int, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 8  # every process set up and waiting before the clock starts
    chunks = [pairs[i::PROCESSES] for i in range(PROCESSES)]
    processes = [ctx.Process(target=target, args=(chunk, start_at, queue)) for chunk in chunks]
    for process in processes:
        process.start()
    results = [queue.get(timeout=3600) for _ in processes]
    for process in processes:
        process.join()
    done = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    return done, wall


def run(claims: int = 20_000) -> list[Result]:
    ensure_database()
    work, _ = _prepare(claims)
    service_done, service_wall = _run(_service_worker, work["service"])
    bare_done, bare_wall = _run(_bare_worker, work["bare"])
    service_rate, bare_rate = service_done / service_wall, bare_done / bare_wall
    return [
        Result(
            benchmark=f"concurrent claims, {PROCESSES} processes, {service_done:,} claims (PostgreSQL)",
            figure=f"{service_rate:,.0f} claims/s",
            baseline=f"{bare_rate:,.0f} claims/s bare guarded SQL",
            ratio=bare_rate / service_rate,
            goal="none set (reported)",
            met=None,
            note="seat_claim adds eligibility checks, the live-seat pre-check, an audit row, waitlist upkeep",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--claims", type=int, default=20_000)
    args = parser.parse_args()
    for result in run(args.claims):
        print(f"{result.benchmark}: {result.figure} vs {result.baseline} -> {result.ratio:.2f}x")


if __name__ == "__main__":
    main()
