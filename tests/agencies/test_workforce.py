from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from agencies import workforce
from agencies.models import AgencyDomain, Employee

pytestmark = pytest.mark.django_db


@pytest.fixture
def federal(db):
    call_command("load_federal_data", stdout=io.StringIO())


def test_full_scale_quotas_match_the_opm_total_exactly(federal):
    quotas = workforce.plan_quotas(1.0)
    assert sum(q.count for q in quotas) == 2_289_472
    real = sum(q.count for q in quotas if q.real_domain)
    assert real / 2_289_472 > 0.99  # all but the agencies with no executive .gov domain


def test_generated_people_use_their_agencys_real_domain_and_are_deterministic(federal):
    out = io.StringIO()
    call_command("generate_workforce", "--scale", "0.002", "--seed", "7", stdout=out)
    first = list(Employee.objects.order_by("external_id").values_list("email", "agency_id")[:50])
    total = Employee.objects.count()
    assert 4_000 < total < 5_000
    assert f"Created {total:,} employees" in out.getvalue()
    domains = set(AgencyDomain.objects.values_list("domain", flat=True))
    on_real = Employee.objects.exclude(email__endswith=".example").count()
    assert on_real / total > 0.99
    assert all(email.rpartition("@")[2] in domains for email, _ in first if not email.endswith(".example"))

    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_workforce", "--scale", "0.002", "--seed", "7", stdout=io.StringIO())
    call_command("generate_workforce", "--scale", "0.002", "--seed", "7", "--replace", stdout=io.StringIO())
    assert list(Employee.objects.order_by("external_id").values_list("email", "agency_id")[:50]) == first
    assert Employee.objects.count() == total


def test_generation_needs_the_federal_data_first(db):
    with pytest.raises(CommandError, match="load_federal_data"):
        call_command("generate_workforce", "--scale", "0.01", stdout=io.StringIO())


def test_seats_for_a_share_of_the_workforce_keep_pool_counters_true(federal):
    from seats.models import Allocation, Seat
    from seats.scale import PROGRAM_SLUG

    call_command("generate_workforce", "--scale", "0.002", "--seats", "0.5", stdout=io.StringIO())
    people = Employee.objects.count()
    seats = Seat.objects.filter(program__slug=PROGRAM_SLUG)
    assert 0.4 < seats.count() / people < 0.6
    assert {"active", "requested", "revoked"} <= set(seats.values_list("state", flat=True))
    for pool in Allocation.objects.filter(program__slug=PROGRAM_SLUG):
        assert pool.assigned == seats.live().filter(allocation=pool).count() <= pool.quantity
