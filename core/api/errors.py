"""Every API error in one shape: ``{"code": ..., "detail": ..., "errors": {field: [messages]}}``.

DomainError is mapped to HTTP here, once; DRF's own exceptions (validation, 401, 403, 404, 405,
406, 413, 415, 429) are reshaped to match, so a client parses one thing whatever went wrong.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import DomainError

# Stable codes for DRF's exceptions (their own default codes are kept where they are clear).
CODES = {
    exceptions.ValidationError: "invalid_input",
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"field": [...], "items.0.email": [...]}``."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten(value, name))
        return flat
    if isinstance(errors, list) and errors and all(not isinstance(e, dict | list) for e in errors):
        return {prefix or "non_field_errors": [str(e) for e in errors]}
    if isinstance(errors, list):
        flat = {}
        for index, value in enumerate(errors):
            flat.update(flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(errors)]}


def _code(exc: exceptions.APIException) -> str:
    for kind, code in CODES.items():
        if isinstance(exc, kind):
            return code
    return str(getattr(exc, "default_code", "error"))


def error_body(code: str, detail: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"code": code, "detail": detail, "errors": errors or {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    if isinstance(exc, exceptions.ValidationError):
        body = error_body("invalid_input", "Some fields are not valid; see errors.", flatten(exc.detail))
    else:
        detail = (
            exc.detail
            if isinstance(exc.detail, str)
            else "; ".join(flatten(exc.detail).get("non_field_errors", []))
        )
        code = getattr(exc.detail, "code", None) if isinstance(exc.detail, str) else None
        generic = _code(exc)
        # A view's own code (``PermissionDenied(code="token_read_only")``) beats the generic one.
        chosen = code if code and code not in {"invalid", "error", exc.default_code} else generic
        body = error_body(str(chosen), str(detail) or str(exc.default_detail))
    return Response(body, status=exc.status_code, headers=headers)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under /api/ that names no endpoint (or an id in the wrong form) answers JSON."""
    return JsonResponse(error_body("not_found", "No such API resource."), status=404)
