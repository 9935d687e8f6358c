"""Applies the federal data plan to the database, idempotently, with progress output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from agencies.federal_data import DATA_DIR, FederalPlan, build_plan, read_registry
from agencies.models import Agency, AgencyDomain, RegisteredDomain
from agencies.services import _agency_insert, agency_path_for
from audit.actors import Actor
from audit.services import audit_record_many
from core.progress import Progress

LOADER = Actor.system("load_federal_data")
AGENCY_FIELDS = ("name", "opm_name", "kind", "size_class", "headcount", "abbreviation")


@dataclass
class LoadResult:
    registry_created: int = 0
    registry_updated: int = 0
    agencies_created: int = 0
    subagencies_created: int = 0
    agencies_updated: int = 0
    domains_created: int = 0
    domains_kept: list[str] = field(default_factory=list)
    headcount_total: int = 0
    top_level: int = 0
    below_top: int = 0
    executive_domains: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.registry_created,
                self.registry_updated,
                self.agencies_created,
                self.subagencies_created,
                self.agencies_updated,
                self.domains_created,
            )
        )

    def summary_lines(self) -> list[str]:
        lines = [
            f"agencies created: {self.agencies_created}, sub-agencies created: "
            f"{self.subagencies_created}, updated: {self.agencies_updated}",
            f".gov registry domains created: {self.registry_created:,}, updated: {self.registry_updated:,}",
            f"agency email domains created: {self.domains_created:,}",
            f"now loaded: {self.top_level} agencies, {self.below_top} sub-agencies, "
            f"{self.executive_domains:,} executive domains, March 2025 headcount {self.headcount_total:,}",
        ]
        if self.domains_kept:
            lines.append(
                f"left as staff set them ({len(self.domains_kept)} domains now under another agency): "
                + ", ".join(sorted(self.domains_kept)[:10])
            )
        return lines


def load_federal_data(stdout: TextIO | None = None, data_dir=DATA_DIR) -> LoadResult:
    plan = build_plan(data_dir)
    result = LoadResult()
    with transaction.atomic():
        _load_registry(data_dir, result, stdout)
        agency_ids = _load_agencies(plan, result, stdout)
        _load_domains(plan, agency_ids, result, stdout)
    result.top_level = Agency.objects.filter(parent__isnull=True).exclude(kind=Agency.Kind.AGGREGATE).count()
    result.below_top = Agency.objects.filter(parent__isnull=False).count()
    result.headcount_total = (
        Agency.objects.filter(parent__isnull=True).aggregate(total=Sum("headcount"))["total"] or 0
    )
    result.executive_domains = AgencyDomain.objects.filter(method=AgencyDomain.Method.DOTGOV_REGISTRY).count()
    return result


def _load_registry(data_dir, result: LoadResult, stdout: TextIO | None) -> None:
    rows = read_registry(data_dir)
    progress = Progress(".gov registry", len(rows), stdout)
    existing = {r.domain: r for r in RegisteredDomain.objects.all()}
    to_create, to_update = [], []
    fields = ("domain_type", "organization_name", "suborganization_name", "city", "state")
    for row in rows:
        current = existing.get(row.domain)
        if current is None:
            to_create.append(RegisteredDomain(**row.__dict__))
        elif any(getattr(current, f) != getattr(row, f) for f in fields):
            for f in fields:
                setattr(current, f, getattr(row, f))
            to_update.append(current)
        progress.advance()
    RegisteredDomain.objects.bulk_create(to_create, batch_size=2000)
    RegisteredDomain.objects.bulk_update(to_update, fields, batch_size=2000)
    result.registry_created, result.registry_updated = len(to_create), len(to_update)
    progress.finish()


def _load_agencies(plan: FederalPlan, result: LoadResult, stdout: TextIO | None) -> dict[str, int]:
    by_code = {a.opm_code: a for a in Agency.objects.filter(opm_code__isnull=False)}
    by_slug = {a.slug: a for a in Agency.objects.all()}
    ids: dict[str, int] = {}
    nodes: dict[str, Agency] = {}
    created_rows, updated_rows = [], []
    progress = Progress("agencies", len(plan.order), stdout)
    for key in plan.order:
        spec = plan.agencies[key]
        agency = by_code.get(spec.opm_code) if spec.opm_code else by_slug.get(spec.slug)
        parent = nodes[spec.parent_key] if spec.parent_key else None
        values = {f: getattr(spec, f) for f in AGENCY_FIELDS}
        if agency is None:
            agency = _agency_insert(
                agency=Agency(parent=parent, slug=spec.slug, opm_code=spec.opm_code, **values)
            )
            created_rows.append(
                (str(agency.pk), agency.pk, agency.name, None, {"slug": agency.slug, **values})
            )
            if parent is None:
                result.agencies_created += 1
            else:
                result.subagencies_created += 1
        else:
            before = {f: getattr(agency, f) for f in AGENCY_FIELDS if getattr(agency, f) != values[f]}
            moved = (parent.pk if parent else None) != agency.parent_id
            if before or moved:
                for f in before:
                    setattr(agency, f, values[f])
                if moved:
                    _move(agency, parent)
                    before["parent"] = agency.parent_id
                agency.save()
                after = {f: values[f] for f in before if f != "parent"}
                updated_rows.append((str(agency.pk), agency.pk, agency.name, _jsonable(before), after))
                result.agencies_updated += 1
        ids[key] = agency.pk
        nodes[key] = agency
        progress.advance()
    audit_record_many(actor=LOADER, verb="agency.create", target_type="agencies.agency", rows=created_rows)
    audit_record_many(actor=LOADER, verb="agency.update", target_type="agencies.agency", rows=updated_rows)
    progress.finish()
    return ids


def _move(agency: Agency, parent: Agency | None) -> None:
    """Re-hang a node and rewrite the paths of its whole subtree."""
    old_path = agency.path
    agency.parent = parent
    agency.path = agency_path_for(agency)
    agency.depth = agency.path.count("/") - 2
    for descendant in Agency.objects.filter(path__startswith=old_path).exclude(pk=agency.pk):
        descendant.path = agency.path + descendant.path[len(old_path) :]
        descendant.depth = descendant.path.count("/") - 2
        descendant.save(update_fields=["path", "depth"])


def _jsonable(values: dict) -> dict:
    return {
        k: (v if isinstance(v, str | int | float | bool | type(None)) else str(v)) for k, v in values.items()
    }


def _load_domains(
    plan: FederalPlan, agency_ids: dict[str, int], result: LoadResult, stdout: TextIO | None
) -> None:
    existing = dict(AgencyDomain.objects.values_list("domain", "agency_id"))
    now = timezone.now()
    progress = Progress("agency email domains", len(plan.domains), stdout)
    to_create = []
    for domain, key in sorted(plan.domains.items()):
        agency_id = agency_ids[key]
        current = existing.get(domain)
        if current is None:
            to_create.append(
                AgencyDomain(
                    domain=domain,
                    agency_id=agency_id,
                    method=AgencyDomain.Method.DOTGOV_REGISTRY,
                    verified_at=now,
                )
            )
        elif current != agency_id:
            result.domains_kept.append(domain)
        progress.advance()
    created = AgencyDomain.objects.bulk_create(to_create, batch_size=2000)
    created_ids = dict(
        AgencyDomain.objects.filter(domain__in=[d.domain for d in created]).values_list("domain", "pk")
    )
    audit_record_many(
        actor=LOADER,
        verb="domain.add",
        target_type="agencies.agencydomain",
        rows=[
            (
                str(created_ids[d.domain]),
                d.agency_id,
                d.domain,
                None,
                {"method": d.method, "verified": True},
            )
            for d in created
        ],
    )
    result.domains_created = len(created)
    progress.finish()
