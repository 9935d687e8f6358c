"""The assertion consumer service, in front of allauth's login flow, and single logout.

Two steps, as allauth's own ACS does: the IdP's cross-site POST carries no session cookie
(SameSite), so step one checks the body's shape and parks it in a short-lived login session,
then redirects to step two, which runs with the browser's session and so can match the response
to the sign-in request this browser started. Every refusal is a 4xx with an audit row; nothing
a client sends can make it a 500.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.internal.statekit import STATE_TTL, STATES_SESSION_KEY
from allauth.socialaccount.providers.base.constants import AuthProcess
from allauth.socialaccount.providers.saml.views import login as allauth_login
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response

from core.errors import SignInRefused
from sso import parking, test_sign_in
from sso import throttle as sso_throttle
from sso.adapter import SamlContext
from sso.models import IdentityProvider
from sso.saml import (
    MAX_SAML_RESPONSE_CHARS,
    SpSettings,
    acs_url,
    enforce_strict,
    inspect_post,
    request_data,
    saml_config,
    saml_settings,
)
from sso.services import assertion_use_record, saml_actor, sign_in_refusal_record

logger = logging.getLogger(__name__)

# python3-saml's error codes by name, for audit rows a person can read ("wrong_issuer").
_REASONS = {
    value: name.lower()
    for name, value in vars(OneLogin_Saml2_ValidationError).items()
    if name.isupper() and isinstance(value, int)
}
# The POST body may carry the response plus RelayState and form encoding overhead.
MAX_ACS_BODY = MAX_SAML_RESPONSE_CHARS + 8_192


def identity_provider_or_404(slug: str) -> IdentityProvider:
    idp = (
        IdentityProvider.objects.select_related("agency", "social_app")
        .filter(social_app__client_id=slug, is_enabled=True)
        .first()
    )
    if idp is None or (idp.is_development and not settings.SSO_DEV_IDP):
        raise Http404("No identity provider is configured for this agency.")
    return idp


def refuse(request: HttpRequest, idp: IdentityProvider, exc: SignInRefused) -> HttpResponse:
    from sso.views import render_refusal

    logger.warning("SAML sign-in refused for %s: %s (%s)", idp.agency.slug, exc.reason, exc.message)
    detail = str(exc.context.get("detail") or exc.message)
    sign_in_refusal_record(
        identity_provider=idp,
        actor=saml_actor(idp),
        reason=exc.reason,
        detail=detail,
        request_meta={"ip": request.META.get("REMOTE_ADDR", ""), "path": request.path[:200]},
    )
    return render_refusal(request, exc, idp)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AcsView(View):
    """Step one: the IdP's POST. Check its shape, park it, hop to step two."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        from sso.views import throttle

        # Counted before anything is read or looked up: refusing must stay cheaper than answering.
        if refused := throttle(request, sso_throttle.ACS, organization_slug):
            return refused
        idp = identity_provider_or_404(organization_slug)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        try:
            if length > MAX_ACS_BODY:
                raise SignInRefused("The sign-in response is too large.", reason="oversized", http_status=413)
            try:
                value = request.POST.get("SAMLResponse")
                relay_state = request.POST.get("RelayState", "")[:1024]
            except RequestDataTooBig as exc:
                raise SignInRefused(
                    "The sign-in response is too large.", reason="oversized", http_status=413
                ) from exc
            inspect_post(value)
        except SignInRefused as exc:
            return refuse(request, idp, exc)
        response = HttpResponseRedirect(
            reverse("saml_finish_acs", kwargs={"organization_slug": organization_slug})
        )
        parking.park(request, response, {"SAMLResponse": value, "RelayState": relay_state})
        return response


@method_decorator(never_cache, name="dispatch")
class AcsFinishView(View):
    """Step two, with the browser's session: validate fully, then hand over to allauth."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        idp = identity_provider_or_404(organization_slug)
        try:
            # One transaction for the whole sign-in: the parked response is used up, and the
            # replay record, the person, the login, the session and the audit rows commit
            # together; a refusal rolls all of it back and is audited apart.
            with transaction.atomic():
                post = parking.take(request)
                if not post or not post.get("SAMLResponse"):
                    raise SignInRefused(
                        "This sign-in has expired or was already used. Start again.",
                        reason="no_parked_response",
                        http_status=400,
                    )
                response = self.consume(request, idp, organization_slug, post)
                session = request.session
                if session.modified and not session.is_empty():
                    # Written here, in the same commit; the middleware's save then has nothing to do.
                    session.save()
                return response
        except SignInRefused as exc:
            parking.discard(request)  # a refused response is used up too
            return refuse(request, idp, exc)

    def consume(
        self, request: HttpRequest, idp: IdentityProvider, slug: str, post: dict[str, Any]
    ) -> HttpResponse:
        provider = idp.social_app.get_provider(request)
        data = request_data(request, slug, post)
        try:
            auth = OneLogin_Saml2_Auth(data, saml_settings(request, idp.social_app.settings, slug))
            response = OneLogin_Saml2_Response(auth.get_settings(), post["SAMLResponse"])
            response.is_valid(data, request_id=None, raise_exceptions=True)
            # Reads attributes and NameID, refusing repeated attribute names and empty NameIDs.
            auth.store_valid_response(response)
        except OneLogin_Saml2_ValidationError as exc:
            reason = _REASONS.get(exc.code, "invalid_response")
            raise SignInRefused(
                "Your agency's sign-in response could not be verified.",
                reason=reason,
                http_status=403,
                detail=str(exc),
            ) from exc
        except Exception as exc:  # lxml, xmlsec and python3-saml internals on hostile input
            if isinstance(exc, OneLogin_Saml2_Error) and exc.code == exc.PRIVATE_KEY_NOT_FOUND:
                raise SignInRefused(
                    "Your agency's identity provider encrypted its answer, and this service has no "
                    "key to read it. Your agency can send it unencrypted; the service's operators "
                    "can give the service its SAML key (SAML_SP_KEY_FILE).",
                    reason="encrypted_assertion",
                    http_status=403,
                ) from exc
            raise SignInRefused(
                "Your agency's sign-in response could not be read.",
                reason="invalid_response",
                http_status=400,
                detail=f"{exc.__class__.__name__}: {exc}",
            ) from exc
        now = timezone.now()
        facts = enforce_strict(
            # An encrypted assertion was decrypted and its signature checked there: the same
            # checks then apply to the assertion inside.
            response.decrypted_document if response.encrypted else response.document,
            acs=acs_url(request, slug),
            sp_entity_id=auth.get_settings().get_sp_data()["entityId"],
            now=now,
        )
        # Recorded before the browser's pending request is matched, so a replay is called a
        # replay whichever browser (or process) it comes from; the unique index settles races.
        assertion_use_record(identity_provider=idp, facts=facts, now=now)
        try:
            state = pending_sign_in(request, provider.sub_id, facts.in_response_to)
        except PermissionDenied as exc:
            raise SignInRefused(
                "This response does not answer a sign-in started in this browser. Start again from "
                "the sign-in page.",
                reason="unsolicited",
                http_status=403,
            ) from exc
        try:
            sociallogin = provider.sociallogin_from_response(request, auth)
        except Exception as exc:  # allauth: empty or oversized subject id
            raise SignInRefused(
                "Your agency's sign-in did not identify you (no subject id).",
                reason="no_subject",
                http_status=403,
            ) from exc
        attributes = mapped_attributes(auth, idp.mapping())
        if test_sign_in.claim_pending(request, idp):
            # The administrator's own test: report, and leave their session as it is.
            return test_sign_in.report(
                request,
                idp=idp,
                uid=sociallogin.account.uid,
                attributes=attributes,
                raw=auth.get_attributes(),
            )
        # An agency sign-in only ever signs in: never "connect" it to whoever is signed in now.
        sociallogin.state = {**state, "process": AuthProcess.LOGIN}
        request.sso_saml = SamlContext(identity_provider=idp, attributes=attributes)  # type: ignore[attr-defined]
        return complete_social_login(request, sociallogin)


@method_decorator(never_cache, name="dispatch")
class SlsView(View):
    """Single logout from the agency's IdP (HTTP-Redirect), accepted only when the IdP signed it.

    python3-saml accepts an unsigned LogoutRequest unless messages must be signed, which would
    also demand signed Responses from every IdP; so the signature is required here instead,
    and checked against every pinned certificate.
    """

    http_method_names = ["get"]

    def get(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        idp = identity_provider_or_404(organization_slug)
        query = request.GET
        signed = query.get("Signature") and query.get("SigAlg")
        if not (query.get("SAMLRequest") or query.get("SAMLResponse")) or not signed:
            logger.warning("Unsigned SAML logout message for %s refused", idp.agency.slug)
            return HttpResponseBadRequest(
                "Logout messages must be signed by your agency's identity provider."
            )
        data = {
            "https": "on" if request.is_secure() else "off",
            "http_host": request.get_host(),
            "script_name": "",
            "path_info": request.path,
            "get_data": query.copy(),
            "post_data": {},
        }
        auth = OneLogin_Saml2_Auth(data, saml_settings(request, idp.social_app.settings, organization_slug))
        adapter = get_account_adapter(request)
        try:
            redirect_to = auth.process_slo(
                delete_session_cb=lambda: adapter.logout(request),
                keep_local_session=not request.user.is_authenticated,
            )
        except Exception as exc:  # malformed or unsupported logout messages
            logger.warning("SAML logout message for %s refused: %r", idp.agency.slug, exc, exc_info=True)
            return HttpResponseBadRequest("The logout message could not be read.")
        if auth.get_errors():
            logger.warning("SAML logout for %s refused: %s", idp.agency.slug, auth.get_last_error_reason())
            return HttpResponseBadRequest("The logout message could not be verified.")
        return HttpResponseRedirect(redirect_to or adapter.get_logout_redirect_url(request))


@login_not_required
def login(request: HttpRequest, organization_slug: str) -> HttpResponse:
    """allauth's SP-initiated login (it signs and sends the AuthnRequest), limited per client address."""
    from sso.views import throttle

    if refused := throttle(request, sso_throttle.LOGIN, organization_slug):
        return refused
    return allauth_login(request, organization_slug=organization_slug)


def pending_sign_in(request: HttpRequest, provider_id: str, state_id: str) -> dict[str, Any]:
    """The sign-in this browser started that the response answers, used up; PermissionDenied if none.

    allauth's own unstash writes the session at once and reloads it (for OAuth callbacks that run
    long while other tabs go on); here the session is written with the rest of the sign-in, in the
    same transaction, and a refused sign-in still leaves the request's state used up.
    """
    states = request.session.get(STATES_SESSION_KEY)
    stashed = states.get(state_id) if isinstance(states, dict) and state_id else None
    if not isinstance(stashed, list | tuple) or len(stashed) != 3 or stashed[2] != provider_id:
        raise PermissionDenied
    del states[state_id]
    request.session[STATES_SESSION_KEY] = states
    state, stashed_at, _ = stashed
    if not isinstance(state, dict) or not isinstance(stashed_at, int | float):
        raise PermissionDenied
    if time.time() - stashed_at > STATE_TTL:
        raise PermissionDenied
    return state


def mapped_attributes(auth: OneLogin_Saml2_Auth, mapping: dict[str, list[str]]) -> dict[str, Any]:
    """The fields the platform reads, by the agency's attribute names, then the friendly names."""
    raw = auth.get_attributes()
    friendly = auth.get_friendlyname_attributes()
    found: dict[str, Any] = {}
    for key, names in mapping.items():
        for name in names:
            values = raw.get(name) or friendly.get(name)
            if values and isinstance(values[0], str):
                found[key] = values[0]
                break
    if not found.get("email") and auth.get_nameid_format() == C.NAMEID_EMAIL_ADDRESS:
        found["email"] = auth.get_nameid() or ""
    found["_raw"] = {k: [v for v in vals if isinstance(v, str)][:10] for k, vals in raw.items()}
    return found


class MetadataView(View):
    """The SP metadata an agency's IdP reads: allauth's, built from the same settings the ACS
    validates with, so the service's certificate is offered for encryption when it has a key.

    Served for a registered IdP whether or not it is enabled yet: the agency configures its IdP
    from this before the first sign-in.
    """

    http_method_names = ["get"]

    def get(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        idp = (
            IdentityProvider.objects.select_related("social_app")
            .filter(social_app__client_id=organization_slug)
            .first()
        )
        if idp is None or (idp.is_development and not settings.SSO_DEV_IDP):
            raise Http404("No identity provider is configured for this agency.")
        config = saml_config(request, idp.social_app.settings, organization_slug)
        built = SpSettings(config, sp_validation_only=True)
        metadata = built.get_sp_metadata()
        errors = built.validate_metadata(metadata)
        if errors:
            logger.error("SP metadata for %s does not validate: %s", organization_slug, errors)
            return HttpResponse("The service's metadata could not be built.", status=500)
        return HttpResponse(metadata, content_type="text/xml")


acs = AcsView.as_view()
finish_acs = AcsFinishView.as_view()
metadata = MetadataView.as_view()
sls = SlsView.as_view()
