"""The agency administrator's SCIM pages: who may see them, and what they do."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agencies.models import RoleAssignment
from audit.actors import Actor
from provisioning.scim.models import ScimGroup, ScimGroupPool, ScimSeatGrant, ScimToken
from provisioning.scim.tokens import hash_token
from tests.conftest import complete_mfa
from tests.factories import RoleAssignmentFactory, UserFactory
from tests.provisioning.scim.conftest import ScimClient, create_user, group_body

pytestmark = pytest.mark.django_db


def browser(user=None) -> Client:
    client = Client(HTTP_HOST="seats.test")
    if user is not None:
        complete_mfa(client, user)
    return client


@pytest.fixture
def url(department):
    return reverse("provisioning:scim_tokens", kwargs={"slug": department.slug})


@pytest.fixture
def groups_url(department):
    return reverse("provisioning:scim_groups", kwargs={"slug": department.slug})


def test_the_url_names_are_stable(department):
    assert reverse("provisioning:scim_tokens", kwargs={"slug": "doe-x"}) == "/agencies/doe-x/scim-tokens/"


@pytest.mark.parametrize("page", ["url", "groups_url"])
def test_permission_matrix(request, page, department, other_department, agency_admin, gsa_admin):
    target = request.getfixturevalue(page)
    staff = UserFactory(username="onboarder")
    RoleAssignmentFactory(user=staff, role=RoleAssignment.Role.ONBOARDING_STAFF, agency=department)
    outsider = UserFactory(username="outsider")
    RoleAssignmentFactory(user=outsider, role=RoleAssignment.Role.AGENCY_ADMIN, agency=other_department)

    anonymous = browser().get(target)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert browser(staff).get(target).status_code == 404
    assert browser(outsider).get(target).status_code == 404
    assert browser(agency_admin).get(target).status_code == 200
    assert browser(gsa_admin).get(target).status_code == 200
    assert browser(outsider).post(target, {"action": "create", "name": "x"}).status_code == 404
    assert not ScimToken.objects.exists()


def test_a_created_token_is_shown_once_and_works(url, agency_admin, department):
    client = browser(agency_admin)
    response = client.post(
        url, {"action": "create", "name": "Entra ID production", "rate_limit_per_minute": "120"}
    )

    assert response.status_code == 200
    secret = response.context["issued"].secret
    assert secret in response.content.decode()
    token = ScimToken.objects.get()
    assert token.token_hash == hash_token(secret) and token.rate_limit_per_minute == 120
    assert token.created_by == agency_admin
    assert secret not in client.get(url).content.decode()
    assert ScimClient(secret).get("Users").status_code == 200


def test_rotate_and_revoke_from_the_page(url, agency_admin):
    client = browser(agency_admin)
    first = client.post(url, {"action": "create", "name": "Okta"}).context["issued"]
    rotated = client.post(url, {"action": "rotate", "token": first.token.pk, "overlap": "0"}).context[
        "issued"
    ]
    assert ScimClient(first.secret).get("Users").status_code == 401
    assert ScimClient(rotated.secret).get("Users").status_code == 200

    response = client.post(url, {"action": "revoke", "token": rotated.token.pk}, follow=True)
    assert "no longer works" in response.content.decode()
    assert ScimClient(rotated.secret).get("Users").status_code == 401


def test_a_duplicate_name_is_explained(url, agency_admin):
    client = browser(agency_admin)
    client.post(url, {"action": "create", "name": "Okta"})
    response = client.post(url, {"action": "create", "name": "Okta"}, follow=True)
    assert "already has a SCIM token called" in response.content.decode()
    assert ScimToken.objects.count() == 1


def test_another_agencys_token_cannot_be_touched_from_this_page(url, agency_admin, other_department):
    from provisioning.scim.tokens import scim_token_create

    foreign = scim_token_create(agency=other_department, name="Theirs", actor=Actor.system("t"))
    response = browser(agency_admin).post(url, {"action": "revoke", "token": foreign.token.pk})
    assert response.status_code == 404
    foreign.token.refresh_from_db()
    assert foreign.token.revoked_at is None


def test_mapping_a_group_from_the_page_grants_seats_and_shows_refusals(
    groups_url, agency_admin, scim, vendor_pool
):
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    scim.post("Groups", group_body("ChatGPT users", *[p["id"] for p in people]))
    group = ScimGroup.objects.get()
    client = browser(agency_admin)

    response = client.post(
        groups_url, {"action": "map", "group": group.pk, "allocation": vendor_pool.pk}, follow=True
    )

    assert "3 members checked" in response.content.decode()
    assert ScimSeatGrant.objects.filter(state="granted").count() == 2
    page = client.get(groups_url).content.decode()
    assert "Waiting: pool full" in page and "p2@examples.gov" in page

    mapping = ScimGroupPool.objects.get()
    client.post(groups_url, {"action": "unmap", "mapping": mapping.pk})
    assert not ScimGroupPool.objects.exists()


def test_a_large_group_is_given_its_seats_by_a_worker_and_the_page_follows(
    groups_url, agency_admin, scim, vendor_pool, monkeypatch, django_capture_on_commit_callbacks, celery_eager
):
    from provisioning.scim import grants

    monkeypatch.setattr(grants, "INLINE_MAX", 2)
    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    scim.post("Groups", group_body("All staff", *[p["id"] for p in people]))
    group = ScimGroup.objects.get()
    client = browser(agency_admin)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            groups_url, {"action": "map", "group": group.pk, "allocation": vendor_pool.pk}, follow=True
        )
    assert "being given seats in the background" in response.content.decode()
    assert not ScimSeatGrant.objects.exists()
    assert "Giving seats: 0 of 3 members so far" in client.get(groups_url).content.decode()

    for callback in queued:  # the commit happens: the worker (eager here) does the work
        callback()
    assert ScimSeatGrant.objects.filter(state="granted").count() == 2
    page = client.get(groups_url).content.decode()
    assert "Giving seats" not in page and "p2@examples.gov" in page  # the one left waiting
    # A redelivered message changes nothing.
    mapping = ScimGroupPool.objects.get()
    from provisioning.tasks import scim_group_pool_sync

    assert scim_group_pool_sync(mapping.pk, "again", "system", None) == 3
    assert ScimSeatGrant.objects.count() == 3 and ScimSeatGrant.objects.filter(state="granted").count() == 2


def test_the_worker_skips_a_mapping_removed_before_it_ran(department):
    from provisioning.tasks import scim_group_pool_sync

    assert scim_group_pool_sync(987654, "gone", "system", None) == 0


def test_many_refused_grants_are_retried_by_a_worker(
    groups_url, agency_admin, scim, vendor_pool, monkeypatch, django_capture_on_commit_callbacks, celery_eager
):
    from provisioning.scim import grants

    people = [create_user(scim, f"p{i}@examples.gov") for i in range(3)]
    scim.post("Groups", group_body("All staff", *[p["id"] for p in people]))
    mapping = grants.scim_group_pool_create(
        group=ScimGroup.objects.get(), allocation=vendor_pool, actor=Actor.system("t")
    )
    grants.scim_group_pool_sync(mapping=mapping, actor=Actor.system("t"))
    ScimSeatGrant.objects.update(
        state="failed", error="The program was paused.", seat=None, waitlist_entry=None
    )
    monkeypatch.setattr(grants, "INLINE_MAX", 2)

    with django_capture_on_commit_callbacks(execute=True):
        response = browser(agency_admin).post(groups_url, {"action": "retry"}, follow=True)
    assert "being tried again in the background" in response.content.decode()
    assert not ScimSeatGrant.objects.filter(state="failed").exists()
