"""Where the ACS parks the IdP's POST between its two steps, for a few minutes and for one use.

With a cache every process shares (Redis in production) the response waits there: no database
write, so no commit, on the IdP's POST. Without one (the development default keeps its cache in
each process), or while the shared cache cannot be reached, it waits in a database session that
expires with it, as allauth's own ACS parks it. Either
way the browser holds only a random handle in a cookie scoped to the finish URL, and taking the
response deletes it, so it is used at most once (the replay record stops a second use anyway).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.cache import patch_vary_headers

from core.sessions import SessionStore
from core.shared_cache import UNREACHABLE, is_shared, note_unreachable

COOKIE = "sso-acs"
TTL_SECONDS = 300
_PREFIX = "sso:acs:"
_HANDLE = re.compile(r"[A-Za-z0-9_-]+")
_SESSION_KEY_LENGTH = 32


def backend() -> str:
    """``cache`` when the cache is shared between processes, else ``database``; ``SSO_PARKING`` forces one."""
    forced = getattr(settings, "SSO_PARKING", "")
    if forced:
        return forced
    return "cache" if is_shared() else "database"


def _park_in_database(post: dict[str, str]) -> str:
    store = SessionStore()
    store["post"] = post
    store.set_expiry(TTL_SECONDS)
    store.save()
    return store.session_key or ""


def _in_database(handle: str) -> bool:
    """Session keys are 32 characters; cache handles 43. The handle says where its POST waits, so a
    response parked in the database while the cache was down is found whatever the cache does next."""
    return len(handle) == _SESSION_KEY_LENGTH


def park(request: HttpRequest, response: HttpResponseRedirect, post: dict[str, str]) -> None:
    handle = ""
    if backend() == "cache":
        handle = secrets.token_urlsafe(32)
        try:
            cache.set(_PREFIX + handle, post, timeout=TTL_SECONDS)
        except UNREACHABLE as exc:
            note_unreachable("parking a sign-in response (parked in the database instead)", exc)
            handle = ""
    if not handle:
        handle = _park_in_database(post)
    patch_vary_headers(response, ("Cookie",))
    response.set_cookie(
        COOKIE,
        handle,
        max_age=TTL_SECONDS,
        path=response.url.split("?", 1)[0],
        domain=settings.SESSION_COOKIE_DOMAIN,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite=settings.SESSION_COOKIE_SAMESITE or "Lax",
    )


def _handle(request: HttpRequest) -> str | None:
    handle = request.COOKIES.get(COOKIE, "")
    # Ours are 43 (cache) or 32 (session) URL-safe characters; anything else was never issued here.
    return handle if 0 < len(handle) <= 64 and _HANDLE.fullmatch(handle) else None


def take(request: HttpRequest) -> dict[str, Any] | None:
    """The parked POST, gone from its store from now on; None when there is none (or it expired)."""
    handle = _handle(request)
    if not handle:
        return None
    if _in_database(handle):
        post = SessionStore(handle).take().get("post")
    else:
        key = _PREFIX + handle
        try:
            post = cache.get(key)
            if post is not None:
                cache.delete(key)
        except UNREACHABLE as exc:
            # Lost with the cache: the person is asked to start again, as when it expires.
            note_unreachable("taking a parked sign-in response", exc)
            post = None
    return post if isinstance(post, dict) else None


def discard(request: HttpRequest) -> None:
    """Make sure a refused response cannot be taken again (its transaction may have rolled back)."""
    handle = _handle(request)
    if not handle:
        return
    if _in_database(handle):
        SessionStore().delete(handle)
        return
    try:
        cache.delete(_PREFIX + handle)
    except UNREACHABLE as exc:
        note_unreachable("discarding a refused sign-in response", exc)
