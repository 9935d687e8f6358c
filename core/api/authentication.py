"""Personal API tokens in the ``Authorization: Bearer ais_...`` header."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from core.api_tokens import api_token_authenticate

KEYWORDS = ("bearer", "token")


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Integrations: a token acts with its owner's roles, within its own scope (read or read-write)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode("latin-1") not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer <token>”.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("That is not an API token.") from exc
        token = api_token_authenticate(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(
                "This token is unknown, revoked or expired. Make a new one under your account's API tokens."
            )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
