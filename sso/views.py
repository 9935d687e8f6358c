"""Home-realm discovery, the employee claim page and the agency administrator's sign-in settings."""

from __future__ import annotations

import logging
from datetime import timedelta

from allauth.socialaccount.providers.base.constants import AuthProcess
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from agencies.models import Agency, Employee
from core.client_address import client_ip
from core.errors import AlreadyClaimed, DomainError, PoolExhausted, SignInRefused
from core.navigation import agency_shell
from core.portal import admin_scope, long_date, staff_scope
from seats.models import Allocation, WaitlistEntry
from seats.services import seat_claim, waitlist_join, waitlist_leave
from sso import dev_idp
from sso import metadata as idp_metadata
from sso import throttle as sso_throttle
from sso.forms import DiscoverForm, ManualIdpForm, MappingForm, MetadataUploadForm, MetadataUrlForm
from sso.models import MAPPING_KEYS, IdentityProvider
from sso.saml import acs_url
from sso.selectors import (
    Discovery,
    claim_overview,
    claimable_allocations,
    discover,
    ended_pools,
    identity_provider_for_agency,
    waitlist_position,
)
from sso.services import (
    identity_provider_register,
    identity_provider_set_enabled,
    identity_provider_set_mapping,
    sign_in_throttle_record,
)
from sso.sp_keys import sp_key_pair

logger = logging.getLogger(__name__)

# Refusals that come from how the agency's IdP and AI Seats are set up, not from the person:
# they cannot fix these by trying again, so the page says who can and what to change.
_TRUST_REASONS = frozenset(
    {
        "invalid_signature",
        "no_signature_found",
        "no_signed_assertion",
        "unsigned_assertion",
        "wrong_number_of_signatures",
        "wrong_number_of_signatures_in_assertion",
        "wrong_number_of_signatures_in_response",
        "wrong_signed_element",
        "invalid_signed_element",
        "deprecated_signature_method",
        "deprecated_digest_method",
        "wrong_issuer",
        "issuer_not_found_in_assertion",
    }
)
_ADDRESS_REASONS = frozenset(
    {
        "wrong_audience",
        "missing_audience",
        "wrong_destination",
        "empty_destination",
        "missing_destination",
        "wrong_recipient",
        "missing_recipient",
    }
)


def refusal_advice(reason: str, agency: Agency | None) -> tuple[str, str]:
    """(heading, what to do) for a refused sign-in; an empty heading when it is not a setup problem."""
    name = agency.name if agency else "your agency"
    if reason in _TRUST_REASONS:
        return (
            f"{name}'s sign-in is not set up correctly for AI Seats",
            f"AI Seats could not confirm that the answer came from {name}'s identity provider: it was "
            "signed with a certificate, or in a way, that AI Seats was not given. This is not something "
            f"you did wrong and trying again will not help. Tell {name}'s help desk; its AI Seats "
            "administrator needs to upload the identity provider's current metadata on the Single "
            "sign-on page of AI Seats.",
        )
    if reason == "encrypted_assertion":
        return (
            f"{name}'s sign-in is not set up correctly for AI Seats",
            f"{name}'s identity provider encrypted its answer, and this AI Seats service has no key to "
            f"read it. This is not something you did wrong and trying again will not help. Tell "
            f"{name}'s help desk: its identity provider can send answers unencrypted, or AI Seats' "
            "operators can give the service its SAML key.",
        )
    if reason == "weak_encryption":
        return (
            f"{name}'s sign-in is not set up correctly for AI Seats",
            f"{name}'s identity provider encrypted its answer with an algorithm AI Seats does not "
            "accept (3DES, or RSA PKCS#1 v1.5 for the key). This is not something you did wrong and "
            f"trying again will not help. Tell {name}'s help desk: its identity provider must encrypt "
            "with AES and RSA-OAEP, or not encrypt.",
        )
    if reason in _ADDRESS_REASONS:
        return (
            f"{name}'s sign-in is not set up correctly for AI Seats",
            f"{name}'s identity provider sent its answer for another service or address. This is not "
            f"something you did wrong and trying again will not help. Tell {name}'s help desk; the "
            "identity provider must use the service provider metadata AI Seats publishes (its "
            "administrator can download it from the Single sign-on page of AI Seats).",
        )
    return "", ""


def render_refusal(request: HttpRequest, exc: SignInRefused, idp: IdentityProvider | None) -> HttpResponse:
    agency = idp.agency if idp else None
    setup_problem, advice = refusal_advice(exc.reason, agency)
    return render(
        request,
        "sso/sign_in_refused.html",
        {
            "message": exc.message,
            "reason": exc.reason,
            "agency": agency,
            "setup_problem": setup_problem,
            "advice": advice,
            "request_id": getattr(request, "request_id", ""),
        },
        status=exc.http_status,
    )


# --- rate limits on the sign-in endpoints ------------------------------------------------------
def throttle(request: HttpRequest, scope: str, slug: str = "") -> HttpResponse | None:
    """A 429 page when this client (or, at the ACS, this agency) is over its limit, else None.

    The first refusal of an address (or agency) in a window is logged, and audited against the
    agency's IdP when the URL names one; the rest of that window's refusals only count.
    """
    client = client_ip(request)
    over = sso_throttle.check(scope=scope, client=client, agency_slug=slug)
    if over is None:
        return None
    if over.first_in_window:
        logger.warning(
            "SSO %s rate limit: %s over %d a minute per %s%s",
            scope,
            client,
            over.limit,
            over.per,
            f" ({slug})" if slug else "",
        )
        idp = (
            IdentityProvider.objects.select_related("agency").filter(social_app__client_id=slug).first()
            if slug
            else None
        )
        if idp is not None:
            sign_in_throttle_record(
                identity_provider=idp, scope=scope, per=over.per, limit=over.limit, client_ip=client
            )
    start_over = reverse("sso:discover")
    response = render(
        request,
        "sso/too_many_requests.html",
        {
            "code": 429,
            "heading": "Too many sign-in attempts",
            "what_happened": "AI Seats received more sign-in requests from your network than it "
            "answers in a minute, so it paused them for a moment. Nothing was changed and you are "
            "not signed in.",
            "retry_after": over.retry_after,
            "try_again_at": timezone.now() + timedelta(seconds=over.retry_after),
            "start_over_url": start_over,
            "request_id": getattr(request, "request_id", ""),
        },
        status=429,
    )
    response["Retry-After"] = str(over.retry_after)
    add_never_cache_headers(response)
    return response


# --- discovery ----------------------------------------------------------------------------------
def _explain(found: Discovery, email: str) -> str:
    domain = email.rpartition("@")[2]
    if found.agency is not None:
        return (
            f"{found.agency.name} has not connected its sign-in to AI Seats yet. Ask your agency's "
            "AI Seats administrator when it will be available."
        )
    registered = found.registered
    if registered is not None and not registered.is_federal_executive:
        return (
            f"{domain} is registered to {registered.organization_name} ({registered.domain_type}). "
            "AI Seats serves employees of federal executive agencies only."
        )
    if registered is not None:
        return (
            f"{domain} is a federal domain, but no agency has set it up for AI Seats. Ask your "
            "agency's AI Seats administrator to add it, or use your agency's main email address."
        )
    return (
        f"{domain} is not the email domain of a federal agency. Enter your work email address, "
        "for example firstname.lastname@agency.gov."
    )


@require_http_methods(["GET", "POST"])
def discover_view(request: HttpRequest) -> HttpResponse:
    """Type your work email, land at your agency's IdP."""
    if request.method == "POST" and (refused := throttle(request, sso_throttle.DISCOVERY)):
        return refused
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("claim")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = reverse("claim")
    form = DiscoverForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    problem = ""
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        found = discover(email)
        if found.identity_provider is not None:
            provider = found.identity_provider.social_app.get_provider(request)
            return provider.redirect(request, AuthProcess.LOGIN, next_url=next_url)
        problem = _explain(found, email)
    return render(
        request,
        "sso/discover.html",
        {"form": form, "problem": problem, "next": next_url},
        status=400 if request.method == "POST" and (problem or not form.is_valid()) else 200,
    )


# --- claims -------------------------------------------------------------------------------------
def _claim_post(request: HttpRequest, employee: Employee) -> None:
    action = request.POST.get("action")
    if action == "leave":
        entry = get_object_or_404(
            WaitlistEntry.objects.select_related("allocation"),
            pk=request.POST.get("entry") if str(request.POST.get("entry", "")).isdigit() else None,
            employee=employee,
            state=WaitlistEntry.State.WAITING,
        )
        waitlist_leave(entry=entry, actor=request.user)
        messages.info(request, f"You left the waitlist for {entry.allocation.program}.")
        return
    if action != "claim":
        raise Http404("Unknown action.")
    try:
        allocation = claimable_allocations(employee).get(uuid=request.POST.get("allocation"))
    except (Allocation.DoesNotExist, ValidationError, ValueError) as exc:
        # The page was opened before the term ended: say so rather than answer "not found".
        ended = ended_pools(employee, except_programs=[])
        chosen = next((a for a in ended if str(a.uuid) == request.POST.get("allocation")), None)
        if chosen is None:
            raise Http404("No such pool for you.") from exc
        messages.error(request, ended_term_message(chosen))
        return
    try:
        seat = seat_claim(allocation=allocation, employee=employee, actor=request.user)
    except PoolExhausted:
        entry = waitlist_join(allocation=allocation, employee=employee, actor=request.user)

        messages.warning(
            request,
            f"All seats in {allocation.agency.name}'s {allocation.program} pool are taken. You are on "
            f"the waitlist at position {waitlist_position(entry)}; the next free seat goes to the "
            "person at the head of the line.",
        )
        return
    except AlreadyClaimed as exc:
        messages.info(request, f"You already have this seat: {exc.message}")
        return
    if seat.state == seat.State.REQUESTED:
        messages.success(
            request,
            f"Your request for {allocation.program} is with {allocation.agency.name}'s administrators "
            "for approval. This page shows when it is granted.",
        )
    else:
        messages.success(request, f"Your {allocation.program} seat is {seat.get_state_display().lower()}.")


def ended_term_message(allocation: Allocation) -> str:
    ended_on = long_date(allocation.term_ends_at)
    return (
        f"{allocation.agency.name}'s {allocation.program} term ended on {ended_on}, so no seat "
        "can be claimed from it now. Seats open again when the pool is renewed; your "
        "agency's AI Seats administrator can tell you when."
    )


@login_required
@require_http_methods(["GET", "POST"])
def claim_view(request: HttpRequest) -> HttpResponse:
    """The employee's own page: their work email, their agency's programs, their seats."""
    employee = Employee.objects.select_related("agency").filter(user=request.user).first()
    if employee is None:
        return render(request, "sso/claim_not_employee.html", status=403)
    if request.method == "POST":
        try:
            _claim_post(request, employee)
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("claim")
    options = claim_overview(employee)
    ended = ended_pools(employee, except_programs=[o.allocation.program_id for o in options])
    return render(
        request,
        "sso/claim.html",
        {
            "employee": employee,
            "options": options,
            "ended": [ended_term_message(allocation) for allocation in ended],
            "now": timezone.now(),
        },
    )


# --- the agency administrator's page ------------------------------------------------------------


def _register_from(request: HttpRequest, action: str):
    """Build an IdpConfig from whichever form was sent; returns (config or None, bound form)."""
    if action == "upload":
        form = MetadataUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return None, form
        upload = form.cleaned_data["metadata_file"]
        if upload.size > idp_metadata.MAX_METADATA_BYTES:
            form.add_error("metadata_file", "The file is larger than 1 MB; metadata is a few kB.")
            return None, form
        return idp_metadata.parse_metadata(upload.read()), form
    if action == "url":
        form = MetadataUrlForm(request.POST)
        if not form.is_valid():
            return None, form
        url = form.cleaned_data["metadata_url"]
        return idp_metadata.parse_metadata(idp_metadata.fetch_metadata(url), metadata_url=url), form
    form = ManualIdpForm(request.POST)
    if not form.is_valid():
        return None, form
    data = form.cleaned_data
    return (
        idp_metadata.manual_config(
            entity_id=data["entity_id"],
            sso_url=data["sso_url"],
            certificates=[data["certificate"], data["next_certificate"]],
        ),
        form,
    )


@login_required
@require_http_methods(["GET", "POST"])
def agency_sso_view(request: HttpRequest, slug: str) -> HttpResponse:
    scope = admin_scope(request.user)
    agency = get_object_or_404(scope.filter_agencies(Agency.objects.select_related("parent")), slug=slug)
    idp = (
        IdentityProvider.objects.filter(agency=agency)
        .select_related("social_app")
        .prefetch_related("certificates")
        .first()
    )
    forms = {
        "upload": MetadataUploadForm(),
        "url": MetadataUrlForm(),
        "manual": ManualIdpForm(),
        "mapping": MappingForm(
            initial={k: ", ".join((idp.attribute_mapping if idp else {}).get(k, [])) for k in MAPPING_KEYS}
        ),
    }
    problem, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action in ("upload", "url", "manual"):
                config, forms[action] = _register_from(request, action)
                if config is not None:
                    idp = identity_provider_register(agency=agency, config=config, actor=request.user)
                    messages.success(request, f"{agency.name} now signs in through {idp.entity_id}.")
                    for warning in config.warnings:
                        messages.warning(request, warning)
                    return redirect("sso:agency_sso", slug=agency.slug)
                status = 400
            elif action == "dev_idp" and settings.SSO_DEV_IDP:
                idp = dev_idp.register(agency=agency, actor=request.user)
                messages.success(
                    request,
                    f"{agency.name} now signs in through the development IdP. Use Test sign-in to try it.",
                )
                return redirect("sso:agency_sso", slug=agency.slug)
            elif action == "mapping" and idp is not None:
                forms["mapping"] = MappingForm(request.POST)
                if forms["mapping"].is_valid():
                    identity_provider_set_mapping(
                        identity_provider=idp, mapping=forms["mapping"].cleaned_data, actor=request.user
                    )
                    messages.success(request, "Attribute mapping saved.")
                    return redirect("sso:agency_sso", slug=agency.slug)
                status = 400
            elif action in ("enable", "disable") and idp is not None:
                identity_provider_set_enabled(
                    identity_provider=idp, enabled=action == "enable", actor=request.user
                )
                messages.success(request, f"Sign-in {'enabled' if action == 'enable' else 'disabled'}.")
                return redirect("sso:agency_sso", slug=agency.slug)
            else:
                raise Http404("Unknown action.")
        except DomainError as exc:
            problem, status = exc.message, exc.http_status if 400 <= exc.http_status < 500 else 400
    now = timezone.now()
    certificates = [
        {"cert": c, "days_left": (c.not_after - now).days} for c in (idp.certificates.all() if idp else [])
    ]
    return render(
        request,
        "sso/agency_sso.html",
        {
            **agency_shell(
                request,
                agency,
                is_admin=True,
                parent_visible=agency.parent is not None and staff_scope(request.user).covers(agency.parent),
            ),
            "idp": idp,
            "inherited": identity_provider_for_agency(agency) if idp is None else None,
            "certificates": certificates,
            "forms": forms,
            "problem": problem,
            "dev_idp_available": settings.SSO_DEV_IDP,
            "acs_url": acs_url(request, agency.slug),
            "sp_entity_id": request.build_absolute_uri(
                reverse("saml_metadata", kwargs={"organization_slug": agency.slug})
            ),
            "test_sign_in_url": reverse("sso:test_sign_in", kwargs={"slug": agency.slug}),
            "sp_key": sp_key_pair(),
        },
        status=status,
    )
