"""The loader on the real shipped data."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Sum

from agencies.federal_data import build_plan, title_case
from agencies.models import Agency, AgencyDomain, RegisteredDomain
from agencies.selectors import agency_domain_for_email
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    out = io.StringIO()
    call_command("load_federal_data", stdout=out)
    return out.getvalue()


def test_loader_builds_the_federal_tree_with_exact_headcounts(loaded):
    top = Agency.objects.filter(parent__isnull=True).exclude(kind=Agency.Kind.AGGREGATE)
    assert top.count() >= 100
    assert Agency.objects.filter(parent__isnull=False).count() >= 400
    total = Agency.objects.filter(parent__isnull=True).aggregate(t=Sum("headcount"))["t"]
    assert total == 2_289_472
    assert AgencyDomain.objects.filter(method="dotgov_registry").count() >= 1000
    assert RegisteredDomain.objects.count() == 16_539
    assert "March 2025 headcount 2,289,472" in loaded


def test_every_node_headcount_is_the_sum_of_its_own_and_its_childrens(loaded):
    for agency in Agency.objects.prefetch_related("children"):
        children = sum(c.headcount for c in agency.children.all())
        assert agency.headcount >= children, agency


def test_the_tree_has_real_names_codes_and_three_levels(loaded):
    dod = Agency.objects.get(slug="dod")
    army = Agency.objects.get(opm_code="AR")
    assert army.parent == dod and army.kind == Agency.Kind.BUREAU
    assert army.children.filter(kind=Agency.Kind.OFFICE).exists()
    assert dod.headcount == 771_382
    va = Agency.objects.get(slug="va")
    assert (va.name, va.opm_code, va.headcount) == ("Department of Veterans Affairs", "VA", 474_532)
    nih = Agency.objects.get(opm_code="HE38")
    assert nih.parent.slug == "hhs" and nih.headcount == 21_299
    assert Agency.objects.get(slug="eop").children.filter(opm_code="BO").exists()


def test_domains_map_to_their_agencies(loaded):
    assert agency_domain_for_email("someone@va.gov").agency.slug == "va"
    assert agency_domain_for_email("someone@nih.gov").agency.slug == "nih"
    assert agency_domain_for_email("someone@mail.nih.gov").agency.slug == "nih"
    assert agency_domain_for_email("x@cisa.gov").agency.parent.slug == "dhs"
    assert agency_domain_for_email("x@ferc.gov").agency.slug == "ferc"


def test_non_executive_domains_never_become_agency_domains(loaded):
    non_federal = set(
        RegisteredDomain.objects.exclude(domain_type=RegisteredDomain.FEDERAL_EXECUTIVE).values_list(
            "domain", flat=True
        )
    )
    assert len(non_federal) > 15_000
    assert not AgencyDomain.objects.filter(domain__in=non_federal).exists()
    # senate.gov (legislative), uscourts.gov (judicial), a city: in the registry, but no agency's
    for domain in ("senate.gov", "uscourts.gov", "29palms.gov"):
        assert RegisteredDomain.objects.filter(domain=domain).exists()
        assert agency_domain_for_email(f"someone@{domain}") is None


def test_a_second_run_changes_nothing_and_says_so(loaded):
    counts = (
        Agency.objects.count(),
        AgencyDomain.objects.count(),
        RegisteredDomain.objects.count(),
    )
    audit_rows = AuditEvent.objects.count()
    out = io.StringIO()
    call_command("load_federal_data", stdout=out)
    assert (
        Agency.objects.count(),
        AgencyDomain.objects.count(),
        RegisteredDomain.objects.count(),
    ) == counts
    assert AuditEvent.objects.count() == audit_rows
    assert "Nothing to change" in out.getvalue()
    assert "agencies created: 0, sub-agencies created: 0, updated: 0" in out.getvalue()


def test_loader_audits_what_it_created(loaded):
    assert AuditEvent.objects.filter(verb="agency.create").count() == Agency.objects.count()
    assert AuditEvent.objects.filter(verb="domain.add").count() == AgencyDomain.objects.count()


def test_plan_slugs_are_unique_and_paths_nest():
    plan = build_plan()
    slugs = [spec.slug for spec in plan.agencies.values()]
    assert len(slugs) == len(set(slugs))
    assert plan.headcount_total == 2_289_472


@pytest.mark.parametrize(
    "raw, nice",
    [
        ("DEPARTMENT OF THE AIR FORCE", "Department of the Air Force"),
        ("U.S. AGENCY FOR GLOBAL MEDIA", "U.S. Agency for Global Media"),
        ("AIR FORCE INSPECTION AGENCY (FO)", "Air Force Inspection Agency (FO)"),
        (
            "Office of Pandemic Preparedness and Response Policy",
            "Office of Pandemic Preparedness and Response Policy",
        ),
    ],
)
def test_opm_capitals_become_readable_names(raw, nice):
    assert title_case(raw) == nice
