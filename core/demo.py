"""The demo data set: a GSA administrator, the OneGov program, real agencies' pools sized from
their OPM headcounts, a bureau sub-pool, and employees holding seats in several states.

Idempotent: running it again finds what it made and makes nothing twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from agencies.models import Agency, Employee, RoleAssignment
from agencies.services import agency_update_policy, employee_create, role_assign
from audit.actors import Actor
from billing.models import RenewalOrder
from billing.services import renewal_request
from core.errors import DomainError
from seats.models import Allocation, Program, Seat
from seats.services import (
    allocation_create,
    allocation_split,
    program_create,
    seat_claim,
    seat_reject,
    seat_revoke,
    waitlist_join,
)

DEMO = Actor.system("demo")
PROGRAM_NAME = "ChatGPT Enterprise (OneGov)"
# (agency slug, email domain, pool size as a share of headcount)
POOLS = [
    ("va", "va.gov", 1),
    ("treasury", "treasury.gov", 1),
    ("hhs", "hhs.gov", 1),
    ("gsa", "gsa.gov", 1),
    ("ssa", "ssa.gov", 1),
    ("nasa", "nasa.gov", 1),
]
BUREAU_SPLIT = ("hhs", "nih", "nih.gov", 5000)
TINY_POOL = ("oge", "oge.gov", 3)  # a full pool, to show the waitlist
FIRST = [
    "Avery",
    "Jordan",
    "Riley",
    "Morgan",
    "Casey",
    "Quinn",
    "Harper",
    "Rowan",
    "Emerson",
    "Sawyer",
]
LAST = [
    "Nguyen",
    "Garcia",
    "Okafor",
    "Smith",
    "Kowalski",
    "Haddad",
    "Johnson",
    "Lopez",
    "Chen",
    "Brown",
]


@dataclass
class DemoResult:
    username: str = "gsa-admin"
    password: str = ""
    agency_admin: str = "hhs-admin"
    # Agencies signing in through the development IdP, and an employee of each to try.
    sign_in_examples: list[tuple[str, str]] = field(default_factory=list)
    program: Program | None = None
    pools: list[Allocation] = field(default_factory=list)
    employees: int = 0
    seats: dict[str, int] = field(default_factory=dict)


def _user(username: str, email: str, password: str, *, superuser: bool):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.email = email
    user.is_staff = True
    user.is_superuser = superuser
    user.set_password(password)
    user.save()
    return user


def _employees(agency: Agency, domain: str, count: int) -> list[Employee]:
    people = []
    for index in range(count):
        given, family = FIRST[index % len(FIRST)], LAST[(index // len(FIRST) + index) % len(LAST)]
        email = f"{given}.{family}{index}@{domain}".lower()
        employee = Employee.objects.filter(email=email).first() or employee_create(
            agency=agency,
            email=email,
            source=Employee.Source.MANUAL,
            actor=DEMO,
            given_name=given,
            family_name=family,
            employee_number=f"DEMO{index:05d}",
        )
        people.append(employee)
    return people


def _claim(allocation: Allocation, employee: Employee) -> Seat | None:
    earlier = Seat.objects.filter(program_id=allocation.program_id, employee=employee).first()
    if earlier is not None:
        return earlier
    try:
        return seat_claim(allocation=allocation, employee=employee, actor=DEMO)
    except DomainError:
        return Seat.objects.filter(program_id=allocation.program_id, employee=employee).first()


def build_demo(password: str | None = None) -> DemoResult:
    result = DemoResult(password=password or secrets.token_urlsafe(12))
    admin = _user(result.username, "gsa-admin@gsa.gov", result.password, superuser=True)
    role_assign(user=admin, role=RoleAssignment.Role.GSA_ADMIN, actor=DEMO)
    hhs = Agency.objects.get(slug="hhs")
    hhs_admin = _user(result.agency_admin, "hhs-admin@hhs.gov", result.password, superuser=False)
    role_assign(user=hhs_admin, role=RoleAssignment.Role.AGENCY_ADMIN, agency=hhs, actor=DEMO)

    program = Program.objects.filter(name=PROGRAM_NAME).first() or program_create(
        name=PROGRAM_NAME,
        vendor="OpenAI",
        product="ChatGPT Enterprise",
        actor=admin,
        term_months=12,
        price_per_agency=Decimal("1.00"),
        description=(
            "GSA OneGov agreement: ChatGPT Enterprise for the federal executive branch, "
            "$1 per agency for the first year."
        ),
        renewal_terms="After the first year an agency renews at GSA's price or lets its pool expire.",
        workspace_url="https://chatgpt.com/",
    )
    result.program = program

    with transaction.atomic():
        agency_update_policy(agency=hhs, actor=hhs_admin, claims_require_approval=True)

    def pool(slug: str, size: int) -> Allocation:
        agency = Agency.objects.get(slug=slug)
        existing = Allocation.objects.filter(program=program, agency=agency).first()
        return existing or allocation_create(program=program, agency=agency, quantity=size, actor=admin)

    for slug, domain, share in POOLS:
        agency = Agency.objects.get(slug=slug)
        allocation = pool(slug, max(1, agency.headcount * share))
        result.pools.append(allocation)
        people = _employees(agency, domain, 12)
        seats = [_claim(allocation, person) for person in people[:9]]
        if slug == "va" and seats[0] and seats[0].is_live:
            seat_revoke(seat=seats[0], actor=admin, reason="left the agency")
        if slug == "hhs":
            requested = [s for s in seats if s and s.state == Seat.State.REQUESTED]
            if len(requested) > 6:
                seat_reject(seat=requested[0], actor=hhs_admin, reason="not in an approved role")
        result.employees += len(people)

    parent = Allocation.objects.get(program=program, agency__slug=BUREAU_SPLIT[0])
    nih = Agency.objects.get(slug=BUREAU_SPLIT[1])
    bureau_pool = Allocation.objects.filter(program=program, agency=nih).first() or allocation_split(
        parent=parent, agency=nih, quantity=BUREAU_SPLIT[3], actor=hhs_admin
    )
    result.pools.append(bureau_pool)
    for person in _employees(nih, BUREAU_SPLIT[2], 6)[:4]:
        _claim(bureau_pool, person)
    result.employees += 6

    tiny_slug, tiny_domain, tiny_size = TINY_POOL
    tiny = pool(tiny_slug, tiny_size)
    result.pools.append(tiny)
    people = _employees(tiny.agency, tiny_domain, 5)
    for person in people:
        if _claim(tiny, person) is None:
            waitlist_join(allocation=tiny, employee=person, actor=DEMO)
    result.employees += 5

    # A renewal request waiting for GSA, so /gsa/renewals/ has something to decide.
    treasury = Allocation.objects.get(program=program, agency__slug="treasury")
    if not RenewalOrder.objects.filter(allocation=treasury).exists():
        renewal_request(
            allocation=treasury,
            seats=treasury.quantity,
            actor=admin,
            purchase_order="TREAS-PO-2026-0001",
            line_of_accounting="020-X-0101-000-2026",
            billing_email="ap@treasury.gov",
        )

    for state in Seat.State:
        result.seats[state.label] = Seat.objects.filter(program=program, state=state).count()
    result.sign_in_examples = _connect_development_idp()
    return result


def _connect_development_idp() -> list[tuple[str, str]]:
    """Point the demo agencies at the in-project development IdP (only where it is switched on)."""
    from django.conf import settings

    from sso.dev_idp import register_demo_agencies

    if not settings.SSO_DEV_IDP:
        return []
    slugs = [slug for slug, _, _ in POOLS] + [TINY_POOL[0]]
    return register_demo_agencies(slugs=slugs, actor=DEMO)
