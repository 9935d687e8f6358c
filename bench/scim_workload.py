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


def run(client, token: str, emails: list[str]) -> dict:
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

    return {"operations": len(emails), "seconds": timings, "statements": statements(client, auth, emails[0])}


def statements(client, auth: dict, email: str) -> dict[str, int]:
    """SQL statements one more create, filter and deactivate send (untimed; BEGIN and COMMIT are
    not statements here), so the report can say how much work each side does per operation."""
    from django.db import connection

    sent: list[str] = []

    def count(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    email = "counted." + email
    counts: dict[str, int] = {}
    with connection.execute_wrapper(count):
        body = {"schemas": [USER], "userName": email, "name": {"givenName": "Counted", "familyName": "Bench"}}
        body["emails"] = [{"value": email, "type": "work", "primary": True}]
        response = client.post("/scim/v2/Users", json.dumps(body), content_type=CT, **auth)
        assert response.status_code == 201, (response.status_code, response.content[:300])
        user_id = json.loads(response.content)["id"]
        counts["create"] = len(sent)
        sent.clear()
        assert client.get("/scim/v2/Users", {"filter": f'userName eq "{email}"'}, **auth).status_code == 200
        counts["filter"] = len(sent)
        sent.clear()
        patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        response = client.patch(f"/scim/v2/Users/{user_id}", json.dumps(patch), content_type=CT, **auth)
        assert response.status_code in (200, 204), (response.status_code, response.content[:300])
        counts["deactivate"] = len(sent)
    return counts
