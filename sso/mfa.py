"""Staff with local accounts use a second factor before any administrative page or API answers them.

GSA administrators, agency administrators and onboarding staff (and Django staff) who sign in
with a password must have enrolled an authenticator (allauth MFA: TOTP or WebAuthn) and have
used it in this session. Until then ``/admin/``, ``/api/`` and the staff portal (``/gsa/``,
``/agencies/``) send them to enrol or to confirm with their authenticator; the API answers 403.
Employees and staff who came through their agency's IdP are not asked: their IdP is the factor.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from agencies.models import RoleAssignment

# /account/api-tokens/ mints API credentials: staff confirm their second factor before it, too.
PROTECTED_PREFIXES = ("/admin/", "/api/", "/gsa/", "/agencies/", "/account/")
API_PREFIXES = ("/api/",)
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def is_staff_with_local_account(user) -> bool:  # type: ignore[no-untyped-def]
    if not getattr(user, "is_authenticated", False) or not user.has_usable_password():
        return False
    if user.is_staff or user.is_superuser:
        return True
    return RoleAssignment.objects.filter(user=user).exists()


def used_second_factor(request: HttpRequest) -> bool:
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, request.user))


class StaffMfaMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PROTECTED_PREFIXES) and is_staff_with_local_account(request.user):
            refusal = self.refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        enrolled = Authenticator.objects.filter(user=request.user, type__in=SECOND_FACTORS).exists()
        if enrolled and used_second_factor(request):
            return None
        if request.path.startswith(API_PREFIXES):
            detail = (
                "Confirm your sign-in with your authenticator at /accounts/2fa/reauthenticate/ first."
                if enrolled
                else "Staff accounts must enrol an authenticator (/accounts/2fa/) before using the API."
            )
            return JsonResponse({"code": "mfa_required", "detail": detail, "errors": {}}, status=403)
        target = reverse("mfa_reauthenticate" if enrolled else "mfa_activate_totp")
        return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
