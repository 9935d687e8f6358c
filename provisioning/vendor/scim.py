"""The vendor's SCIM 2.0 API, through scim2-client over httpx.

Every write is idempotent by construction: before creating a user we look the person up by
``externalId`` (then ``userName``), and a ``409 uniqueness`` answer to a create that raced with
an earlier, timed-out one is resolved by looking again. Retrying a create never makes two users.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from scim2_client import BaseSyncSCIMClient, SCIMClientException
from scim2_client.errors import RequestNetworkException
from scim2_models import (
    Email,
    ListResponse,
    Name,
    PatchOp,
    PatchOperation,
    SCIMException,
    ScimProvider,
    SearchRequest,
    User,
)

from provisioning.vendor.base import Person, VendorError, VendorUser, parse_retry_after

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}
PAGE_SIZE = 200


class _HttpxSCIMClient(BaseSyncSCIMClient):
    """scim2-client's request checking, sent through an ``httpx.Client``."""

    def __init__(self, client: httpx.Client, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client

    def _stays_under_base_url(self, endpoint: str) -> bool:
        base = self.client.base_url
        url = self.client.build_request("GET", endpoint).url
        return (
            url.scheme == base.scheme
            and url.host == base.host
            and url.port == base.port
            and (url.raw_path.startswith(base.raw_path))
        )

    def _parse_json(self, response: Any) -> Any:
        return response.json()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, url, **kwargs)
        except httpx.RequestError as exc:
            network = RequestNetworkException()
            network.add_note(f"{exc.__class__.__name__}: {exc}")
            raise network from exc


def _status_and_headers(exc: BaseException) -> tuple[int | None, httpx.Headers | None]:
    source = getattr(exc, "source", None)
    if isinstance(source, httpx.Response):
        return source.status_code, source.headers
    return getattr(exc, "status", None), None


def _as_vendor_error(exc: BaseException, doing: str) -> VendorError:
    if isinstance(exc, RequestNetworkException):
        cause = exc.__cause__
        detail = f"{cause.__class__.__name__}: {cause}" if cause else str(exc)
        return VendorError(f"{doing}: the vendor did not answer ({detail})", retryable=True)
    status, headers = _status_and_headers(exc)
    retry_after = parse_retry_after(headers.get("retry-after")) if headers is not None else None
    detail = getattr(exc, "detail", None) or str(exc) or exc.__class__.__name__
    message = f"{doing}: the vendor answered {status}: {detail}" if status else f"{doing}: {detail}"
    if status is None:
        # A malformed answer (wrong content type, invalid payload) is worth another try.
        return VendorError(message, retryable=True)
    if status in (401, 403):
        message += " (check the program's SCIM token and its scopes, then retry the seat)"
    return VendorError(
        message, retryable=status in RETRYABLE_STATUSES, status=status, retry_after=retry_after
    )


@contextmanager
def _vendor_call(doing: str) -> Iterator[None]:
    try:
        yield
    except (SCIMClientException, SCIMException) as exc:
        raise _as_vendor_error(exc, doing) from exc


def _user(resource: User) -> VendorUser:
    return VendorUser(
        id=str(resource.id),
        user_name=resource.user_name or "",
        external_id=resource.external_id or "",
        active=resource.active is not False,
    )


class ScimConnector:
    """Creates, updates, deactivates and lists the users of one vendor workspace."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str = "",
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/scim+json", "User-Agent": "ai-seats-provisioning/1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=False,
        )
        self._scim = _HttpxSCIMClient(self._http, provider=ScimProvider(models=[User]))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ScimConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reads -------------------------------------------------------------------------------
    def _search(self, scim_filter: str) -> list[VendorUser]:
        with _vendor_call("looking the user up"):
            found = self._scim.query(User, query_parameters=SearchRequest(filter=scim_filter, count=2))
        assert isinstance(found, ListResponse)
        return [_user(resource) for resource in found.resources or []]

    def find(self, person: Person, vendor_user_id: str = "") -> VendorUser | None:
        """The vendor's user for this person: by id when we know it, else externalId, else userName."""
        if vendor_user_id:
            try:
                with _vendor_call("reading the user"):
                    return _user(self._scim.query(User, vendor_user_id))
            except VendorError as exc:
                if exc.status != 404:
                    raise
        for attribute, value in (("externalId", person.external_id), ("userName", person.user_name)):
            if value:
                matches = self._search(f'{attribute} eq "{_quote(value)}"')
                if matches:
                    return matches[0]
        return None

    def list_users(self) -> Iterator[VendorUser]:
        """Every user of the workspace, page by page."""
        start = 1
        while True:
            with _vendor_call("listing users"):
                page = self._scim.query(
                    User, query_parameters=SearchRequest(start_index=start, count=PAGE_SIZE)
                )
            assert isinstance(page, ListResponse)
            resources = page.resources or []
            for resource in resources:
                yield _user(resource)
            start += len(resources)
            if not resources or start > (page.total_results or 0):
                return

    # --- writes ------------------------------------------------------------------------------
    def _payload(self, person: Person, *, active: bool) -> User:
        return User(
            user_name=person.user_name,
            external_id=person.external_id,
            active=active,
            display_name=person.display_name,
            name=Name(given_name=person.given_name or None, family_name=person.family_name or None),
            emails=[Email(value=person.email, primary=True, type="work")],
        )

    def _set_active(self, vendor_user_id: str, active: bool, doing: str) -> None:
        patch = PatchOp[User](operations=[PatchOperation(op="replace", path="active", value=active)])
        with _vendor_call(doing):
            self._scim.modify(User, vendor_user_id, patch)

    def ensure_active(self, person: Person, vendor_user_id: str = "") -> VendorUser:
        """Make sure the person has an active user, creating it only if none exists."""
        existing = self.find(person, vendor_user_id)
        if existing is not None:
            if not existing.active:
                self._set_active(existing.id, True, "reactivating the user")
            return VendorUser(existing.id, existing.user_name, existing.external_id, True)
        try:
            with _vendor_call("creating the user"):
                created = self._scim.create(self._payload(person, active=True))
        except VendorError as exc:
            if exc.status != 409:
                raise
            # An earlier attempt that timed out did create the user: adopt it.
            existing = self.find(person)
            if existing is None:
                raise
            logger.info("vendor already had %s; adopting user %s", person.user_name, existing.id)
            if not existing.active:
                self._set_active(existing.id, True, "reactivating the user")
            return VendorUser(existing.id, existing.user_name, existing.external_id, True)
        assert isinstance(created, User)
        return _user(created)

    def deactivate(self, person: Person, vendor_user_id: str = "") -> VendorUser | None:
        """Deactivate the person's user; nothing to do when the vendor never had one."""
        existing = self.find(person, vendor_user_id)
        if existing is None:
            return None
        if existing.active:
            try:
                self._set_active(existing.id, False, "deactivating the user")
            except VendorError as exc:
                if exc.status != 404:
                    raise
                return None
        return VendorUser(existing.id, existing.user_name, existing.external_id, False)

    def deactivate_id(self, vendor_user_id: str) -> None:
        """Deactivate a user we know only by its vendor id (an orphan found by reconciliation)."""
        try:
            self._set_active(vendor_user_id, False, "deactivating the user")
        except VendorError as exc:
            if exc.status != 404:
                raise


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
