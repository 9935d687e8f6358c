"""One error shape for every failure; limits on bodies, pages and request rates; schema and docs."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from agencies.models import Employee
from tests.api.conftest import HOST
from tests.conftest import use_dead_redis

ERROR_KEYS = {"code", "detail", "errors"}


def test_field_errors_name_every_bad_field_in_one_shape(world, bearer):
    client = bearer(world.users["agency_admin"])
    response = client.post(
        "/api/v1/employees/", {"agency": "no-such-agency", "email": "not an email"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == ERROR_KEYS and body["code"] == "invalid_input"
    assert set(body["errors"]) == {"agency", "email"}
    assert all(isinstance(m, list) and m for m in body["errors"].values())


def test_a_body_that_is_not_an_object_is_a_field_error_not_a_crash(world, bearer):
    response = bearer(world.users["agency_admin"]).post("/api/v1/employees/", [1, 2], format="json")
    assert response.status_code == 400 and set(response.json()) == ERROR_KEYS


def test_malformed_json_is_a_400_in_the_error_shape(world, bearer):
    client = bearer(world.users["agency_admin"])
    response = client.generic("POST", "/api/v1/employees/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"


def test_a_body_that_is_not_json_is_a_415(world, bearer):
    client = bearer(world.users["agency_admin"])
    response = client.generic("POST", "/api/v1/employees/", "email=a@b.gov", content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_a_domain_refusal_is_mapped_once_with_its_own_code(world, bearer):
    client = bearer(world.users["agency_admin"])
    response = client.post(
        "/api/v1/employees/", {"agency": world.department.slug, "email": "ada@examples.gov"}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "employee_exists",
        "detail": "ada@examples.gov is already on the roster.",
        "errors": {},
    }


def test_an_oversized_body_is_refused_with_413_and_nothing_is_written(world, bearer, settings):
    settings.API_MAX_BODY_BYTES = 1024
    client = bearer(world.users["agency_admin"])
    before = Employee.objects.count()
    body = {"agency": world.department.slug, "email": "big@examples.gov", "given_name": "x" * 2000}
    response = client.post("/api/v1/employees/", body, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert Employee.objects.count() == before


def test_a_page_is_never_larger_than_two_hundred_rows(world, bearer):
    for n in range(205):
        Employee.objects.create(agency=world.department, email=f"p{n}@examples.gov", source="manual")
    client = bearer(world.users["gsa_admin"])
    page = client.get("/api/v1/employees/?page_size=100000").json()
    assert len(page["results"]) == 200 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == Employee.objects.count() - 200
    assert client.get("/api/v1/employees/?page_size=3").json()["results"].__len__() == 3


def test_the_cursor_walks_every_row_once_in_the_order_asked(world, bearer):
    for n in range(7):
        Employee.objects.create(agency=world.department, email=f"z{n}@examples.gov", source="manual")
    client = bearer(world.users["gsa_admin"])
    seen, url = [], "/api/v1/employees/?page_size=4&ordering=-email"
    while url:
        page = client.get(url).json()
        seen += [row["email"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(Employee.objects.values_list("email", flat=True), reverse=True)


def test_a_forged_cursor_is_a_404_in_the_error_shape(world, bearer):
    response = bearer(world.users["gsa_admin"]).get("/api/v1/seats/?cursor=cD0xJm89eA%3D%3D%3D")
    assert response.status_code == 404 and set(response.json()) == ERROR_KEYS


def test_a_bad_filter_is_a_field_error(world, bearer):
    response = bearer(world.users["gsa_admin"]).get("/api/v1/seats/?state=sleeping&expires_before=soon")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"state", "expires_before"}


def test_too_many_requests_is_a_429_with_retry_after(world, bearer, settings):
    settings.API_RATE_LIMIT = "3/min"
    cache.clear()
    client = bearer(world.users["agency_admin"])
    statuses = [client.get("/api/v1/programs/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/programs/")
    assert refused.json()["code"] == "throttled" and int(refused["Retry-After"]) > 0


def test_with_the_shared_cache_down_the_api_answers_unlimited(world, bearer, settings, caplog):
    use_dead_redis(settings)
    settings.API_RATE_LIMIT = "1/min"
    client = bearer(world.users["agency_admin"])
    assert [client.get("/api/v1/programs/").status_code for _ in range(2)] == [200, 200]
    assert "counting an API request (not limited meanwhile)" in caplog.text


# The anonymous limit guards what answers without a credential: the schema, which is dear to build.
def test_a_forged_forwarded_for_header_does_not_buy_a_fresh_anonymous_allowance(world, settings):
    settings.API_ANON_RATE_LIMIT = "2/min"
    client = APIClient(HTTP_HOST=HOST)
    statuses = [
        client.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_anonymous_allowance(world, settings):
    settings.API_ANON_RATE_LIMIT = "2/min"
    settings.TRUSTED_PROXY_COUNT = 1
    client = APIClient(HTTP_HOST=HOST, REMOTE_ADDR="10.0.0.2")  # the proxy

    def status(forwarded: str) -> int:
        return client.get("/api/schema/", HTTP_X_FORWARDED_FOR=forwarded).status_code

    assert [status("203.0.113.5") for _ in range(3)] == [200, 200, 429]
    # Another client behind the same proxy, and the first one naming someone else on the left.
    assert status("203.0.113.9") == 200
    assert status("203.0.113.9, 203.0.113.5") == 429


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/seats/not-a-uuid/", "/api/v2/seats/"])
def test_unknown_api_paths_answer_json_404(world, path):
    response = APIClient(HTTP_HOST=HOST).post(path, {}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_method_an_endpoint_lacks_is_a_405_in_the_error_shape(world, bearer):
    response = bearer(world.users["gsa_admin"]).put("/api/v1/seats/", {}, format="json")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_the_schema_documents_every_operation_and_the_error_shape(world):
    response = APIClient(HTTP_HOST=HOST).get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    operations = [(path, m) for path, item in schema["paths"].items() for m in item if m != "parameters"]
    assert len(operations) == 48
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "detail", "errors"]
    for path, method in operations:
        responses = schema["paths"][path][method]["responses"]
        assert {"401", "403", "404", "429"} <= set(responses), (path, method)
        if method != "get":
            assert {"400", "413"} <= set(responses), (path, method)
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(world):
    response = APIClient(HTTP_HOST=HOST).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "://" not in html.split("<body")[0].replace("http://www.w3.org", "")


@pytest.mark.parametrize(
    ("path", "position", "expected"),
    [
        ("/api/v1/seats/", b"abc", 404),  # ordered by id: not a number
        ("/api/v1/audit-events/", b"2026-13-99", 404),
        ("/api/v1/seats/", b"12\x00", 404),
        ("/api/v1/employees/", b"abc\x00", 404),  # a NUL never reaches the database
        ("/api/v1/employees/", b"bob@examples.gov", 200),  # ordered by email: any text is a position
    ],
)
def test_a_cursor_with_a_forged_position_is_a_404_not_a_crash(world, bearer, path, position, expected):
    cursor = base64.b64encode(b"o=0&r=0&p=" + position).decode()
    response = bearer(world.users["gsa_admin"]).get(path, {"cursor": cursor})
    assert response.status_code == expected, response.content
    if expected == 404:
        assert response.json()["code"] == "not_found"
