"""Replay protection shared across processes, its pruning, and malformed input that never 500s."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import SignInRefused
from sso.models import AssertionUse
from sso.saml import AssertionFacts, inspect_post
from sso.services import assertion_use_record, assertion_uses_prune
from tests.sso.saml_kit import SamlBrowser, encode


def facts(assertion_id: str, minutes: int = 5) -> AssertionFacts:
    return AssertionFacts(
        assertion_id=assertion_id,
        in_response_to="req",
        expires_at=datetime.now(UTC) + timedelta(minutes=minutes),
    )


@pytest.mark.django_db
def test_an_assertion_id_is_accepted_once(idp):
    now = datetime.now(UTC)
    assertion_use_record(identity_provider=idp, facts=facts("_a1"), now=now)
    with pytest.raises(SignInRefused) as refused:
        assertion_use_record(identity_provider=idp, facts=facts("_a1"), now=now)
    assert refused.value.reason == "replayed"


@pytest.mark.django_db
def test_pruning_forgets_only_expired_assertion_ids(idp):
    now = datetime.now(UTC)
    assertion_use_record(identity_provider=idp, facts=facts("_old", minutes=-10), now=now)
    assertion_use_record(identity_provider=idp, facts=facts("_live", minutes=10), now=now)
    assert assertion_uses_prune(now=now) == 1
    assert list(AssertionUse.objects.values_list("assertion_id", flat=True)) == ["_live"]


@pytest.mark.django_db
def test_the_prune_command_reports_what_it_forgot(idp):
    import io

    from django.core.management import call_command

    assertion_use_record(identity_provider=idp, facts=facts("_old", minutes=-10), now=datetime.now(UTC))
    out = io.StringIO()
    call_command("prune_saml_assertions", stdout=out)
    assert "1 expired assertion id" in out.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_response_posted_by_two_browsers_at_once_signs_in_exactly_once(department):
    from tests.sso.conftest import IDP_A, register
    from tests.sso.saml_kit import Forge, keys

    idp = register(department, IDP_A, "examples")
    victim = SamlBrowser()
    request_id = victim.start(idp.agency.slug)
    thief = SamlBrowser()
    thief.client.cookies = victim.client.cookies.__class__(victim.client.cookies)
    value = encode(Forge(slug="doe-x", issuer=IDP_A, key=keys("examples"), in_response_to=request_id).build())
    barrier = threading.Barrier(2)
    results: list[int] = []

    def post(browser: SamlBrowser) -> None:
        try:
            barrier.wait()
            results.append(browser.post("doe-x", value).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(b,)) for b in (victim, thief)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results)[0] == 302 and sorted(results)[1] in (400, 403)
    assert AssertionUse.objects.count() == 1


@given(
    value=st.one_of(
        st.text(max_size=300), st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())
    )
)
@settings(max_examples=60, deadline=None)
def test_inspect_post_refuses_arbitrary_input_with_a_4xx_reason(value):
    try:
        inspect_post(value)
    except SignInRefused as exc:
        assert 400 <= exc.http_status < 500 and exc.reason
    else:
        pytest.fail("random input passed as a SAML Response")


@pytest.mark.django_db
@given(
    value=st.one_of(
        st.text(max_size=200), st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())
    )
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_acs_never_answers_garbage_with_a_500(idp, value):
    browser = SamlBrowser()
    browser.start("doe-x")
    response = browser.post("doe-x", value)
    assert 400 <= response.status_code < 500


@pytest.mark.django_db
def test_a_parked_response_is_used_up_even_when_refused(idp, forge):
    from audit.models import AuditEvent

    browser = SamlBrowser()
    browser.start("doe-x")
    first = browser.client.post(
        "/accounts/saml/doe-x/acs/", {"SAMLResponse": encode(forge.but(in_response_to="nope").build())}
    )
    assert browser.client.get(first["Location"]).status_code == 403
    assert browser.client.get(first["Location"]).status_code == 400
    reasons = AuditEvent.objects.filter(verb="sso.sign_in.refused").values_list("after__reason", flat=True)
    assert sorted(reasons) == ["no_parked_response", "unsolicited"]
