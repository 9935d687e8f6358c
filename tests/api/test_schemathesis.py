"""Schemathesis against /api/schema/, in process through the WSGI application.

Signed in (by API token) as a GSA administrator and as an agency administrator, every operation is
fed schema-conforming and schema-violating requests from a fixed seed. No answer may be a 5xx, and
every answer must match the schema: a documented status, content type, headers and body.

Each operation runs in a savepoint rolled back after it, so each meets the same world. Path
parameters and the ids inside bodies are swapped for real objects in two cases out of three, so
the code behind the 404 runs too.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
POSITIVE_EXAMPLES = 16
NEGATIVE_EXAMPLES = 6
MINIMUM_CASES = 1000
CASES: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()


@pytest.fixture
def in_process_wsgi():
    """The WSGI handler closes connections at the end of each request; inside a test's transaction
    that would throw the test database away, so (like Django's test client) stop it for now."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def real_values(world: Any, path: str) -> dict[str, Any]:
    values = world.path_values()
    pk = {
        "/api/v1/tokens/{id}/": values["api_token_pk"],
        "/api/v1/domains/{id}/": values["domain_pk"],
        "/api/v1/domains/{id}/verify/": values["domain_pk"],
        "/api/v1/role-assignments/{id}/": values["assignment_pk"],
        "/api/v1/scim-tokens/{id}/": values["scim_token_pk"],
        "/api/v1/audit-events/{id}/": values["audit_pk"],
    }.get(path)
    seat = world.requested_seat if path.endswith(("approve/", "reject/")) else world.active_seat
    return {
        "id": pk,
        "slug": world.program.slug if path.startswith("/api/v1/programs/") else world.department.slug,
        "employee_id": str(world.carol.uuid),
        "allocation_id": str(world.pool.uuid),
        "order_id": str(world.order.uuid),
        "seat_id": str(seat.uuid),
    }


def steer(case: Any, world: Any, index: int) -> None:
    """Two cases in three name real objects in the path and in the body's references."""
    if index % 3 == 0:
        return
    known = real_values(world, case.operation.path)
    for name in list(case.path_parameters or {}):
        if known.get(name) is not None:
            case.path_parameters[name] = known[name]
    if isinstance(case.body, dict):
        references = {
            "agency": world.department.slug if index % 2 else world.bureau.slug,
            "allocation": str(world.pool.uuid),
            "employee": str(world.carol.uuid),
            "program": world.program.slug,
            "username": "newcomer",
        }
        for name, value in references.items():
            if name in case.body:
                case.body[name] = value


def run_operation(operation: Any, world: Any, headers: dict[str, str], label: str) -> list[str]:
    failures: list[str] = []
    counter = {"n": 0}

    def one(case: Any) -> None:
        counter["n"] += 1
        steer(case, world, counter["n"])
        CASES[label] += 1
        try:
            response = case.call(headers=headers)
            STATUSES[(label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # every failure is reported with its operation
            failures.append(f"{operation.label}: {str(exc)[:1500]}")

    for mode, examples in (
        (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
        (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
    ):
        test = hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(hypothesis.given(case=operation.as_strategy(generation_mode=mode))(one))
        with transaction.atomic():
            # Some operations cannot be made wrong in a given mode (nothing to negate): that is fine.
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                test()
            transaction.set_rollback(True)
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("role", ["gsa_admin", "agency_admin"])
def test_the_api_answers_every_generated_request_within_its_schema(world, in_process_wsgi, role):
    from core.api_tokens import api_token_create
    from tests.api.conftest import SYSTEM

    started = time.monotonic()
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    secret = api_token_create(
        user=world.users[role], name="schemathesis", scope="read_write", actor=SYSTEM
    ).secret
    headers = {"Authorization": f"Bearer {secret}", "Host": "localhost"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        failures.extend(run_operation(operation, world, headers, role))
    SECONDS[role] = int(time.monotonic() - started)
    statuses = sorted((status, n) for (who, status), n in STATUSES.items() if who == role)
    summary = f"{CASES[role]} cases, {operations} operations, {SECONDS[role]} s"
    print(f"\nschemathesis as {role}: {summary}; statuses {statuses}")
    assert operations >= 48
    assert not failures, "\n\n".join(failures[:20])


@pytest.mark.slow
def test_at_least_a_thousand_cases_were_generated_across_both_roles():
    if len(CASES) < 2:
        pytest.skip("runs after both schemathesis tests (run the whole module)")
    assert sum(CASES.values()) >= MINIMUM_CASES, CASES
