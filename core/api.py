"""Maps DomainError to HTTP once for the REST API, in the API's one error shape."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(
            {"code": exc.code, "detail": exc.message, "errors": {}},
            status=exc.http_status,
        )
    return drf_exception_handler(exc, context)
