"""The SCIM connector against a real SCIM server (scim2-server on loopback)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from provisioning.vendor import Person, ScimConnector, VendorError
from provisioning.vendor import scim as scim_module
from provisioning.vendor.base import parse_retry_after
from tests.provisioning.vendor_server import SLOWER, TOKEN, VENDOR_TIMEOUT, Fault

ADA = Person(
    external_id="5a0d6d0e-0000-4000-8000-000000000001",
    user_name="ada.lovelace@examples.gov",
    email="ada.lovelace@examples.gov",
    given_name="Ada",
    family_name="Lovelace",
)


@pytest.fixture
def connector(vendor):
    with ScimConnector(base_url=vendor.url, token=TOKEN, timeout=VENDOR_TIMEOUT) as client:
        yield client


def test_ensure_active_creates_the_user_once_and_finds_it_the_second_time(vendor, connector):
    first = connector.ensure_active(ADA)
    second = connector.ensure_active(ADA)
    assert first.id == second.id and first.active
    [user] = vendor.users()
    assert (user.user_name, user.external_id, user.active) == (ADA.user_name, ADA.external_id, True)
    assert user.name.given_name == "Ada"


def test_a_create_whose_answer_was_lost_is_one_user_when_retried(vendor, connector):
    vendor.fail_next(Fault("slow", seconds=SLOWER, methods=("POST",)))
    with pytest.raises(VendorError) as lost:
        connector.ensure_active(ADA)
    assert lost.value.retryable
    again = connector.ensure_active(ADA)
    assert [u.id for u in vendor.users()] == [again.id]


def test_a_conflicting_create_adopts_the_user_the_vendor_already_has(vendor, connector):
    # The user exists under the same userName but the lookup missed it (answered 500 once).
    made = connector.ensure_active(ADA)
    vendor.fail_next(Fault("status", 500, methods=("GET",)))
    with pytest.raises(VendorError):
        connector.ensure_active(ADA)
    assert connector.ensure_active(ADA).id == made.id
    assert len(vendor.users()) == 1


def test_deactivate_then_ensure_active_reuses_the_same_vendor_user(vendor, connector):
    made = connector.ensure_active(ADA)
    gone = connector.deactivate(ADA, made.id)
    assert gone is not None and gone.active is False
    assert vendor.users()[0].active is False
    back = connector.ensure_active(ADA)
    assert back.id == made.id and vendor.users()[0].active is True


def test_deactivating_someone_the_vendor_never_had_is_a_no_op(vendor, connector):
    assert connector.deactivate(ADA) is None
    assert vendor.users() == []


def test_list_users_walks_every_page(vendor, connector, monkeypatch):
    monkeypatch.setattr(scim_module, "PAGE_SIZE", 2)
    for n in range(5):
        connector.ensure_active(Person(f"ext-{n}", f"p{n}@examples.gov", f"p{n}@examples.gov"))
    listed = list(connector.list_users())
    assert sorted(u.user_name for u in listed) == [f"p{n}@examples.gov" for n in range(5)]


@pytest.mark.parametrize(
    ("fault", "retryable", "status"),
    [
        (Fault("status", 500), True, 500),
        (Fault("status", 503), True, 503),
        (Fault("status", 429, retry_after="7"), True, 429),
        (Fault("status", 400), False, 400),
        (Fault("status", 403), False, 403),
        (Fault("stall", seconds=SLOWER), True, None),
    ],
)
def test_vendor_failures_say_whether_a_retry_can_help(vendor, connector, fault, retryable, status):
    vendor.fail_next(fault)
    with pytest.raises(VendorError) as failure:
        connector.ensure_active(ADA)
    assert (failure.value.retryable, failure.value.status) == (retryable, status)
    if status == 429:
        assert failure.value.retry_after == 7.0


def test_a_wrong_token_fails_at_once_and_says_what_to_check(vendor):
    with (
        ScimConnector(base_url=vendor.url, token="wrong", timeout=VENDOR_TIMEOUT) as client,
        pytest.raises(VendorError) as failure,
    ):
        client.ensure_active(ADA)
    assert failure.value.status == 401 and not failure.value.retryable
    assert "token" in str(failure.value)


def test_a_vendor_that_is_not_listening_is_retryable():
    with (
        ScimConnector(base_url="http://127.0.0.1:9/v2", token=TOKEN, timeout=VENDOR_TIMEOUT) as client,
        pytest.raises(VendorError) as failure,
    ):
        client.ensure_active(ADA)
    assert failure.value.retryable and "did not answer" in str(failure.value)


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("120") == 120.0
    later = timezone.now() + timedelta(seconds=90)
    assert 85 <= parse_retry_after(format_datetime(later, usegmt=True)) <= 91
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
