from __future__ import annotations

import time

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from agencies.models import Employee
from core.navigation import menu_roles, staff_agencies
from core.portal import optional_url
from seats import selectors


def _check_database() -> dict:
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {
        "ok": True,
        "vendor": connection.vendor,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }


def _check_broker() -> dict:
    from config.celery import app

    started = time.monotonic()
    transport = app.conf.broker_url.split(":", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": exc.__class__.__name__}
    return {"ok": True, "transport": transport, "ms": round((time.monotonic() - started) * 1000, 1)}


def _check_cache() -> dict:
    """The shared cache: reported, never failing readiness (the app runs on without it, slower and
    unlimited, see core/shared_cache.py)."""
    from django.conf import settings
    from django.core.cache import cache

    from core.shared_cache import UNREACHABLE

    backend = str(settings.CACHES["default"]["BACKEND"]).rsplit(".", 1)[-1]
    started = time.monotonic()
    try:
        cache.get("health:probe")
    except UNREACHABLE as exc:
        return {"ok": False, "backend": backend, "error": exc.__class__.__name__}
    return {"ok": True, "backend": backend, "ms": round((time.monotonic() - started) * 1000, 1)}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for load balancers: the database and the Celery broker; the shared
    cache is reported beside them (degraded, not down, without it)."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks, "cache": _check_cache()},
        status=200 if healthy else 503,
    )


def home(request: HttpRequest) -> HttpResponse:
    """The role-aware front page: what each kind of visitor came for, on one page.

    Signed out: how to sign in. An employee: their seats, what state each is in, when it ends,
    and how to reach the vendor's workspace. Staff: the agencies they manage. A person can be
    both (an HHS administrator who also holds a seat).
    """
    context: dict = {"discover_url": optional_url("sso:discover"), "claim_url": optional_url("claim")}
    user = request.user
    if user.is_authenticated:
        employee = Employee.objects.filter(user=user).select_related("agency").first()
        if employee is not None:
            seats = selectors.employee_seats(employee.pk)
            context.update(
                employee=employee,
                seats=[(seat, selectors.seat_notice(seat)) for seat in seats],
                waiting=selectors.employee_waitlist(employee.pk),
            )
        context.update(is_gsa_admin=menu_roles(user).is_gsa_admin, staff_agencies=staff_agencies(user))
    return render(request, "core/home.html", context)


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "core/accessibility.html")


# --- errors: friendly pages that say what happened and what to do --------------------------------
ERRORS = {
    400: ("We could not read that request", "Something in the request was missing or malformed."),
    403: (
        "You cannot do that here",
        "Your account does not allow this, or the request could not be trusted.",
    ),
    404: (
        "We cannot find that page",
        "The page does not exist, or it belongs to an agency your account does not manage.",
    ),
    500: ("Something went wrong on our side", "The page could not be shown. The error has been logged."),
}


CSRF_ERROR = (
    "This form has expired",
    "For your security, a form stops working when you sign in again or leave it open too long.",
)


def _error(
    request: HttpRequest, code: int, template: str | None = None, words: tuple[str, str] | None = None
) -> HttpResponse:
    heading, what_happened = words or ERRORS[code]
    context = {
        "code": code,
        "heading": heading,
        "what_happened": what_happened,
        "request_id": getattr(request, "request_id", ""),
    }
    return render(request, template or f"core/{code}.html", context, status=code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error(request, 403, "core/403_csrf.html", CSRF_ERROR)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context processors: the database may be what failed, and the menu would ask it.
    heading, what_happened = ERRORS[500]
    html = loader.get_template("core/500.html").render(
        {
            "code": 500,
            "heading": heading,
            "what_happened": what_happened,
            "request_id": getattr(request, "request_id", ""),
        }
    )
    return HttpResponse(html, status=500)
