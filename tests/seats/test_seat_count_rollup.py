"""The dashboards' rollup (SeatCount) always equals a count of the seats themselves: the
PostgreSQL triggers follow every kind of seat write, one seat or a batch, service or raw SQL,
and folding its rows changes no sum."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from audit.actors import Actor
from seats import selectors
from seats.models import Allocation, Seat, SeatCount
from seats.rollup import seat_counts_compact
from seats.services import seat_approve, seat_revoke, seats_expire
from tests.seats.test_concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
ACTOR = Actor.system("test")


def counted_from_seats() -> dict[tuple, int]:
    rows = (
        Seat.objects.order_by()
        .annotate(week=TruncWeek("claimed_at"))
        .values_list("allocation_id", "state", "expires_at", "week")
        .annotate(n=Count("*"))
    )
    return {(a, s, e, w.date()): n for a, s, e, w, n in rows}


def counted_from_rollup() -> dict[tuple, int]:
    rows = (
        SeatCount.objects.order_by()
        .values_list("allocation_id", "state", "expires_at", "claimed_week")
        .annotate(total=Sum("n"))
    )
    return {(a, s, e, w): n for a, s, e, w, n in rows if n}


def test_the_rollup_follows_claims_approvals_revocations_and_expiry(pool, department, make_employee, claim):
    department.claims_require_approval = True
    department.save()
    seats = [claim(pool, make_employee(department)) for _ in range(4)]
    assert counted_from_rollup() == counted_from_seats()
    assert SeatCount.objects.filter(state=Seat.State.REQUESTED).aggregate(n=Sum("n"))["n"] == 4

    seat_approve(seat=seats[0], actor=ACTOR)
    seat_revoke(seat=seats[1], actor=ACTOR, reason="left")
    assert counted_from_rollup() == counted_from_seats()

    seats_expire(now=pool.term_ends_at + timedelta(seconds=1), actor=ACTOR)
    assert not Seat.objects.live().exists()
    assert counted_from_rollup() == counted_from_seats()


def test_the_rollup_follows_bulk_updates_and_deletes(pool, department, make_employee, claim):
    for _ in range(3):
        claim(pool, make_employee(department))
    Seat.objects.update(claimed_at=timezone.now() - timedelta(weeks=5))
    assert counted_from_rollup() == counted_from_seats()
    Seat.objects.filter(pk=Seat.objects.order_by("pk").values("pk")[:1]).delete()
    assert counted_from_rollup() == counted_from_seats()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE seats_seat SET expires_at = expires_at + interval '30 days'")
    assert counted_from_rollup() == counted_from_seats()


def test_charts_read_the_rollup_and_agree_with_counting_seats(pool, department, make_employee, claim):
    for _ in range(3):
        claim(pool, make_employee(department))
    tally = selectors.seat_tally(Allocation.objects.filter(pk=pool.pk))
    assert tally.model is SeatCount
    seats = Seat.objects.filter(allocation=pool)
    assert selectors.claims_over_time(tally).datasets == selectors.claims_over_time(seats).datasets
    assert selectors.expiry_timeline(tally).datasets == selectors.expiry_timeline(seats).datasets
    assert selectors.seats_by_state(tally).datasets == selectors.seats_by_state(seats).datasets
    assert sum(selectors.seats_by_state(tally).datasets["Seats"]) == 3


def test_compacting_folds_the_rows_to_one_per_key_and_keeps_every_sum(pool, department, make_employee, claim):
    seats = [claim(pool, make_employee(department)) for _ in range(5)]
    seat_revoke(seat=seats[0], actor=ACTOR, reason="left")
    expected = counted_from_seats()
    before, after = seat_counts_compact()
    assert (before, after) == (7, 2)  # five claims and a revocation's -1/+1; active and revoked
    assert SeatCount.objects.count() == 2
    assert counted_from_rollup() == expected
    assert seat_counts_compact() == (2, 2)


@pytest.mark.django_db(transaction=True)
def test_claims_and_compaction_at_once_lose_no_seat(pool, department, make_employee, claim):
    people = [make_employee(department) for _ in range(6)]
    for person in people[:3]:
        claim(pool, person)

    def work(index: int) -> object:
        if index == 0:
            return seat_counts_compact()
        return [claim(pool, person) for person in people[3:] if person.pk % 2 == index - 1]

    results = race(3, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Seat.objects.count() == 6
    assert counted_from_rollup() == counted_from_seats()
