"""The GSA dashboard and an agency's report at full scale, against bare aggregate SQL.

Against the full-scale database (``SCALE_DATABASE_URL``), in the same run:

* **page**: the page rendered through Django's test client as the person who opens it (a GSA
  administrator, or an administrator of the largest department, second factor done): session,
  scope, the selectors' queries and the template; median of several renders;
* **bare aggregate**: the fewest SQL statements that give the same numbers (live, active,
  waiting and soon-expiring seats per pool, claims per week, live seats per month of expiry,
  and for the report seats per state), over the same tables, with no ORM and no template.

The numbers of both are compared before any time is reported. Goals: the page's query count is
its small-scale count (it does not grow with the data), and the page takes at most 2x the bare
aggregate.

    python -m bench.dashboards gsa|agency
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime, timedelta

from bench.common import Result, emit, ensure_scale_database, say

GOAL = 2.0
RENDERS = 5
LIVE = ("requested", "pending", "active", "reclaim_notice", "failed")

POOLS_SQL = """
SELECT s.allocation_id,
       count(*) FILTER (WHERE s.state IN ('active', 'reclaim_notice')) AS active,
       count(*) FILTER (WHERE s.state IN ('requested', 'pending', 'failed')) AS waiting,
       count(*) FILTER (WHERE s.expires_at <= %(soon)s) AS expiring
FROM seats_seat s
WHERE s.state IN ('requested', 'pending', 'active', 'reclaim_notice', 'failed') {scope}
GROUP BY s.allocation_id
"""
CLAIMS_SQL = """
SELECT date_trunc('week', s.claimed_at AT TIME ZONE 'UTC') AS week, count(*)
FROM seats_seat s WHERE s.claimed_at >= %(start)s {scope} GROUP BY 1
"""
EXPIRY_SQL = """
SELECT date_trunc('month', s.expires_at AT TIME ZONE 'UTC') AS month, count(*)
FROM seats_seat s
WHERE s.state IN ('requested', 'pending', 'active', 'reclaim_notice', 'failed')
  AND s.expires_at >= %(first)s {scope}
GROUP BY 1
"""
STATES_SQL = "SELECT s.state, count(*) FROM seats_seat s WHERE true {scope} GROUP BY 1"
SCOPE_SQL = (
    "AND s.allocation_id IN (SELECT a.id FROM seats_allocation a JOIN agencies_agency g "
    "ON g.id = a.agency_id WHERE g.path LIKE %(path)s)"
)


def bare(scope_path: str | None, now: datetime) -> tuple[dict[str, int], float]:
    """The dashboard's numbers in bare SQL; returns the totals and the median time."""
    from django.db import connection

    from seats.selectors import EXPIRY_WINDOW_DAYS, _week_start

    first_week = _week_start(now.date()) - timedelta(weeks=12)
    params = {
        "soon": now + timedelta(days=EXPIRY_WINDOW_DAYS),
        "start": datetime.combine(first_week, datetime.min.time(), tzinfo=now.tzinfo),
        "first": datetime.combine(now.date().replace(day=1), datetime.min.time(), tzinfo=now.tzinfo),
        "path": f"{scope_path}%",
    }
    scope = SCOPE_SQL if scope_path else ""
    statements = [POOLS_SQL, CLAIMS_SQL, EXPIRY_SQL] + ([STATES_SQL] if scope_path else [])
    times, totals = [], {}
    for _ in range(RENDERS):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(POOLS_SQL.format(scope=scope), params)
            pools = cursor.fetchall()
            cursor.execute(CLAIMS_SQL.format(scope=scope), params)
            claims = cursor.fetchall()
            cursor.execute(EXPIRY_SQL.format(scope=scope), params)
            expiry = cursor.fetchall()
            states = []
            if scope_path:
                cursor.execute(STATES_SQL.format(scope=scope), params)
                states = cursor.fetchall()
        times.append(time.perf_counter() - started)
        totals = {
            "active": sum(r[1] for r in pools),
            "waiting": sum(r[2] for r in pools),
            "expiring": sum(r[3] for r in pools),
            "claimed_13_weeks": sum(n for _, n in claims),
            "live_by_expiry": sum(n for _, n in expiry),
            "all_seats": sum(n for _, n in states),
        }
    assert len(statements) >= 3
    return totals, statistics.median(times)


def _context(client, url: str) -> dict:
    """The numbers the page showed: its view called once more, as the URL resolves it, with the
    same user; a TemplateView answers with its context before it renders."""
    from django.contrib.auth import get_user
    from django.test import RequestFactory
    from django.urls import resolve

    request = RequestFactory().get(url, SERVER_NAME="localhost")
    request.user = get_user(client)  # type: ignore[assignment]
    request.session = client.session
    match = resolve(url)
    response = match.func(request, *match.args, **match.kwargs)
    return response.context_data


def page(client, url: str) -> tuple[dict[str, int], int, float]:
    """Render the page; the same totals from its context, its query count and median time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(RENDERS):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    context = _context(client, url)
    rows = context["rows"]
    states = context.get("states")
    totals = {
        "active": sum(r.active for r in rows),
        "waiting": sum(r.pending for r in rows),
        "expiring": sum(r.expiring for r in rows),
        "claimed_13_weeks": sum(context["claims"].datasets["Seats claimed"]),
        "live_by_expiry": sum(context["expiry"].datasets["Seats expiring"]),
        "all_seats": sum(states.datasets["Seats"]) if states else 0,
    }
    return totals, len(ctx.captured_queries), statistics.median(times)


def run(which: str = "gsa") -> list[Result]:
    from django.utils import timezone

    ensure_scale_database()
    from bench.pages import client_for, pages, prepare
    from seats.models import Seat

    context = prepare()
    budgets = {p.label: p.budget for p in pages()}
    department = context["department"]
    if which == "gsa":
        label, who, url, path = "GSA dashboard", "gsa", "/gsa/", None
        budget = budgets["GSA dashboard"]
    else:
        label, who, url, path = f"agency report ({department.abbreviation})", "agency", None, department.path
        url = f"/agencies/{department.slug}/reports/"
        budget = budgets["agency report"]
    client = client_for(context["users"][who], who)
    seats = Seat.objects.count()
    say(f"{label}: {url} over {seats:,} seats ...")
    page_totals, queries, page_seconds = page(client, url)
    bare_totals, bare_seconds = bare(path, timezone.now())
    if which == "gsa":
        bare_totals["all_seats"] = 0
    assert page_totals == bare_totals, (page_totals, bare_totals)
    say(
        f"  page {page_seconds * 1000:.0f} ms, {queries} queries; "
        f"bare {bare_seconds * 1000:.0f} ms; {page_totals}"
    )
    ratio = page_seconds / bare_seconds
    return [
        Result(
            benchmark=f"{label} at full scale, {seats / 1e6:.2f}M seats: queries (PostgreSQL)",
            figure=f"{queries} queries",
            baseline=f"budget {budget} (its count at small scale)",
            ratio=queries / budget,
            goal="no more queries than at small scale",
            met=queries <= budget,
        ),
        Result(
            benchmark=f"{label} at full scale, {seats / 1e6:.2f}M seats: time (PostgreSQL)",
            figure=f"{page_seconds * 1000:,.0f} ms (rendered, median of {RENDERS})",
            baseline=f"{bare_seconds * 1000:,.0f} ms bare aggregate SQL, same numbers",
            ratio=ratio,
            goal=f"at most {GOAL:.0f}x",
            met=ratio <= GOAL,
            note=(
                f"same totals checked: {page_totals['active']:,} active, {page_totals['waiting']:,} waiting, "
                f"{page_totals['live_by_expiry']:,} live"
            ),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", choices=["gsa", "agency"])
    parser.add_argument("--json", action="store_true", help="print the result rows as JSON (bench.run)")
    args = parser.parse_args()
    results = run(args.which)
    if args.json:
        emit(results)
    else:
        for r in results:
            print(f"{r.benchmark}: {r.figure} vs {r.baseline} -> {r.ratio:.2f}x")


if __name__ == "__main__":
    main()
