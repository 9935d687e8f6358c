"""The SCIM workload both servers run: create N users, find each by userName, deactivate each by PATCH.

Plain Django test-client calls (in process, no HTTP server), so both sides pay the same, nothing
for the network, and everything for their own request handling and database work. Imported by
the worker of each side, in its own virtualenv: it needs nothing but Django.
"""

from __future__ import annotations

import json
import time

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CT = "application/scim+json"


def run(client, token: str, emails: list[str], *, bare: bool = True) -> dict:
    """Run the three phases; return seconds per phase and the number of operations of each."""
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    # Warm up: the first request imports the URLconf and views; neither side is timed doing that.
    assert client.get("/scim/v2/ServiceProviderConfig", **auth).status_code == 200
    ids: list[str] = []
    timings: dict[str, float] = {}

    started = time.perf_counter()
    for email in emails:
        given, _, _ = email.partition("@")
        body = {
            "schemas": [USER],
            "userName": email,
            "name": {"givenName": given, "familyName": "Bench"},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "active": True,
        }
        response = client.post("/scim/v2/Users", json.dumps(body), content_type=CT, **auth)
        assert response.status_code == 201, (response.status_code, response.content[:300])
        ids.append(json.loads(response.content)["id"])
    timings["create"] = time.perf_counter() - started

    started = time.perf_counter()
    for email in emails:
        response = client.get("/scim/v2/Users", {"filter": f'userName eq "{email}"'}, **auth)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        assert json.loads(response.content)["totalResults"] == 1
    timings["filter"] = time.perf_counter() - started

    started = time.perf_counter()
    patch = json.dumps(
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    )
    for user_id in ids:
        response = client.patch(f"/scim/v2/Users/{user_id}", patch, content_type=CT, **auth)
        assert response.status_code in (200, 204), (response.status_code, response.content[:300])
    timings["deactivate"] = time.perf_counter() - started

    return {"operations": len(emails), "seconds": timings, **census(client, auth, emails[0], bare=bare)}


CENSUS_OPERATIONS = 50
BARE_REQUESTS = 300


def census(client, auth: dict, email: str, *, bare: bool = True) -> dict:
    """Untimed by the rounds: what one operation of each phase costs in the database, and what a
    request that does no work costs, so the report can say where a phase's time goes.

    - ``statements``: SQL statements one create, filter and deactivate send (BEGIN and COMMIT are
      not statements here);
    - ``db_ms``: milliseconds per operation spent waiting on PostgreSQL (every round trip, BEGIN
      and COMMIT included: psycopg's ``Connection.wait``), over ``CENSUS_OPERATIONS`` more
      operations of each phase;
    - ``bare_ms``: one authenticated GET of a user id that cannot be one (answered 404): the
      framework, middleware, token check and error response every SCIM request pays around its
      own work (with ``bare``; the peer skips it: it logs each 404, which would be unlike).
    """
    import psycopg
    from django.db import connection

    statements: list[str] = []
    waited = [0.0]
    wait = psycopg.Connection.wait

    def timed_wait(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return wait(self, *args, **kwargs)
        finally:
            waited[0] += time.perf_counter() - started

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    n = CENSUS_OPERATIONS
    emails = [f"counted{i}.{email}" for i in range(n)]
    patch = json.dumps(
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    )
    ids: list[str] = []

    def create(address: str, _: int) -> None:
        body = {"schemas": [USER], "userName": address, "name": {"givenName": "C", "familyName": "B"}}
        body["emails"] = [{"value": address, "type": "work", "primary": True}]
        response = client.post("/scim/v2/Users", json.dumps(body), content_type=CT, **auth)
        assert response.status_code == 201, (response.status_code, response.content[:300])
        ids.append(json.loads(response.content)["id"])

    def find(address: str, _: int) -> None:
        response = client.get("/scim/v2/Users", {"filter": f'userName eq "{address}"'}, **auth)
        assert response.status_code == 200, (response.status_code, response.content[:300])

    def deactivate(_: str, i: int) -> None:
        response = client.patch(f"/scim/v2/Users/{ids[i]}", patch, content_type=CT, **auth)
        assert response.status_code in (200, 204), (response.status_code, response.content[:300])

    counts: dict[str, int] = {}
    db_ms: dict[str, float] = {}
    psycopg.Connection.wait = timed_wait  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(count):
            for phase, operation in (("create", create), ("filter", find), ("deactivate", deactivate)):
                waited[0] = 0.0
                for i, address in enumerate(emails):
                    statements.clear()
                    operation(address, i)
                    counts.setdefault(phase, len(statements))
                db_ms[phase] = waited[0] * 1000 / n
    finally:
        psycopg.Connection.wait = wait  # type: ignore[method-assign]
    if not bare:
        return {"statements": counts, "db_ms": db_ms}
    for _ in range(20):
        client.get("/scim/v2/Users/none", **auth)
    started = time.perf_counter()
    for _ in range(BARE_REQUESTS):
        assert client.get("/scim/v2/Users/none", **auth).status_code == 404
    bare_ms = (time.perf_counter() - started) * 1000 / BARE_REQUESTS
    return {"statements": counts, "db_ms": db_ms, "bare_ms": bare_ms}
