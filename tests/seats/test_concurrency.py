"""Races, on PostgreSQL with one connection per thread (SQLite serialises writers and would
prove nothing). Each scenario runs ten times in one test run."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError

from audit.actors import Actor
from core.errors import ParentPoolExceeded, PoolExhausted
from seats import services
from seats.models import Allocation, Seat
from tests.factories import (
    AgencyDomainFactory,
    AgencyFactory,
    AllocationFactory,
    EmployeeFactory,
    ProgramFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROUNDS = range(10)


def race(workers: int, work: Callable[[int], object]) -> list[object]:
    """Start ``workers`` threads at the same instant; each returns a result or the exception."""
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return results


def kinds(results: list[object]) -> Counter:
    return Counter(type(r).__name__ for r in results)


@pytest.fixture
def setup():
    department = AgencyFactory(slug="race-dept")
    AgencyDomainFactory(agency=department, domain="race.gov")
    program = ProgramFactory()
    return department, program


@pytest.mark.parametrize("round_", ROUNDS)
def test_fifty_claimants_for_ten_seats_get_exactly_ten(setup, round_):
    department, program = setup
    pool = AllocationFactory(program=program, agency=department, quantity=10)
    people = [EmployeeFactory(agency=department, email=f"p{i}@race.gov") for i in range(50)]
    actor = Actor.system("test")

    results = race(50, lambda i: services.seat_claim(allocation=pool, employee=people[i], actor=actor))

    assert kinds(results) == Counter({"Seat": 10, "PoolExhausted": 40})
    pool.refresh_from_db()
    assert pool.assigned == 10
    assert Seat.objects.live().filter(allocation=pool).count() == 10


@pytest.mark.parametrize("round_", ROUNDS)
def test_one_employee_claiming_twenty_times_at_once_gets_one_seat(setup, round_):
    department, program = setup
    pool = AllocationFactory(program=program, agency=department, quantity=10)
    person = EmployeeFactory(agency=department, email="eager@race.gov")
    actor = Actor.system("test")

    results = race(20, lambda i: services.seat_claim(allocation=pool, employee=person, actor=actor))

    assert kinds(results) == Counter({"Seat": 1, "AlreadyClaimed": 19})
    pool.refresh_from_db()
    assert pool.assigned == 1
    assert Seat.objects.filter(employee=person).count() == 1


@pytest.mark.parametrize("round_", ROUNDS)
def test_concurrent_splits_never_let_children_exceed_the_parent(setup, round_):
    department, program = setup
    parent = AllocationFactory(program=program, agency=department, quantity=100)
    bureaus = [AgencyFactory(parent=department, slug=f"race-bureau-{i}") for i in range(20)]
    actor = Actor.system("test")

    split_ok: list[int] = []

    def split(i: int) -> object:
        # Mix splits with resizes of bureaus already split, to race both paths to the parent.
        child = services.allocation_split(parent=parent, agency=bureaus[i], quantity=10, actor=actor)
        split_ok.append(i)
        if i % 3 == 0:
            services.allocation_resize(allocation=child, quantity=15, actor=actor)
        return child

    results = race(20, split)

    parent.refresh_from_db()
    children = Allocation.objects.filter(parent=parent)
    assert sum(c.quantity for c in children) == parent.reserved_for_children <= parent.quantity
    assert all(isinstance(r, Allocation | ParentPoolExceeded) for r in results), kinds(results)
    assert children.count() == len(split_ok) >= 6
    assert parent.quantity - parent.reserved_for_children < 10  # no split that fitted was refused


@pytest.mark.parametrize("round_", ROUNDS)
def test_claims_and_revokes_interleaved_keep_the_counter_true(setup, round_):
    department, program = setup
    pool = AllocationFactory(program=program, agency=department, quantity=5)
    actor = Actor.system("test")
    holders = [EmployeeFactory(agency=department, email=f"h{i}@race.gov") for i in range(5)]
    seats = [services.seat_claim(allocation=pool, employee=h, actor=actor) for h in holders]
    newcomers = [EmployeeFactory(agency=department, email=f"n{i}@race.gov") for i in range(15)]

    def work(i: int) -> object:
        if i < 5:
            return services.seat_revoke(seat=seats[i], actor=actor, reason="race")
        return services.seat_claim(allocation=pool, employee=newcomers[i - 5], actor=actor)

    results = race(20, work)

    assert all(isinstance(r, Seat | PoolExhausted) for r in results), kinds(results)
    pool.refresh_from_db()
    live = Seat.objects.live().filter(allocation=pool).count()
    assert pool.assigned == live <= 5


@pytest.mark.parametrize("round_", range(3))
def test_two_expiry_runs_at_once_expire_each_seat_once(setup, round_):
    department, program = setup
    pool = AllocationFactory(program=program, agency=department, quantity=300)
    actor = Actor.system("test")
    for i in range(300):
        services.seat_claim(
            allocation=pool,
            employee=EmployeeFactory(agency=department, email=f"x{i}@race.gov"),
            actor=actor,
        )

    results = race(2, lambda i: services.seats_expire(now=pool.term_ends_at, batch_size=25))

    assert sum(results) == 300, results
    pool.refresh_from_db()
    assert pool.assigned == 0
    from audit.models import AuditEvent

    assert AuditEvent.objects.filter(verb="seat.expire").count() == 300


def test_the_database_refuses_child_pools_that_do_not_add_up(setup):
    department, program = setup
    parent = AllocationFactory(program=program, agency=department, quantity=10)
    bureau = AgencyFactory(parent=department, slug="race-bureau-x")
    services.allocation_split(parent=parent, agency=bureau, quantity=4, actor=Actor.system("test"))
    with pytest.raises(IntegrityError, match="seats_allocation_children_within_parent"), transaction.atomic():
        Allocation.objects.filter(agency=bureau).update(quantity=9)
    assert Allocation.objects.get(agency=bureau).quantity == 4


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_claim_racing_the_leaver_never_leaves_a_suspended_person_a_seat(setup, round_):
    from agencies.lifecycle import employee_suspend
    from agencies.models import Employee

    department, program = setup
    pool = AllocationFactory(program=program, agency=department, quantity=50)
    people = [EmployeeFactory(agency=department, email=f"leaver{i}@race.gov") for i in range(15)]
    actor = Actor.system("test")

    def work(index: int) -> object:
        person = people[index // 2]
        if index % 2:
            return employee_suspend(employee=person, actor=actor)
        return services.seat_claim(allocation=pool, employee=person, actor=actor)

    results = race(2 * len(people), work)

    assert not [r for r in results if isinstance(r, Exception) and type(r).__name__ != "EmployeeNotActive"]
    assert Employee.objects.filter(email__startswith="leaver", status=Employee.Status.SUSPENDED).count() == 15
    assert not Seat.objects.live().filter(allocation=pool).exists()
    pool.refresh_from_db()
    assert pool.assigned == 0
