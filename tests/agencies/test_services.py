from __future__ import annotations

import pytest

from agencies import services
from agencies.models import AgencyDomain, Employee, RegisteredDomain
from agencies.selectors import Scope, user_scope
from audit.models import AuditEvent
from core.errors import (
    DomainNotFederal,
    DomainTaken,
    EmailDomainUnknown,
    EmployeeExists,
    ForeignAgency,
    InvalidInput,
)
from seats.models import Allocation
from tests.factories import AllocationFactory, RoleAssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(db):
    RegisteredDomain.objects.bulk_create(
        [
            RegisteredDomain(
                domain="newbureau.gov", domain_type="Federal - Executive", organization_name="Dept"
            ),
            RegisteredDomain(
                domain="examples.gov", domain_type="Federal - Executive", organization_name="Dept"
            ),
            RegisteredDomain(
                domain="springfield.gov",
                domain_type="City",
                organization_name="City of Springfield",
            ),
            RegisteredDomain(
                domain="senate.gov", domain_type="Federal - Legislative", organization_name="Senate"
            ),
        ]
    )


class TestDomains:
    def test_a_city_domain_can_never_be_an_agency_domain(self, department, registry, agency_admin):
        with pytest.raises(DomainNotFederal, match="City of Springfield"):
            services.agency_domain_add(agency=department, domain="springfield.gov", actor=agency_admin)
        with pytest.raises(DomainNotFederal):
            services.agency_domain_add(agency=department, domain="mail.springfield.gov", actor=agency_admin)
        assert not AgencyDomain.objects.filter(domain__contains="springfield").exists()

    def test_legislative_and_unregistered_gov_domains_are_refused(self, department, registry, agency_admin):
        with pytest.raises(DomainNotFederal, match="Legislative"):
            services.agency_domain_add(agency=department, domain="senate.gov", actor=agency_admin)
        with pytest.raises(DomainNotFederal, match=r"not in the \.gov registry"):
            services.agency_domain_add(agency=department, domain="madeup.gov", actor=agency_admin)

    def test_an_executive_domain_is_added_unverified_until_its_txt_record_shows(
        self, department, registry, agency_admin
    ):
        row = services.agency_domain_add(agency=department, domain=" NewBureau.GOV. ", actor=agency_admin)
        assert (row.domain, row.verified_at) == ("newbureau.gov", None)
        with pytest.raises(InvalidInput, match="No TXT record"):
            services.agency_domain_verify(agency_domain=row, txt_records=["v=spf1 -all"], actor=agency_admin)
        row = services.agency_domain_verify(
            agency_domain=row,
            txt_records=[f"{services.TXT_PREFIX}{row.verification_token}"],
            actor=agency_admin,
        )
        assert row.verified_at is not None
        assert AuditEvent.objects.filter(verb__in=["domain.add", "domain.verify"]).count() == 2

    def test_a_mil_domain_needs_dns_proof_but_is_allowed(self, department, agency_admin):
        row = services.agency_domain_add(agency=department, domain="army.mil", actor=agency_admin)
        assert row.method == "dns_txt" and not row.is_verified

    def test_one_agency_per_domain(self, department, other_department, registry, agency_admin):
        with pytest.raises(DomainTaken, match="Department of Examples"):
            services.agency_domain_add(agency=other_department, domain="examples.gov", actor=agency_admin)

    @pytest.mark.parametrize("bad", ["", "not a domain", "gov", "-x.gov", "a@b.gov"])
    def test_malformed_domains_are_refused(self, department, agency_admin, bad):
        with pytest.raises(InvalidInput):
            services.agency_domain_add(agency=department, domain=bad, actor=agency_admin)


class TestEmployees:
    def test_create_lowercases_and_audits(self, department, agency_admin):
        person = services.employee_create(
            agency=department,
            email=" Grace.Hopper@Examples.GOV ",
            source="manual",
            actor=agency_admin,
        )
        assert person.email == "grace.hopper@examples.gov"
        assert AuditEvent.objects.filter(verb="employee.create", target_id=str(person.pk)).count() == 1

    def test_an_email_of_another_agency_is_refused(self, department, other_department, agency_admin):
        with pytest.raises(ForeignAgency, match="Department of Elsewhere"):
            services.employee_create(
                agency=department, email="x@elsewhere.gov", source="manual", actor=agency_admin
            )
        assert not Employee.objects.exists()

    def test_an_unknown_domain_is_refused(self, department, agency_admin):
        with pytest.raises(EmailDomainUnknown, match=r"gmail\.com"):
            services.employee_create(
                agency=department, email="x@gmail.com", source="manual", actor=agency_admin
            )

    def test_bureau_staff_may_use_the_departments_domain(self, bureau, agency_admin):
        person = services.employee_create(
            agency=bureau, email="b@examples.gov", source="csv", actor=agency_admin
        )
        assert person.agency == bureau

    def test_the_same_email_twice_is_refused(self, department, agency_admin):
        services.employee_create(
            agency=department, email="a@examples.gov", source="manual", actor=agency_admin
        )
        with pytest.raises(EmployeeExists):
            services.employee_create(
                agency=department, email="A@examples.gov", source="manual", actor=agency_admin
            )

    def test_update_moves_within_the_department_only(
        self, department, bureau, other_department, employee, agency_admin
    ):
        moved = services.employee_update(
            employee=employee, agency=bureau, given_name="Ada", actor=agency_admin
        )
        assert (moved.agency, moved.given_name) == (bureau, "Ada")
        with pytest.raises(ForeignAgency):
            services.employee_update(employee=employee, agency=other_department, actor=agency_admin)


class TestScope:
    def test_agency_admin_sees_their_subtree_only(self, department, bureau, other_department, program):
        user = UserFactory()
        RoleAssignmentFactory(user=user, agency=department)
        scope = user_scope(user)
        assert scope.covers(bureau) and not scope.covers(other_department)
        AllocationFactory(program=program, agency=department)
        AllocationFactory(program=program, agency=other_department)
        assert list(Allocation.objects.visible_to(user).values_list("agency__slug", flat=True)) == ["doe-x"]

    def test_gsa_admin_sees_everything_and_nobody_sees_anything_by_default(self, gsa_admin, department):
        assert user_scope(gsa_admin).is_global
        assert user_scope(UserFactory()) == Scope()
        assert not Employee.objects.visible_to(UserFactory()).exists()

    def test_nested_assignments_collapse_to_the_outermost(self, department, bureau):
        user = UserFactory()
        RoleAssignmentFactory(user=user, agency=department)
        RoleAssignmentFactory(user=user, agency=bureau, role="onboarding_staff")
        assert user_scope(user).paths == (department.path,)
