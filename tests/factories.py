"""Factories for test data. Rows that need bookkeeping (agency paths) go through the same
helpers the services use; seats are always made by the services under test."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from agencies.models import Agency, AgencyDomain, Employee, RegisteredDomain, RoleAssignment
from agencies.services import _agency_insert
from seats.models import Allocation, Program


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@staff.example.gov")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Department of Testing {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")
    kind = factory.LazyAttribute(lambda a: Agency.Kind.BUREAU if a.parent else Agency.Kind.DEPARTMENT)
    parent = None
    headcount = 1000

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return _agency_insert(agency=model_class(*args, **kwargs))


class AgencyDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgencyDomain

    agency = factory.SubFactory(AgencyFactory)
    domain = factory.LazyAttribute(lambda d: f"{d.agency.slug}.gov")
    method = AgencyDomain.Method.DOTGOV_REGISTRY
    verified_at = factory.LazyFunction(timezone.now)


class EmployeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employee

    agency = factory.SubFactory(AgencyFactory)
    email = factory.LazyAttributeSequence(lambda e, n: f"person{n}@{e.agency.slug}.gov")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    source = Employee.Source.MANUAL


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    name = factory.Sequence(lambda n: f"Enterprise AI {n}")
    slug = factory.Sequence(lambda n: f"enterprise-ai-{n}")
    vendor = "Example AI"
    product = "Enterprise"
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))


class AllocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Allocation

    program = factory.SubFactory(ProgramFactory)
    agency = factory.SubFactory(AgencyFactory)
    quantity = 10
    term_starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    term_ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=364))


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = RoleAssignment.Role.AGENCY_ADMIN
    agency = factory.SubFactory(AgencyFactory)


class RenewalOrderFactory(factory.django.DjangoModelFactory):
    """A renewal in any state, for pages and reports; flows under test go through the services."""

    class Meta:
        model = "billing.RenewalOrder"

    allocation = factory.SubFactory(AllocationFactory)
    agency = factory.LazyAttribute(lambda o: o.allocation.agency)
    program = factory.LazyAttribute(lambda o: o.allocation.program)
    seats = 10
    term_starts_at = factory.LazyAttribute(lambda o: o.allocation.term_ends_at)
    term_ends_at = factory.LazyAttribute(lambda o: o.allocation.term_ends_at + timedelta(days=365))
    requested_at = factory.LazyFunction(timezone.now)


class VendorProgramFactory(ProgramFactory):
    """A program whose seats reach the vendor through its SCIM API (pass connector_settings)."""

    connector = Program.Connector.SCIM
    connector_settings = factory.LazyFunction(dict)


class CsvProgramFactory(ProgramFactory):
    """A program whose vendor takes CSV files."""

    connector = Program.Connector.CSV


class RegisteredDomainFactory(factory.django.DjangoModelFactory):
    """A row of CISA's .gov registry (federal executive unless told otherwise)."""

    class Meta:
        model = RegisteredDomain
        django_get_or_create = ("domain",)

    domain = factory.Sequence(lambda n: f"registered{n}.gov")
    domain_type = RegisteredDomain.FEDERAL_EXECUTIVE
    organization_name = "Example organization"
