"""The signed-in person's own API tokens, as a portal page: make one (shown once), see them, revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from core.api_tokens import MAX_LIFETIME_DAYS, IssuedApiToken, api_token_create, api_token_revoke
from core.errors import DomainError
from core.models import ApiToken

LIFETIMES = (7, 30, 90, 180, 365)


def _page(request: HttpRequest, issued: IssuedApiToken | None = None) -> HttpResponse:
    return render(
        request,
        "core/api_tokens.html",
        {
            "tokens": ApiToken.objects.filter(user=request.user).order_by("-id"),
            "issued": issued,
            "lifetimes": LIFETIMES,
            "scopes": ApiToken.Scope.choices,
            "docs_url": "/api/docs/",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    if request.POST.get("action") == "revoke":
        token = get_object_or_404(
            ApiToken.objects.filter(user=request.user), pk=request.POST.get("token") or 0
        )
        api_token_revoke(token=token, actor=request.user)
        messages.success(request, f"The token “{token.name}” ({token.prefix}…) no longer works.")
        return redirect("api_tokens")
    days = request.POST.get("days", "")
    try:
        issued = api_token_create(
            user=request.user,
            name=request.POST.get("name", ""),
            scope=request.POST.get("scope", ApiToken.Scope.READ),
            expires_in_days=int(days) if days.isdigit() else MAX_LIFETIME_DAYS + 1,
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("api_tokens")
    # The secret is in this response only: never stored, never redirected with.
    return _page(request, issued)
