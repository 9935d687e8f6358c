"""Cursor pagination for every list, a bounded page size, and a bounded request body."""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import parsers, throttling
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.pagination import CursorPagination

from core.api.errors import PayloadTooLarge
from core.client_address import address_bucket, client_ip
from core.shared_cache import UNREACHABLE, note_unreachable


class ApiCursorPagination(CursorPagination):
    """Stable under inserts and cheap at any depth: the cursor is a position, never an offset count."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"

    def decode_cursor(self, request: Any) -> Any:
        cursor = super().decode_cursor(request)
        # A cursor is ours only if it came from a ``next`` link; a forged one must not reach SQL.
        if cursor is not None and cursor.position is not None and "\x00" in cursor.position:
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValueError, TypeError, DjangoValidationError) as exc:
            # A forged position that is not a value of the ordering field ("abc" for an id).
            raise NotFound(self.invalid_cursor_message) from exc


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", 65_536))


class LimitedJSONParser(parsers.JSONParser):
    """JSON bodies up to ``API_MAX_BODY_BYTES``; larger ones are refused before they are read."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        limit = max_body_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is {int(declared):,} bytes; the limit is {limit:,}.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            return json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class _ApiThrottle:
    """DRF's own idea of the client trusts X-Forwarded-For whole unless NUM_PROXIES is set: a
    client writing a fresh header each time would get a fresh anonymous allowance each time. The
    API counts by the same address (and IPv6 /64) as the sign-in limits, with TRUSTED_PROXY_COUNT.
    The counts live in the shared cache; while it cannot be reached, requests are not limited."""

    def get_ident(self, request: Any) -> str:
        return address_bucket(client_ip(request))

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))  # type: ignore[misc]
        except UNREACHABLE as exc:
            note_unreachable("counting an API request (not limited meanwhile)", exc)
            return True


class ApiUserRateThrottle(_ApiThrottle, throttling.UserRateThrottle):
    """Requests a minute per signed-in person (all their tokens and sessions together)."""

    def get_rate(self) -> str:
        return str(getattr(settings, "API_RATE_LIMIT", "1200/min"))


class ApiAnonRateThrottle(_ApiThrottle, throttling.AnonRateThrottle):
    """Requests a minute per client address to what answers without credentials (the schema): DRF
    checks permissions first, so elsewhere an anonymous request meets its 401 before this."""

    def get_rate(self) -> str:
        return str(getattr(settings, "API_ANON_RATE_LIMIT", "120/min"))
