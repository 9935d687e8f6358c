"""Every endpoint and method of /api/v1/, against every role: the status each must get.

The list of endpoints comes from the URL configuration itself, so a new endpoint (or a new method
on an old one) that nobody put in the matrix fails ``test_every_endpoint_and_method_is_in_the_matrix``.
Anonymous callers get 401; a role that may never use an endpoint gets 403; an object outside the
caller's scope (the other agency's administrator, an employee looking at someone else) is a 404.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from tests.api.conftest import ROLES

# (route, method): (anonymous, employee, onboarding staff, other agency's admin, agency admin, GSA admin)
MATRIX: dict[tuple[str, str], tuple[int, int, int, int, int, int]] = {
    ("tokens/", "get"): (401, 200, 200, 200, 200, 200),
    ("tokens/", "post"): (401, 201, 201, 201, 201, 201),
    ("tokens/<int:pk>/", "delete"): (401, 404, 404, 404, 204, 404),
    ("agencies/", "get"): (401, 200, 200, 200, 200, 200),
    ("agencies/<slug:slug>/", "get"): (401, 200, 200, 404, 200, 200),
    ("agencies/<slug:slug>/policy/", "patch"): (401, 403, 403, 404, 200, 200),
    ("domains/", "get"): (401, 403, 403, 200, 200, 200),
    ("domains/", "post"): (401, 403, 403, 400, 201, 201),
    ("domains/<int:pk>/", "get"): (401, 403, 403, 404, 200, 200),
    ("domains/<int:pk>/verify/", "post"): (401, 403, 403, 404, 200, 200),
    ("employees/", "get"): (401, 403, 200, 200, 200, 200),
    ("employees/", "post"): (401, 403, 201, 400, 201, 201),
    ("employees/<uuid:employee_id>/", "get"): (401, 403, 200, 404, 200, 200),
    ("employees/<uuid:employee_id>/", "patch"): (401, 403, 200, 404, 200, 200),
    ("role-assignments/", "get"): (401, 403, 403, 200, 200, 200),
    ("role-assignments/", "post"): (401, 403, 403, 400, 201, 201),
    ("role-assignments/<int:pk>/", "get"): (401, 403, 403, 404, 200, 200),
    ("role-assignments/<int:pk>/", "delete"): (401, 403, 403, 404, 204, 204),
    ("programs/", "get"): (401, 200, 200, 200, 200, 200),
    ("programs/", "post"): (401, 403, 403, 403, 403, 201),
    ("programs/<slug:slug>/", "get"): (401, 200, 200, 200, 200, 200),
    ("programs/<slug:slug>/", "patch"): (401, 403, 403, 403, 403, 200),
    ("allocations/", "get"): (401, 403, 200, 200, 200, 200),
    ("allocations/", "post"): (401, 403, 403, 403, 403, 201),
    ("allocations/<uuid:allocation_id>/", "get"): (401, 403, 200, 404, 200, 200),
    ("allocations/<uuid:allocation_id>/split/", "post"): (401, 403, 403, 404, 201, 201),
    # Departments' pools are sized by GSA; the agency's own administrator finds no such pool to size.
    ("allocations/<uuid:allocation_id>/resize/", "post"): (401, 403, 403, 404, 404, 200),
    ("seats/", "get"): (401, 200, 200, 200, 200, 200),
    # The employee may claim only for themselves: naming a colleague is a field error.
    ("seats/claim/", "post"): (401, 400, 201, 400, 201, 201),
    ("seats/<uuid:seat_id>/", "get"): (401, 200, 200, 404, 200, 200),
    ("seats/<uuid:seat_id>/approve/", "post"): (401, 403, 403, 404, 200, 200),
    ("seats/<uuid:seat_id>/reject/", "post"): (401, 403, 403, 404, 200, 200),
    ("seats/<uuid:seat_id>/revoke/", "post"): (401, 403, 200, 404, 200, 200),
    ("seats/<uuid:seat_id>/reassign/", "post"): (401, 403, 201, 404, 201, 201),
    ("reports/utilization/", "get"): (401, 403, 200, 200, 200, 200),
    ("scim-tokens/", "get"): (401, 403, 403, 200, 200, 200),
    ("scim-tokens/", "post"): (401, 403, 403, 400, 201, 201),
    ("scim-tokens/<int:pk>/", "get"): (401, 403, 403, 404, 200, 200),
    ("scim-tokens/<int:pk>/", "delete"): (401, 403, 403, 404, 204, 204),
    ("renewal-orders/", "get"): (401, 403, 403, 200, 200, 200),
    ("renewal-orders/", "post"): (401, 403, 403, 400, 201, 201),
    ("renewal-orders/<uuid:order_id>/", "get"): (401, 403, 403, 404, 200, 200),
    ("renewal-orders/<uuid:order_id>/cancel/", "post"): (401, 403, 403, 404, 200, 200),
    ("renewal-orders/<uuid:order_id>/approve/", "post"): (401, 403, 403, 403, 403, 200),
    ("renewal-orders/<uuid:order_id>/decline/", "post"): (401, 403, 403, 403, 403, 200),
    ("audit-events/", "get"): (401, 403, 403, 200, 200, 200),
    ("audit-events/export/", "get"): (401, 403, 403, 200, 200, 200),
    ("audit-events/<int:pk>/", "get"): (401, 403, 403, 404, 200, 200),
}


def api_routes() -> dict[tuple[str, str], type[APIView]]:
    """(route, method) for every DRF view mounted under /api/v1/, read from the URL configuration."""
    found: dict[tuple[str, str], type[APIView]] = {}

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                view = getattr(entry.callback, "cls", None)
                if view is None or not issubclass(view, APIView):
                    continue
                for method in view.http_method_names:
                    if method not in ("options", "head", "trace") and hasattr(view, method):
                        found[(prefix + str(entry.pattern), method)] = view

    api = next(
        p for p in get_resolver().url_patterns if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/"
    )
    walk(api.url_patterns, "")
    return found


def test_every_endpoint_and_method_is_in_the_matrix():
    routes = set(api_routes())
    assert routes - set(MATRIX) == set(), "endpoints missing from the permission matrix"
    assert set(MATRIX) - routes == set(), "the matrix names endpoints that no longer exist"


def request_for(world: Any, route: str, method: str) -> tuple[str, dict]:
    """A concrete URL and a body the allowed roles would succeed with."""
    values = world.path_values()
    pk_by_route = {
        "tokens/": values["api_token_pk"],
        "domains/": values["domain_pk"],
        "role-assignments/": values["assignment_pk"],
        "scim-tokens/": values["scim_token_pk"],
        "audit-events/": values["audit_pk"],
    }
    seat = world.requested_seat if route.endswith(("approve/", "reject/")) else world.active_seat
    url = (
        route.replace("<slug:slug>", world.program.slug if route.startswith("programs/") else values["slug"])
        .replace("<uuid:employee_id>", str(values["employee_id"]))
        .replace("<uuid:allocation_id>", str(values["allocation_id"]))
        .replace("<uuid:order_id>", str(values["order_id"]))
        .replace("<uuid:seat_id>", str(seat.uuid))
    )
    if "<int:pk>" in url:
        url = url.replace("<int:pk>", str(pk_by_route[route.split("<")[0]]))
    bodies: dict[tuple[str, str], dict] = {
        ("tokens/", "post"): {"name": "nightly export", "scope": "read"},
        ("agencies/<slug:slug>/policy/", "patch"): {"claims_require_approval": True},
        ("domains/", "post"): {"agency": world.department.slug, "domain": "examples.army.mil"},
        ("employees/", "post"): {"agency": world.department.slug, "email": "dora@examples.gov"},
        ("employees/<uuid:employee_id>/", "patch"): {"given_name": "Carol"},
        ("role-assignments/", "post"): {
            "username": "newcomer",
            "role": "onboarding_staff",
            "agency": world.department.slug,
        },
        ("programs/", "post"): {"name": "Gemini for Government", "vendor": "Google", "product": "Gemini"},
        ("programs/<slug:slug>/", "patch"): {"description": "The OneGov deal."},
        ("allocations/", "post"): {
            "program": world.program.slug,
            "agency": world.other_department.slug,
            "quantity": 5,
        },
        ("allocations/<uuid:allocation_id>/split/", "post"): {"agency": world.bureau.slug, "quantity": 2},
        ("allocations/<uuid:allocation_id>/resize/", "post"): {"quantity": 20},
        ("seats/claim/", "post"): {"allocation": str(world.pool.uuid), "employee": str(world.carol.uuid)},
        ("seats/<uuid:seat_id>/reject/", "post"): {"reason": "no budget this quarter"},
        ("seats/<uuid:seat_id>/revoke/", "post"): {"reason": "left the program"},
        ("seats/<uuid:seat_id>/reassign/", "post"): {"employee": str(world.carol.uuid)},
        ("scim-tokens/", "post"): {"agency": world.department.slug, "name": "Okta"},
        ("renewal-orders/", "post"): {"allocation": str(world.pool.uuid), "seats": 10},
        ("renewal-orders/<uuid:order_id>/cancel/", "post"): {"reason": "bought elsewhere"},
        ("renewal-orders/<uuid:order_id>/approve/", "post"): {"waive": True},
        ("renewal-orders/<uuid:order_id>/decline/", "post"): {"reason": "program ends"},
    }
    return "/api/v1/" + url, bodies.get((route, method), {})


@pytest.mark.parametrize(("route", "method"), sorted(MATRIX), ids=lambda v: v)
def test_each_role_gets_the_status_the_matrix_says(world, as_role, route, method):
    wrong = []
    for role, expected in zip(ROLES, MATRIX[(route, method)], strict=True):
        url, body = request_for(world, route, method)
        # Each role's request runs in a savepoint rolled back after it: every role meets the same world.
        with transaction.atomic():
            client = as_role(role)
            response = (
                getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
            )
            transaction.set_rollback(True)
        if response.status_code != expected:
            wrong.append(
                f"{role}: expected {expected}, got {response.status_code} {response.content[:300]!r}"
            )
        elif response.status_code >= 400:
            assert set(response.json()) == {"code", "detail", "errors"}, (role, response.content)
    assert not wrong, f"{method.upper()} {route}\n" + "\n".join(wrong)
