"""Where the ACS parks the IdP's POST between its two steps, for a few minutes and for one use.

With a cache every process shares (Redis in production) the response waits there: no database
write, so no commit, on the IdP's POST. Without one (the development default keeps its cache in
each process) it waits in a database session that expires with it, as allauth's own ACS parks it. Either
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

COOKIE = "sso-acs"
TTL_SECONDS = 300
_PREFIX = "sso:acs:"
_HANDLE = re.compile(r"[A-Za-z0-9_-]+")


def backend() -> str:
    """``cache`` when the cache is shared between processes, else ``database``; ``SSO_PARKING`` forces one."""
    forced = getattr(settings, "SSO_PARKING", "")
    if forced:
        return forced
    name = settings.CACHES.get("default", {}).get("BACKEND", "")
    return "database" if name.endswith(("LocMemCache", "DummyCache")) else "cache"


def park(request: HttpRequest, response: HttpResponseRedirect, post: dict[str, str]) -> None:
    if backend() == "cache":
        handle = secrets.token_urlsafe(32)
        cache.set(_PREFIX + handle, post, timeout=TTL_SECONDS)
    else:
        store = SessionStore()
        store["post"] = post
        store.set_expiry(TTL_SECONDS)
        store.save()
        handle = store.session_key or ""
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
    if backend() != "cache":
        post = SessionStore(handle).take().get("post")
    else:
        key = _PREFIX + handle
        post = cache.get(key)
        if post is not None:
            cache.delete(key)
    return post if isinstance(post, dict) else None


def discard(request: HttpRequest) -> None:
    """Make sure a refused response cannot be taken again (its transaction may have rolled back)."""
    handle = _handle(request)
    if not handle:
        return
    if backend() != "cache":
        SessionStore().delete(handle)
    else:
        cache.delete(_PREFIX + handle)
