"""Who may call what. Roles decide whether an endpoint is open to a caller at all (403 if never);
the caller's scope decides which objects exist for them (404 outside it)."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from agencies.selectors import Scope
from core.models import ApiToken
from core.portal import admin_scope, staff_scope


class TokenScope(permissions.BasePermission):
    """A read-only token reads; writing needs a read-write token (sessions always may)."""

    message = "This token is read-only; make a read-write token to change anything."
    code = "token_read_only"

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if isinstance(token, ApiToken) and request.method not in permissions.SAFE_METHODS:
            return token.can_write
        return True


class _ScopePermission(permissions.BasePermission):
    code = "not_permitted"

    def scope(self, request: Request) -> Scope:
        return Scope()

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated) and not self.scope(request).is_empty


class IsStaff(_ScopePermission):
    """GSA administrators, agency administrators and onboarding staff."""

    message = "Only GSA and agency staff can use this endpoint."

    def scope(self, request: Request) -> Scope:
        return staff_scope(request.user)


class IsAdmin(_ScopePermission):
    """GSA administrators and agency administrators."""

    message = "Only GSA and agency administrators can use this endpoint."

    def scope(self, request: Request) -> Scope:
        return admin_scope(request.user)


class IsGsaAdmin(_ScopePermission):
    message = "Only GSA administrators can use this endpoint."

    def scope(self, request: Request) -> Scope:
        scope = staff_scope(request.user)
        return scope if scope.is_global else Scope()


class IsGsaAdminToWrite(permissions.BasePermission):
    """Anyone signed in reads; only GSA administrators write."""

    message = IsGsaAdmin.message
    code = "not_permitted"

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return staff_scope(request.user).is_global


def allow(*extra: type[permissions.BasePermission]) -> list[type[permissions.BasePermission]]:
    """The API's baseline (signed in, token scope respected) plus a view's own role check."""
    return [permissions.IsAuthenticated, TokenScope, *extra]
