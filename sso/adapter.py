"""allauth's hooks for agency sign-in: just-in-time employees, and never a local signup form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from django.conf import settings
from django.http import HttpRequest

from core.errors import SignInRefused
from sso.models import IdentityProvider
from sso.services import SAML_PROVIDER, saml_actor, saml_sign_in, sign_in_refusal_record


@dataclass(frozen=True)
class SamlContext:
    """What the ACS established, handed to the adapter for this one request."""

    identity_provider: IdentityProvider
    attributes: dict[str, Any]


def refusal_response(request: HttpRequest, exc: SignInRefused, identity_provider: IdentityProvider | None):
    from sso.views import render_refusal

    return render_refusal(request, exc, identity_provider)


class AgencySocialAccountAdapter(DefaultSocialAccountAdapter):
    def list_apps(self, request: HttpRequest, provider=None, client_id=None) -> list[SocialApp]:  # type: ignore[override]
        apps = super().list_apps(request, provider=provider, client_id=client_id)
        saml_ids = [app.pk for app in apps if app.provider == SAML_PROVIDER and app.pk]
        if not saml_ids:
            return apps
        # A disabled IdP, or the development IdP outside development, signs nobody in.
        usable = IdentityProvider.objects.filter(social_app_id__in=saml_ids, is_enabled=True)
        if not getattr(settings, "SSO_DEV_IDP", False):
            usable = usable.filter(is_development=False)
        allowed = set(usable.values_list("social_app_id", flat=True))
        return [app for app in apps if app.provider != SAML_PROVIDER or app.pk in allowed]

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        context: SamlContext | None = getattr(request, "sso_saml", None)
        if context is None:
            if not IdentityProvider.objects.filter(entity_id=sociallogin.account.provider).exists():
                return  # not an agency sign-in
            # Only the hardened ACS may complete a SAML login.
            raise ImmediateHttpResponse(
                refusal_response(
                    request,
                    SignInRefused("Start your sign-in again.", reason="no_acs_context", http_status=400),
                    None,
                )
            )
        idp = context.identity_provider
        try:
            result = saml_sign_in(
                identity_provider=idp,
                uid=sociallogin.account.uid,
                attributes=context.attributes,
                actor=saml_actor(idp),
                known_account=sociallogin.account if sociallogin.account.pk else None,
            )
        except SignInRefused as exc:
            sign_in_refusal_record(
                identity_provider=idp, reason=exc.reason, detail=exc.message, actor=saml_actor(idp)
            )
            raise ImmediateHttpResponse(refusal_response(request, exc, idp)) from exc
        sociallogin.account = result.account
        sociallogin.user = result.user
