"""Upkeep of the dashboards' seat rollup (``SeatCount``).

The triggers only ever append a row per key a seat statement changed, so writers never wait on
one another there; this folds those rows into one per key, so a dashboard sums a few thousand
rows however busy the day was. Run every few minutes by beat; harmless to run at any time, and
at once (the second run waits for the first and then finds little to do).
"""

from __future__ import annotations

from django.db import connection, transaction

from seats.models import SeatCount

# An arbitrary constant naming this job's advisory lock.
COMPACT_LOCK = 7_261_001

COMPACT = """
WITH gone AS (DELETE FROM seats_seatcount RETURNING allocation_id, state, expires_at, claimed_week, n)
INSERT INTO seats_seatcount (allocation_id, state, expires_at, claimed_week, n)
SELECT allocation_id, state, expires_at, claimed_week, sum(n)::integer
FROM gone
GROUP BY allocation_id, state, expires_at, claimed_week
HAVING sum(n) <> 0
"""


def seat_counts_compact() -> tuple[int, int]:
    """Fold the rollup to one row per key; returns the rows before and after.

    One statement deletes the rows this transaction sees and inserts their sums, so a reader
    sees either the old rows or the folded ones, never both; rows appended meanwhile by other
    transactions are not seen, so not deleted, and are folded next time.
    """
    if connection.vendor != "postgresql":
        return 0, 0  # no triggers, no rollup: the selectors count seats there
    with transaction.atomic(durable=True), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COMPACT_LOCK])
        before = SeatCount.objects.count()
        cursor.execute(COMPACT)
        after = cursor.rowcount
    return before, after
