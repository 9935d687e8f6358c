"""Reads the shipped federal data files and plans the agency tree and its domains.

Pure functions: no database here. ``load_federal_data`` applies the plan idempotently.
Files are parsed by header name, since the upstream column names move over time.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.text import slugify

DATA_DIR = Path(__file__).resolve().parent / "data"
FEDSCOPE_FILE = "opm-fedscope-employment-by-subagency-2025-03.txt"
CODES_FILE = "opm-agency-subagency-codes-2025-09.csv"
CROSSWALK_FILE = "dotgov-org-to-opm-agency-crosswalk.csv"
CURATION_FILE = "agency-curation.csv"
OVERRIDES_FILE = "dotgov-org-overrides.csv"
FEDERAL_DOMAINS_FILE = "current-federal.csv"
ALL_DOMAINS_FILE = "current-full.csv"

HEADCOUNT_DATECODE = "202503"
AGGREGATE_CODE = "10_OR_LESS"
UNKNOWN_SUBAGENCY = "UNKN"
FEDERAL_EXECUTIVE = "Federal - Executive"
CABINET = "Cabinet Level Agencies"

_SMALL_WORDS = {"a", "an", "and", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
_KEEP_UPPER = {"U.S.", "US", "USA", "II", "III", "IV", "DC", "D.C.", "NASA", "FBI", "IRS", "CHIP"}


@dataclass
class AgencySpec:
    """One node of the planned tree."""

    key: str
    parent_key: str | None
    name: str
    opm_name: str
    opm_code: str | None
    kind: str
    size_class: str = ""
    abbreviation: str = ""
    slug: str = ""
    own_headcount: int = 0
    headcount: int = 0
    children: list[str] = field(default_factory=list)


@dataclass
class FederalPlan:
    agencies: dict[str, AgencySpec]
    order: list[str]  # parents before children
    domains: dict[str, str]  # executive domain -> agency key
    headcount_total: int


@dataclass(frozen=True)
class RegistryRow:
    domain: str
    domain_type: str
    organization_name: str
    suborganization_name: str
    city: str
    state: str


def normalize_name(name: str) -> str:
    text = name.lower().replace("&", " and ")
    text = re.sub(r"\(.*?\)", " ", text)
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"\b(the|u s|us|united states)\b", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def title_case(name: str) -> str:
    """``DEPARTMENT OF THE AIR FORCE`` -> ``Department of the Air Force``; mixed case is kept."""
    if name != name.upper():
        return name.strip()
    words = re.sub(r"\s+", " ", name.strip()).split(" ")
    out = []
    for index, word in enumerate(words):
        if word in _KEEP_UPPER or (re.fullmatch(r"\(?[A-Z0-9]{1,5}\)?", word) and "(" in word):
            out.append(word)
        elif index > 0 and word.lower() in _SMALL_WORDS:
            out.append(word.lower())
        else:
            out.append(
                re.sub(
                    r"[A-Za-z][^-/]*",
                    lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(),
                    word,
                )
            )
    return " ".join(out)


def _read_csv(path: Path, delimiter: str = ",") -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle, delimiter=delimiter):
            yield {(k or "").strip(): (v or "").strip() for k, v in row.items()}


def read_registry(data_dir: Path = DATA_DIR) -> list[RegistryRow]:
    """Every .gov domain in the registry, federal or not, lower-cased and de-duplicated."""
    rows: dict[str, RegistryRow] = {}
    for source in (ALL_DOMAINS_FILE, FEDERAL_DOMAINS_FILE):
        for row in _read_csv(data_dir / source):
            domain = row["Domain name"].lower().strip(".")
            if not domain:
                continue
            rows[domain] = RegistryRow(
                domain=domain,
                domain_type=row["Domain type"],
                organization_name=row["Organization name"],
                suborganization_name=row.get("Suborganization name", ""),
                city=row.get("City", ""),
                state=row.get("State", ""),
            )
    return sorted(rows.values(), key=lambda r: r.domain)


def build_plan(data_dir: Path = DATA_DIR) -> FederalPlan:
    curation = {row["opm_code"]: row for row in _read_csv(data_dir / CURATION_FILE)}

    # OPM's code table: agency code -> (name, size class), and its sub-agencies.
    agency_names: dict[str, str] = {}
    size_classes: dict[str, str] = {}
    subagencies: dict[str, dict[str, str]] = defaultdict(dict)
    for row in _read_csv(data_dir / CODES_FILE):
        sub = row["AGYSUB"]
        code = sub[:2]
        agency_names.setdefault(code, row["AGYT"])
        size_classes.setdefault(code, row["AGYTYPT"])
        subagencies[code][sub] = row["AGYSUBT"]

    # FedScope March 2025: counts per sub-agency; a few codes only appear here.
    counts: dict[str, int] = defaultdict(int)
    sub_agency_of: dict[str, str] = {}
    for row in _read_csv(data_dir / FEDSCOPE_FILE, delimiter="\t"):
        if row["DATECODE"] != HEADCOUNT_DATECODE:
            continue
        agy, sub = row["AGY"], row["AGYSUB"]
        counts[sub] += int(row["EMPCOUNT"])
        sub_agency_of[sub] = agy
        if agy == AGGREGATE_CODE:
            continue
        agency_names.setdefault(agy, row["AGYT"])
        if sub != UNKNOWN_SUBAGENCY and sub not in subagencies[agy]:
            subagencies[agy][sub] = row["AGYSUBT"]

    crosswalk = list(_read_csv(data_dir / CROSSWALK_FILE))
    dotgov_name_for_code: dict[str, str] = {}
    for row in crosswalk:
        codes = [c for c in row["opm_codes"].split(";") if c and not c.startswith("-")]
        if len(codes) == 1:
            dotgov_name_for_code[codes[0]] = row["dotgov_organization_name"]

    specs: dict[str, AgencySpec] = {}

    def add(spec: AgencySpec) -> None:
        specs[spec.key] = spec

    # Synthetic parents from the curation file (rows whose code OPM does not know, e.g. EOP).
    for code, row in curation.items():
        if code not in agency_names and len(code) != 4:
            add(
                AgencySpec(
                    key=code,
                    parent_key=None,
                    name=row["name"],
                    opm_name="",
                    opm_code=None,
                    kind="independent",
                    abbreviation=row["abbreviation"],
                    slug=row["slug"],
                )
            )

    sub_key_for: dict[str, str] = {}  # OPM sub-agency code -> node key that holds its count
    for code, opm_name in agency_names.items():
        cur = curation.get(code, {})
        parent_key = cur.get("parent_opm_code") or None
        is_cabinet = size_classes.get(code, "") == CABINET
        kind = "bureau" if parent_key else ("department" if is_cabinet else "independent")
        name = cur.get("name") or dotgov_name_for_code.get(code) or title_case(opm_name)
        add(
            AgencySpec(
                key=code,
                parent_key=parent_key,
                name=name,
                opm_name=opm_name,
                opm_code=code,
                kind=kind,
                size_class=size_classes.get(code, ""),
                abbreviation=cur.get("abbreviation", ""),
                slug=cur.get("slug", ""),
            )
        )
        for sub, sub_name in sorted(subagencies[code].items()):
            # A sub-agency named like its agency is the agency itself (small agencies, "DN00").
            if normalize_name(sub_name) == normalize_name(opm_name):
                sub_key_for[sub] = code
                continue
            sub_cur = curation.get(sub, {})
            add(
                AgencySpec(
                    key=sub,
                    parent_key=code,
                    name=sub_cur.get("name") or dotgov_name_for_code.get(sub) or title_case(sub_name),
                    opm_name=sub_name,
                    opm_code=sub,
                    kind="office" if parent_key else "bureau",
                    size_class=size_classes.get(code, ""),
                    abbreviation=sub_cur.get("abbreviation", ""),
                    slug=sub_cur.get("slug", ""),
                )
            )
            sub_key_for[sub] = sub

    add(
        AgencySpec(
            key=AGGREGATE_CODE,
            parent_key=None,
            name="Agencies with 10 or fewer employees (OPM aggregate)",
            opm_name=AGGREGATE_CODE,
            opm_code=AGGREGATE_CODE,
            kind="aggregate",
            slug="opm-10-or-fewer",
        )
    )
    sub_key_for[AGGREGATE_CODE] = AGGREGATE_CODE
    sub_key_for[UNKNOWN_SUBAGENCY] = "HU"

    # .gov organizations OPM has no data for still hold domains: they become agencies too.
    overrides = {
        row["dotgov_organization_name"]: row["opm_code"] for row in _read_csv(data_dir / OVERRIDES_FILE)
    }
    org_key: dict[str, str] = {}
    for row in crosswalk:
        org = row["dotgov_organization_name"]
        codes = [c for c in row["opm_codes"].split(";") if c and not c.startswith("-")]
        if org in overrides:
            org_key[org] = overrides[org]
        elif codes:
            org_key[org] = codes[0]
        else:
            key = f"dotgov:{slugify(org)}"
            add(
                AgencySpec(
                    key=key,
                    parent_key=None,
                    name=org,
                    opm_name="",
                    opm_code=None,
                    kind="independent",
                    slug=slugify(org)[:80],
                )
            )
            org_key[org] = key

    for spec in specs.values():
        if spec.parent_key:
            specs[spec.parent_key].children.append(spec.key)
    for sub, count in counts.items():
        specs[sub_key_for[sub]].own_headcount += count

    order = _parents_first(specs)
    for key in reversed(order):
        spec = specs[key]
        spec.headcount = spec.own_headcount + sum(specs[c].headcount for c in spec.children)
    _assign_slugs(specs, order)

    domains = _plan_domains(data_dir, specs, org_key)
    total = sum(s.headcount for s in specs.values() if s.parent_key is None)
    return FederalPlan(agencies=specs, order=order, domains=domains, headcount_total=total)


def _parents_first(specs: dict[str, AgencySpec]) -> list[str]:
    order: list[str] = []

    def visit(key: str) -> None:
        order.append(key)
        for child in sorted(specs[key].children, key=lambda k: specs[k].name):
            visit(child)

    for key in sorted((k for k, s in specs.items() if s.parent_key is None), key=lambda k: specs[k].name):
        visit(key)
    return order


def _assign_slugs(specs: dict[str, AgencySpec], order: list[str]) -> None:
    taken = {s.slug for s in specs.values() if s.slug}
    for key in order:
        spec = specs[key]
        if spec.slug:
            continue
        if spec.parent_key:
            parent = specs[spec.parent_key]
            base = slugify(f"{parent.abbreviation or parent.slug} {spec.name}")
        else:
            base = slugify(spec.name)
        slug = base[:80].rstrip("-")
        if slug in taken:
            slug = f"{base[:70].rstrip('-')}-{slugify(spec.opm_code or key)}"
        taken.add(slug)
        spec.slug = slug


def _plan_domains(data_dir: Path, specs: dict[str, AgencySpec], org_key: dict[str, str]) -> dict[str, str]:
    """Each executive .gov domain -> the most specific agency node that owns it."""
    subtree_names: dict[str, dict[str, str]] = {}

    def names_under(key: str) -> dict[str, str]:
        if key not in subtree_names:
            found: dict[str, str] = {}
            stack = list(specs[key].children)
            while stack:
                child = specs[stack.pop()]
                found.setdefault(normalize_name(child.name), child.key)
                if child.opm_name:
                    found.setdefault(normalize_name(child.opm_name), child.key)
                stack.extend(child.children)
            subtree_names[key] = found
        return subtree_names[key]

    domains: dict[str, str] = {}
    for row in _read_csv(data_dir / FEDERAL_DOMAINS_FILE):
        if row["Domain type"] != FEDERAL_EXECUTIVE:
            continue
        owner = org_key.get(row["Organization name"])
        if owner is None:
            continue
        suborg = row.get("Suborganization name", "")
        if suborg:
            owner = names_under(owner).get(normalize_name(suborg), owner)
        domains[row["Domain name"].lower()] = owner
    return domains
