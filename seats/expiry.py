"""Expiry on PostgreSQL: one SQL statement per batch.

``seats.services.seats_expire`` takes this path on PostgreSQL and its ORM path elsewhere; both
give the same rows (tests/seats/test_expiry.py compares them). One statement per batch does,
from the rows it locks:

* locks up to ``batch_size`` due live seats with ``FOR UPDATE SKIP LOCKED`` (a concurrent run
  takes other rows, never the same ones, and never waits),
* expires them (``UPDATE ... RETURNING`` the old state),
* gives each pool back its seats (one UPDATE per pool, from a GROUP BY of the returned rows),
* cancels creates that never went out, queues a deactivation for each seat the vendor may know,
* writes one audit row per seat.

Everything the statement does commits or rolls back together, batch by batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction

from audit.actors import ActorLike, as_actor
from core.middleware import current_request_id
from provisioning.dispatch import dispatch_after_commit

# The state lists are Seat.LIVE_STATES and seats.services.VENDOR_HELD, spelled out in SQL.
EXPIRE_BATCH = """
WITH due AS (
    SELECT s.id, s.state
    FROM seats_seat s
    WHERE s.state IN ('requested', 'pending', 'active', 'reclaim_notice', 'failed')
      AND s.expires_at <= %(now)s
    -- The order makes the planner walk the partial index of live seats by expiry. Without it, a
    -- LIMIT on a large due set picks a sequential scan that re-reads every earlier batch's rows.
    ORDER BY s.expires_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
),
expired AS (
    UPDATE seats_seat s
    SET state = 'expired', ended_at = %(now)s, updated_at = %(now)s, reason = 'term ended'
    FROM due
    WHERE s.id = due.id
    RETURNING s.id, s.allocation_id, s.program_id, s.vendor_user_id, due.state AS old_state
),
refilled AS (
    UPDATE seats_allocation a
    SET assigned = a.assigned - freed.n, updated_at = %(now)s
    FROM (SELECT allocation_id, count(*) AS n FROM expired GROUP BY allocation_id) freed
    WHERE a.id = freed.allocation_id
    RETURNING a.id
),
cancelled AS (
    UPDATE provisioning_provisioningjob j
    SET state = 'cancelled', finished_at = %(now)s, updated_at = %(now)s
    FROM expired e
    WHERE j.seat_id = e.id AND j.action = 'create' AND j.state = 'queued'
    RETURNING j.seat_id, j.attempts
),
queued AS (
    INSERT INTO provisioning_provisioningjob
        (key, seat_id, action, state, attempts, next_attempt_at, last_error, created_at, updated_at)
    SELECT gen_random_uuid(), e.id, 'deactivate', 'queued', 0, %(now)s, '', %(now)s, %(now)s
    FROM expired e
    JOIN seats_program p ON p.id = e.program_id
    WHERE p.connector <> 'none'
      AND (
        e.old_state IN ('active', 'reclaim_notice', 'failed')
        OR e.vendor_user_id <> ''
        OR EXISTS (
            SELECT 1 FROM provisioning_provisioningjob j
            WHERE j.seat_id = e.id AND j.action = 'create' AND j.attempts > 0
        )
      )
    RETURNING id
),
audited AS (
    INSERT INTO audit_auditevent
        (occurred_at, actor_id, actor_label, actor_kind, agency_id, verb, target_type, target_id,
         target_label, before, after, request_id)
    SELECT %(now)s, %(actor_id)s, %(actor_label)s, %(actor_kind)s, a.agency_id, 'seat.expire',
           'seats.seat', e.id::text, 'seat ' || e.id, jsonb_build_object('state', e.old_state),
           '{"state": "expired"}'::jsonb, %(request_id)s
    FROM expired e
    JOIN seats_allocation a ON a.id = e.allocation_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM expired), COALESCE((SELECT array_agg(id) FROM queued), '{}')
"""


def seats_expire_sql(*, now: datetime, actor: ActorLike, batch_size: int = 5000) -> int:
    """Expire due seats batch by batch; returns how many this run expired."""
    if connection.vendor != "postgresql":
        raise RuntimeError("seats_expire_sql needs PostgreSQL; use seats_expire(method='orm') elsewhere.")
    who = as_actor(actor)
    params: dict[str, Any] = {
        "now": now,
        "batch": batch_size,
        "actor_id": who.user_id,
        "actor_label": who.label[:255],
        "actor_kind": who.kind,
        "request_id": current_request_id(),
    }
    total = 0
    while True:
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute(EXPIRE_BATCH, params)
            expired, job_ids = cursor.fetchone()
            if not expired:
                break
            dispatch_after_commit(job_ids)
        total += expired
    return total
