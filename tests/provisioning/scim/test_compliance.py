"""scim2-tester against the running app, in process through its WSGI handler: every check passes."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
import scim2_tester.filling
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def wsgi_app():
    """Django's own WSGI handler; the test's transaction must survive each request's end."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def user_names_on_the_agency_domain(monkeypatch):
    """The one rule the tester cannot guess: a userName is a work address on the token agency's domain.

    scim2-tester invents userName as a bare UUID, which this service rightly refuses (a person can
    only be provisioned on a verified domain of the token's own agency). Its generator is given
    that rule and nothing else; every request and every answer is checked as the tester does.
    """
    original = scim2_tester.filling.get_random_example_value

    def example(path):
        if str(path).lower() == "username":
            return f"tester.{uuid.uuid4().hex}@examples.gov"
        return original(path)

    monkeypatch.setattr(scim2_tester.filling, "get_random_example_value", example)


def test_scim2_tester_finds_every_check_successful(wsgi_app, scim_token, user_names_on_the_agency_domain):
    client = WSGISCIMClient(
        wsgi_app,
        base_url="http://seats.test/scim/v2",
        headers={"Authorization": f"Bearer {scim_token.secret}"},
    )

    results = check_server(client)

    statuses = Counter(result.status for result in results)
    failures = [
        f"{r.resource_type or ''} {r.title}: {r.status.name}: {r.reason}"
        for r in results
        if r.status != Status.SUCCESS
    ]
    print(f"scim2-tester: {len(results)} checks, {dict((s.name, n) for s, n in statuses.items())}")
    assert not failures, "\n".join(failures)
    assert statuses[Status.SUCCESS] >= 40
    checked = {r.resource_type for r in results}
    assert {"User", "Group"} <= checked
