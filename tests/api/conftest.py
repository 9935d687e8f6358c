"""A small federal world for the API tests, and clients signed in the two ways the API accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from rest_framework.test import APIClient

from agencies.models import Agency, AgencyDomain, Employee, RoleAssignment
from agencies.services import agency_domain_add, agency_update_policy
from audit.actors import Actor
from audit.models import AuditEvent
from billing.models import RenewalOrder
from billing.services import renewal_request
from core.api_tokens import api_token_create
from core.models import ApiToken
from provisioning.scim.models import ScimToken
from provisioning.scim.tokens import scim_token_create
from seats.models import Allocation, Program, Seat
from seats.services import seat_claim
from tests.conftest import complete_mfa
from tests.factories import AllocationFactory, ProgramFactory, UserFactory
from tests.portal import fake_dns

SYSTEM = Actor.system("test")
HOST = "api.seats.test"
ROLES = ("anonymous", "employee", "onboarding_staff", "other_agency_admin", "agency_admin", "gsa_admin")


@dataclass
class World:
    """Everything the endpoints name, all inside ``department`` unless said otherwise."""

    department: Agency
    bureau: Agency
    other_department: Agency
    program: Program
    pool: Allocation
    second_pool: Allocation
    users: dict[str, User]
    ada: Employee  # the signed-in employee, holding an active seat
    bob: Employee  # has a claim waiting for approval
    carol: Employee  # on the roster, no seat
    active_seat: Seat
    requested_seat: Seat
    pending_domain: AgencyDomain
    scim_token: ScimToken
    order: RenewalOrder
    staff_assignment: RoleAssignment
    audit_event: AuditEvent
    api_tokens: dict[str, ApiToken] = field(default_factory=dict)

    def path_values(self) -> dict[str, Any]:
        """Path parameters naming objects of ``department`` (the agency administrator's own token)."""
        return {
            "slug": self.department.slug,
            "employee_id": self.carol.uuid,
            "allocation_id": self.pool.uuid,
            "order_id": self.order.uuid,
            "audit_pk": self.audit_event.pk,
            "domain_pk": self.pending_domain.pk,
            "assignment_pk": self.staff_assignment.pk,
            "scim_token_pk": self.scim_token.pk,
            "api_token_pk": self.api_tokens["agency_admin"].pk,
        }


@pytest.fixture(autouse=True)
def _api_settings(settings):
    settings.DNS_TXT_RESOLVER = "tests.portal.fake_dns.published"
    settings.API_RATE_LIMIT = "100000/min"
    settings.API_ANON_RATE_LIMIT = "100000/min"
    cache.clear()
    fake_dns.RECORDS.clear()
    yield
    fake_dns.RECORDS.clear()


@pytest.fixture
def world(department, bureau, other_department, gsa_admin, agency_admin, onboarding_staff, outsider_admin):

    program = ProgramFactory(name="ChatGPT Enterprise (OneGov)", slug="chatgpt-onegov")
    pool = AllocationFactory(program=program, agency=department, quantity=10)
    second_pool = AllocationFactory(
        program=ProgramFactory(slug="claude-onegov"), agency=department, quantity=5
    )
    ada = Employee.objects.create(
        agency=department, email="ada@examples.gov", given_name="Ada", source=Employee.Source.MANUAL
    )
    bob = Employee.objects.create(agency=department, email="bob@examples.gov", source=Employee.Source.MANUAL)
    carol = Employee.objects.create(agency=bureau, email="carol@samples.gov", source=Employee.Source.MANUAL)
    employee_user = UserFactory(username="ada", email=ada.email)
    Employee.objects.filter(pk=ada.pk).update(user=employee_user)
    active_seat = seat_claim(allocation=pool, employee=ada, actor=SYSTEM)
    agency_update_policy(agency=department, actor=SYSTEM, claims_require_approval=True)
    requested_seat = seat_claim(
        allocation=Allocation.objects.select_related("agency", "program").get(pk=pool.pk),
        employee=bob,
        actor=SYSTEM,
    )
    agency_update_policy(agency=department, actor=SYSTEM, claims_require_approval=False)
    department.refresh_from_db()
    pending_domain = agency_domain_add(agency=department, domain="examples.mil", actor=SYSTEM)
    fake_dns.RECORDS["examples.mil"] = [f"ai-seats-verification={pending_domain.verification_token}"]
    scim_token = scim_token_create(agency=department, name="Entra ID", actor=SYSTEM).token
    order = renewal_request(allocation=second_pool, seats=5, actor=SYSTEM, purchase_order="PO-1")
    users = {
        "employee": employee_user,
        "onboarding_staff": onboarding_staff,
        "other_agency_admin": outsider_admin,
        "agency_admin": agency_admin,
        "gsa_admin": gsa_admin,
    }
    UserFactory(username="newcomer", email="newcomer@examples.gov")
    world = World(
        department=department,
        bureau=bureau,
        other_department=other_department,
        program=program,
        pool=pool,
        second_pool=second_pool,
        users=users,
        ada=ada,
        bob=bob,
        carol=carol,
        active_seat=active_seat,
        requested_seat=requested_seat,
        pending_domain=pending_domain,
        scim_token=scim_token,
        order=order,
        staff_assignment=RoleAssignment.objects.get(user=onboarding_staff),
        audit_event=AuditEvent.objects.filter(agency=department).order_by("id").first(),
    )
    for role, user in users.items():
        world.api_tokens[role] = api_token_create(
            user=user, name=f"{role} sync", scope=ApiToken.Scope.READ_WRITE, actor=SYSTEM
        ).token
    return world


def session_client(user: User | None) -> APIClient:
    """The portal's way in: a session (staff with their second factor confirmed)."""
    client = APIClient(HTTP_HOST=HOST)
    if user is None:
        return client
    if RoleAssignment.objects.filter(user=user).exists():
        complete_mfa(client, user)
    else:
        client.force_login(user)
    return client


def token_client(secret: str) -> APIClient:
    client = APIClient(HTTP_HOST=HOST)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def as_role(world):
    """``as_role("agency_admin")``: a session client for one of the matrix's roles."""

    def make(role: str) -> APIClient:
        return session_client(None if role == "anonymous" else world.users[role])

    return make


@pytest.fixture
def bearer(world):
    """``bearer(user, scope="read_write", days=30)``: a token client for ``user``."""

    def make(user: User, scope: str = ApiToken.Scope.READ_WRITE, days: int = 30) -> APIClient:
        issued = api_token_create(user=user, name="test", scope=scope, expires_in_days=days, actor=SYSTEM)
        return token_client(issued.secret)

    return make
