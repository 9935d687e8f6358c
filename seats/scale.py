"""Seats for the synthetic workforce, for scale runs of dashboards, reports and sweeps.

Like ``agencies.workforce`` this is fixture data written set-based (COPY on PostgreSQL), not
through the services: one program, a pool per department sized to its real headcount, and seats
for a share of the synthetic employees in a realistic spread of states and claim dates.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from agencies.models import Agency, Employee
from agencies.workforce import SYNTHETIC_PREFIX
from seats.models import Allocation, Program, Seat
from seats.services import add_months

PROGRAM_SLUG = "scale-test-program"
# state -> share of claimed seats
STATE_MIX = (
    (Seat.State.ACTIVE, 0.84),
    (Seat.State.REQUESTED, 0.04),
    (Seat.State.PENDING, 0.02),
    (Seat.State.REVOKED, 0.07),
    (Seat.State.REJECTED, 0.01),
    (Seat.State.EXPIRED, 0.02),
)
SEAT_COLUMNS = (
    "uuid",
    "allocation_id",
    "program_id",
    "employee_id",
    "state",
    "claimed_at",
    "approved_at",
    "activated_at",
    "expires_at",
    "ended_at",
    "reason",
    "vendor_user_id",
    "last_error",
    "updated_at",
)


def prepare_pools(now: datetime) -> tuple[Program, dict[int, Allocation]]:
    """The scale program and one pool per department (its whole headcount), made once."""
    program, _ = Program.objects.get_or_create(
        slug=PROGRAM_SLUG,
        defaults={
            "name": "Scale test program",
            "vendor": "Synthetic",
            "product": "Enterprise",
            "starts_at": now - timedelta(days=300),
        },
    )
    roots = Agency.objects.filter(parent__isnull=True).exclude(kind=Agency.Kind.AGGREGATE)
    existing = set(Allocation.objects.filter(program=program).values_list("agency_id", flat=True))
    start = now - timedelta(days=300)
    Allocation.objects.bulk_create(
        Allocation(
            program=program,
            agency=agency,
            quantity=max(agency.headcount, 1),
            term_starts_at=start,
            term_ends_at=add_months(start, 12),
        )
        for agency in roots
        if agency.pk not in existing
    )
    pools = {a.agency_id: a for a in Allocation.objects.filter(program=program)}
    return program, pools


def seat_rows(
    program: Program, pools: dict[int, Allocation], rate: float, seed: int, now: datetime
) -> Iterator[tuple]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    roots = {a.pk: int(a.path.strip("/").split("/")[0]) for a in Agency.objects.only("pk", "path")}
    states = [s for s, _ in STATE_MIX]
    weights = [w for _, w in STATE_MIX]
    people = (
        Employee.objects.filter(external_id__startswith=SYNTHETIC_PREFIX)
        .order_by("pk")
        .values_list("pk", "agency_id")
        .iterator(chunk_size=20_000)
    )
    for employee_id, agency_id in people:
        if rng.random() >= rate:
            continue
        pool = pools.get(roots[agency_id])
        if pool is None:
            continue
        state = rng.choices(states, weights)[0]
        claimed = pool.term_starts_at + timedelta(
            seconds=rng.randrange(int((now - pool.term_starts_at).total_seconds()))
        )
        ended = (
            claimed + timedelta(days=rng.randrange(1, 60))
            if state in (Seat.State.REVOKED, Seat.State.REJECTED)
            else None
        )
        if state == Seat.State.EXPIRED:
            ended = claimed
        live = state in Seat.LIVE_STATES
        yield (
            uuid.UUID(int=rng.getrandbits(128), version=4),
            pool.pk,
            program.pk,
            employee_id,
            state,
            claimed,
            claimed if state != Seat.State.REQUESTED else None,
            claimed if state == Seat.State.ACTIVE else None,
            pool.term_ends_at,
            None if live else (min(ended, now) if ended else now),
            "" if live else "synthetic",
            f"v-{employee_id}" if state == Seat.State.ACTIVE else "",
            "",
            now,
        )


@transaction.atomic
def generate_seats(rate: float, seed: int, progress_factory) -> int:
    """Write the seats, then set each pool's counter from the live seats (one statement)."""
    now = timezone.now()
    program, pools = prepare_pools(now)
    Seat.objects.filter(program=program).delete()
    rows = list(seat_rows(program, pools, rate, seed, now))
    progress = progress_factory(len(rows))
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY seats_seat ({', '.join(SEAT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for index, row in enumerate(rows, 1):
                copy.write_row(row)
                if index % 20_000 == 0:
                    progress.advance(20_000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE seats_seat")
    else:
        for start in range(0, len(rows), 5_000):
            batch = rows[start : start + 5_000]
            Seat.objects.bulk_create(Seat(**dict(zip(SEAT_COLUMNS, row, strict=True))) for row in batch)
            progress.advance(len(batch))
    live = Counter(row[1] for row in rows if row[4] in Seat.LIVE_STATES)
    Allocation.objects.filter(program=program).update(assigned=0)
    for allocation_id, count in live.items():
        Allocation.objects.filter(pk=allocation_id).update(
            assigned=count, quantity=Greatest(F("quantity"), count)
        )
    progress.finish()
    return len(rows)
