"""A real SCIM 2.0 server (scim2-server, in memory) on a loopback port, standing in for the vendor.

Faults are injected at the HTTP boundary, in front of the real server, so the connector meets
what a vendor really does: 500s, 429 with Retry-After, slow answers, and outages.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.memory import InMemoryStorage
from scim2_server.utils import load_default_provider

TOKEN = "vendor-test-token"
# The connector's timeout against this loopback vendor: roomy enough that a loaded CI machine
# (two test runs side by side) never times out an ordinary request; a fault that must time the
# client out waits longer than that (SLOWER).
VENDOR_TIMEOUT = 2.0
SLOWER = VENDOR_TIMEOUT + 1.0


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # server_close() waits for requests still being served (a stalled or slow fault outlives the
    # client's timeout): none may run on into the next test. Python 3.11's parser keeps its
    # recursion depth per process, so a leftover thread building scim2 models while the next
    # test builds its own fails with "AST constructor recursion depth mismatch" (CPython gh-106905).
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        return


@dataclass
class Fault:
    """What the vendor does to the next request: ``status`` (with optional Retry-After), ``slow``
    (answer after ``seconds``, having done the work: the client times out but the user exists),
    or ``stall`` (wait ``seconds`` before doing anything)."""

    kind: str
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    methods: tuple[str, ...] = ()


@dataclass
class FakeVendor:
    """The running server, its storage, and the switches a test flips."""

    url: str
    storage: InMemoryStorage
    server: WSGIServer
    faults: deque = field(default_factory=deque)
    down: bool = False
    down_retry_after: str | None = None
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hooks: dict = field(default_factory=dict)

    def before_next(self, method: str, callback) -> None:
        """Run ``callback`` once when the next ``method`` request arrives, before it is served."""
        with self.lock:
            self.hooks[method] = callback

    def fail_next(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def users(self) -> list:
        return [r for r in self.storage.resources if type(r).__name__.startswith("User")]

    def users_named(self, user_name: str) -> list:
        return [u for u in self.users() if (u.user_name or "").lower() == user_name.lower()]

    def settings(self, **extra) -> dict:
        return {"base_url": self.url, "token": TOKEN, "timeout": VENDOR_TIMEOUT, **extra}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _respond(start_response, status: int, headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    body = (
        b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "%d", '
        b'"detail": "injected by the test vendor"}' % status
    )
    reason = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    start_response(
        f"{status} {reason.get(status, 'Error')}",
        [("Content-Type", "application/scim+json"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


@functools.cache
def _provider():
    """The description of the vendor's service: built once (it builds pydantic models from the
    RFC 7643 schemas), shared by every server; each keeps its own storage."""
    return load_default_provider()


def start_vendor() -> FakeVendor:
    storage = InMemoryStorage()
    app = WSGIApplication(storage, _provider())
    holder: dict[str, FakeVendor] = {}

    def with_faults(environ, start_response):
        vendor = holder["vendor"]
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        with vendor.lock:
            vendor.requests.append((method, path))
            auth = environ.get("HTTP_AUTHORIZATION", "")
            fault = None
            if vendor.faults and (not vendor.faults[0].methods or method in vendor.faults[0].methods):
                fault = vendor.faults.popleft()
            down = vendor.down
            hook = vendor.hooks.pop(method, None)
        if hook is not None:
            hook()
        if auth != f"Bearer {TOKEN}":
            return _respond(start_response, 401)
        if down:
            extra = [("Retry-After", vendor.down_retry_after)] if vendor.down_retry_after else []
            return _respond(start_response, 503, extra)
        if fault is None:
            return app(environ, start_response)
        if fault.kind == "status":
            extra = [("Retry-After", fault.retry_after)] if fault.retry_after else []
            return _respond(start_response, fault.status, extra)
        if fault.kind == "stall":
            time.sleep(fault.seconds)
            return app(environ, start_response)
        if fault.kind == "slow":
            captured: dict = {}

            def capture(status, headers, exc_info=None):
                captured.update(status=status, headers=headers)

            body = b"".join(app(environ, capture))
            time.sleep(fault.seconds)
            start_response(captured["status"], captured["headers"])
            return [body]
        raise AssertionError(f"unknown fault {fault.kind}")

    server = make_server(
        "127.0.0.1", 0, with_faults, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="fake-vendor", daemon=True)
    thread.start()
    vendor = FakeVendor(url=f"http://127.0.0.1:{server.server_port}/v2", storage=storage, server=server)
    holder["vendor"] = vendor
    return vendor
