"""Audit verbs read as sentences in the portal; every verb the code records has one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps

from audit.verbs import LABELS, change_lines, verb_label
from provisioning.scim.models import ScimSeatGrant

ROOT = Path(__file__).resolve().parents[2]
APPS = ("agencies", "audit", "billing", "core", "provisioning", "seats", "sso", "config")
LITERAL = re.compile(r"[\"']([a-z_]+(?:\.[a-z_]+)+)[\"']")
# Where a verb is handed to the audit trail: ``verb=...`` (also in conditional expressions and
# in the bulk and transition helpers), ``audit_order(order, "renewal.x", ...)``, and set-based SQL.
RECORDING = re.compile(r"\bverb\s*=|audit_order\(|AS verb|'seat\.[a-z_]+',")


def recorded_verbs() -> set[str]:
    found: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "verbs.py":
                continue
            for line in path.read_text().splitlines():
                if RECORDING.search(line):
                    found |= set(LITERAL.findall(line))
    found |= {f"scim_grant.{state}" for state in ScimSeatGrant.State.values}
    return {text for text in found if not _is_model_label(text)}  # target_type="agencies.agency"


def _is_model_label(text: str) -> bool:
    try:
        apps.get_model(text)
    except (LookupError, ValueError):
        return False
    return True


def test_every_verb_the_code_records_has_a_sentence():
    verbs = recorded_verbs()
    assert len(verbs) > 70, "the scan found too few verbs: has the way verbs are passed changed?"
    assert sorted(verbs - LABELS.keys()) == []


def test_every_sentence_belongs_to_a_verb_the_code_records():
    assert sorted(LABELS.keys() - recorded_verbs()) == []


def test_an_unknown_verb_reads_as_legible_words_not_an_error():
    assert verb_label("seat.revoke") == "Seat revoked"
    assert verb_label("widget.took_off") == "Widget took off"


@pytest.mark.parametrize(
    ("before", "after", "lines"),
    [
        ({"status": "active"}, {"status": "suspended"}, ["status: active → suspended"]),
        (None, {"quantity": 500, "note": ""}, ["quantity: 500", "note: (none)"]),
        ({"email": "a@x.gov"}, {}, ["email: a@x.gov → (removed)"]),
        (None, {"emails": [{"value": "a@x.gov"}]}, ['emails: [{"value": "a@x.gov"}]']),
        (None, None, []),
        (None, "revoked", ["revoked"]),
    ],
)
def test_changes_read_one_field_per_line(before, after, lines):
    assert change_lines(before, after) == lines
