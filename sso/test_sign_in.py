"""Test sign-in: an agency administrator tries their IdP without becoming someone else.

The administrator starts an ordinary SP-initiated sign-in, marked in their own session. The
response then goes through every check a real sign-in gets (signature, strict conditions, replay
record, the pending request), but instead of signing the browser in as the asserted person, the
person's sign-in is played through and rolled back, and the administrator sees what the IdP sent
and what would have happened: nothing is created, linked or signed in, and one audit row says
the test ran.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from agencies.models import Agency
from audit.services import audit_record
from core.errors import SignInRefused
from core.navigation import agency_shell
from core.portal import admin_scope, staff_scope
from sso.models import IdentityProvider
from sso.services import saml_actor, saml_sign_in

SESSION_KEY = "sso_test_sign_in"
# As long as a started sign-in stays answerable.
TEST_TTL_SECONDS = 10 * 60


@dataclass(frozen=True)
class Outcome:
    """What a real sign-in with this response would have done."""

    signs_in: bool
    summary: str
    details: list[str] = field(default_factory=list)
    reason: str = ""


@require_POST
def start_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Mark this administrator's session, then start the sign-in as an employee's browser would."""
    from sso.acs import login

    agency = get_object_or_404(admin_scope(request.user).filter_agencies(Agency.objects.all()), slug=slug)
    if not IdentityProvider.objects.filter(agency=agency, is_enabled=True).exists():
        raise Http404("This agency has no identity provider of its own to test.")
    request.session[SESSION_KEY] = {"slug": agency.slug, "user": request.user.pk, "at": time.time()}
    return login(request, organization_slug=agency.slug)


def claim_pending(request: HttpRequest, idp: IdentityProvider) -> bool:
    """Whether this response answers a test sign-in the signed-in administrator started here.

    The mark is used up. It counts only for the administrator who set it, for this agency, while
    they still administer it, and within the time a sign-in request stays answerable.
    """
    marker = request.session.get(SESSION_KEY)
    if not isinstance(marker, dict) or marker.get("slug") != idp.agency.slug:
        return False
    del request.session[SESSION_KEY]
    user = request.user
    fresh = isinstance(marker.get("at"), int | float) and time.time() - marker["at"] <= TEST_TTL_SECONDS
    return bool(
        fresh
        and user.is_authenticated
        and marker.get("user") == user.pk
        and admin_scope(user).covers(idp.agency)
    )


def dry_run(*, idp: IdentityProvider, uid: str, attributes: dict[str, Any]) -> Outcome:
    """The person's sign-in, played through and rolled back: the real rules, nothing kept."""
    try:
        with transaction.atomic():
            result = saml_sign_in(
                identity_provider=idp, uid=uid, attributes=attributes, actor=saml_actor(idp)
            )
            employee = result.employee
            details = [
                f"Work email: {employee.email}",
                f"Agency or office: {employee.agency.name}",
                "A new roster entry would be created (just in time)."
                if result.employee_created
                else "They are already on the roster; the sign-in would use that entry.",
            ]
            if result.account_linked and not result.employee_created:
                details.append("Their IdP identity would be linked to that roster entry now.")
            outcome = Outcome(signs_in=True, summary=f"{employee.email} would be signed in.", details=details)
            transaction.set_rollback(True)
    except SignInRefused as exc:
        outcome = Outcome(
            signs_in=False, summary="This person would be refused.", details=[exc.message], reason=exc.reason
        )
    return outcome


def report(
    request: HttpRequest,
    *,
    idp: IdentityProvider,
    uid: str,
    attributes: dict[str, Any],
    raw: dict[str, list[str]],
) -> HttpResponse:
    outcome = dry_run(idp=idp, uid=uid, attributes=attributes)
    audit_record(
        actor=request.user,
        verb="sso.test_sign_in",
        target=idp,
        agency_id=idp.agency_id,
        after={
            "outcome": "would sign in" if outcome.signs_in else f"would refuse: {outcome.reason}",
            "email": str(attributes.get("email") or "")[:254],
        },
    )
    mapped = [(label, attributes.get(key) or "") for key, label in MAPPED_FIELDS]
    return render(
        request,
        "sso/test_sign_in.html",
        {
            **agency_shell(
                request,
                idp.agency,
                is_admin=True,
                parent_visible=idp.agency.parent_id is not None
                and staff_scope(request.user).covers(idp.agency.parent),
            ),
            "idp": idp,
            "outcome": outcome,
            "name_id": uid,
            "mapped": mapped,
            "raw": sorted(raw.items()),
        },
    )


MAPPED_FIELDS = (
    ("email", "Work email"),
    ("given_name", "Given name"),
    ("family_name", "Family name"),
    ("employee_number", "Employee number"),
    ("office", "Bureau or office"),
)
