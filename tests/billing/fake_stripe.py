"""A local stand-in for the Stripe endpoints the platform calls, on 127.0.0.1 and an ephemeral port.

It keeps customers, invoices and invoice items in memory and behaves like Stripe where the
platform depends on it: idempotency keys replay the first saved answer (a saved 500 included)
and refuse reuse with other parameters; finalizing numbers an invoice and sets its due date;
only drafts take lines or can be deleted; only open invoices can be sent or voided. It records
every request, Idempotency-Key included, and fails on demand:

- ``unavailable``: answer 503 before doing anything, nothing saved (a proxy in front of Stripe);
- ``server_error``: do the work, then answer 500 and save that 500 under the key (Stripe does);
- ``drop``: do the work, save the answer, then close the connection without sending it.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    headers: dict[str, str]


@dataclass
class Failure:
    method: str
    path: re.Pattern[str]
    mode: str
    remaining: int


@dataclass
class _Saved:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]


class StripeApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type_


def decode_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


@dataclass
class FakeStripe:
    """The server and its state. ``url`` goes into STRIPE_API_BASE."""

    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    _saved: dict[str, _Saved] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- test controls -----------------------------------------------------------------------
    def fail(self, method: str, path: str, mode: str, times: int = 1) -> None:
        """Fail the next ``times`` requests matching ``method`` and the ``path`` regex."""
        assert mode in {"unavailable", "server_error", "drop"}
        self.failures.append(Failure(method, re.compile(path), mode, times))

    def calls(self, method: str, path: str) -> list[Recorded]:
        pattern = re.compile(path)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    def invoice_for(self, order_uuid: str) -> dict:
        found = [i for i in self.invoices.values() if i["metadata"].get("renewal_order") == order_uuid]
        assert len(found) == 1, f"{len(found)} invoices for renewal {order_uuid}"
        return found[0]

    def pay(self, invoice_id: str, *, out_of_band: bool = False) -> dict:
        with self._lock:
            invoice = self.invoices[invoice_id]
            assert invoice["status"] in {"open", "uncollectible"}, invoice["status"]
            invoice.update(
                status="paid",
                paid=True,
                paid_out_of_band=out_of_band,
                amount_paid=invoice["total"],
                amount_remaining=0,
            )
            return invoice

    def set_status(self, invoice_id: str, status: str) -> dict:
        with self._lock:
            self.invoices[invoice_id]["status"] = status
            return self.invoices[invoice_id]

    def make_past_due(self, invoice_id: str, days: int = 1) -> dict:
        with self._lock:
            self.invoices[invoice_id]["due_date"] = int(time.time()) - days * 86400
            return self.invoices[invoice_id]

    def event(self, event_type: str, invoice_id: str, *, event_id: str | None = None) -> dict:
        """A webhook event as Stripe sends it, carrying the invoice as it is now."""
        with self._lock:
            number = next(self._ids)
            return {
                "id": event_id or f"evt_{number:06d}",
                "object": "event",
                "api_version": "2026-10-28.endive",
                "created": int(time.time()),
                "livemode": False,
                "pending_webhooks": 1,
                "type": event_type,
                "data": {"object": json.loads(json.dumps(self.invoices[invoice_id]))},
            }

    # --- HTTP --------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        pairs = parse_qsl(split.query if method != "POST" else body, keep_blank_values=True)
        params = decode_params(pairs)
        key = handler.headers.get("Idempotency-Key")
        with self._lock:
            self.requests.append(Recorded(method, split.path, params, key, dict(handler.headers.items())))
            failure = self._take_failure(method, split.path)
            if not (handler.headers.get("Authorization") or "").startswith("Bearer sk_test_"):
                return self._reply(handler, 401, _error("Invalid API key provided.", "invalid_request_error"))
            if failure is not None and failure.mode == "unavailable":
                return self._reply(handler, 503, _error("Service unavailable.", "api_error"))
            if key and method == "POST" and key in self._saved:
                saved = self._saved[key]
                if (saved.method, saved.path, saved.params) != (method, split.path, params):
                    return self._reply(
                        handler,
                        400,
                        _error(
                            f"Keys for idempotent requests can only be used with the same parameters "
                            f"they were first used with. Try using a key other than '{key}'.",
                            "idempotency_error",
                        ),
                    )
                return self._reply(handler, saved.status, saved.body, replayed=True)
            try:
                status, answer = 200, self._route(method, split.path, params)
            except StripeApiError as exc:
                status, answer = exc.status, _error(exc.message, exc.type)
            if failure is not None and failure.mode == "server_error":
                status, answer = 500, _error("An unknown error occurred.", "api_error")
            if key and method == "POST":
                self._saved[key] = _Saved(method, split.path, params, status, answer)
            if failure is not None and failure.mode == "drop":
                handler.close_connection = True
                return None
            return self._reply(handler, status, answer)

    def _take_failure(self, method: str, path: str) -> Failure | None:
        for failure in self.failures:
            if failure.remaining > 0 and failure.method == method and failure.path.fullmatch(path):
                failure.remaining -= 1
                return failure
        return None

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict, replayed: bool = False) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", "req_fake")
        if replayed:
            handler.send_header("Idempotent-Replayed", "true")
        handler.end_headers()
        handler.wfile.write(data)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def _route(self, method: str, path: str, params: dict) -> dict:
        routes = [
            ("POST", r"/v1/customers", self._customer_create),
            ("GET", r"/v1/customers", self._customer_list),
            ("POST", r"/v1/customers/(?P<id>[^/]+)", self._customer_update),
            ("POST", r"/v1/invoices", self._invoice_create),
            ("GET", r"/v1/invoices", self._invoice_list),
            ("GET", r"/v1/invoices/(?P<id>[^/]+)", self._invoice_get),
            ("DELETE", r"/v1/invoices/(?P<id>[^/]+)", self._invoice_delete),
            ("POST", r"/v1/invoices/(?P<id>[^/]+)/finalize", self._invoice_finalize),
            ("POST", r"/v1/invoices/(?P<id>[^/]+)/send", self._invoice_send),
            ("POST", r"/v1/invoices/(?P<id>[^/]+)/void", self._invoice_void),
            ("POST", r"/v1/invoiceitems", self._invoice_item_create),
        ]
        for route_method, pattern, action in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return action(params, **match.groupdict())
        raise StripeApiError(404, f"Unrecognized request URL ({method}: {path}).")

    # --- customers ---------------------------------------------------------------------------
    def _customer_create(self, params: dict) -> dict:
        customer = {
            "id": self._new_id("cus"),
            "object": "customer",
            "name": params.get("name"),
            "email": params.get("email"),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _customer_list(self, params: dict) -> dict:
        found = [
            c for c in self.customers.values() if not params.get("email") or c["email"] == params["email"]
        ]
        return {"object": "list", "data": found, "has_more": False, "url": "/v1/customers"}

    def _customer_update(self, params: dict, id: str) -> dict:
        customer = self._get(self.customers, id, "customer")
        customer.update({k: v for k, v in params.items() if k in {"email", "name", "metadata"}})
        return customer

    # --- invoices ----------------------------------------------------------------------------
    def _get(self, table: dict, id: str, kind: str) -> dict:
        if id not in table:
            raise StripeApiError(404, f"No such {kind}: '{id}'")
        return table[id]

    def _invoice_create(self, params: dict) -> dict:
        customer = self._get(self.customers, params.get("customer", ""), "customer")
        invoice = {
            "id": self._new_id("in"),
            "object": "invoice",
            "customer": customer["id"],
            "customer_email": customer["email"],
            "status": "draft",
            "collection_method": params.get("collection_method", "charge_automatically"),
            "days_until_due": int(params["days_until_due"]) if params.get("days_until_due") else None,
            "auto_advance": params.get("auto_advance") == "true",
            "currency": params.get("currency", "usd"),
            "description": params.get("description"),
            "custom_fields": params.get("custom_fields") or None,
            "metadata": params.get("metadata", {}),
            "lines": {"object": "list", "data": [], "has_more": False},
            "total": 0,
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "due_date": None,
            "number": None,
            "hosted_invoice_url": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.invoices[invoice["id"]] = invoice
        return invoice

    def _invoice_list(self, params: dict) -> dict:
        found = [i for i in self.invoices.values() if i["customer"] == params.get("customer", i["customer"])]
        return {"object": "list", "data": found, "has_more": False, "url": "/v1/invoices"}

    def _invoice_get(self, params: dict, id: str) -> dict:
        return self._get(self.invoices, id, "invoice")

    def _invoice_delete(self, params: dict, id: str) -> dict:
        invoice = self._get(self.invoices, id, "invoice")
        if invoice["status"] != "draft":
            raise StripeApiError(400, "You can only delete draft invoices.")
        del self.invoices[id]
        return {"id": id, "object": "invoice", "deleted": True}

    def _invoice_item_create(self, params: dict) -> dict:
        invoice = self._get(self.invoices, params.get("invoice", ""), "invoice")
        if invoice["status"] != "draft":
            raise StripeApiError(400, "You can only add invoice items to draft invoices.")
        if params.get("customer") != invoice["customer"]:
            raise StripeApiError(400, "The invoice belongs to another customer.")
        quantity = int(params.get("quantity", 1))
        if "amount" in params:
            amount = int(params["amount"])
        else:
            amount = int(float(params["unit_amount_decimal"]) * quantity)
        line = {
            "id": self._new_id("il"),
            "object": "line_item",
            "amount": amount,
            "quantity": quantity,
            "currency": params.get("currency"),
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
        }
        invoice["lines"]["data"].append(line)
        total = sum(item["amount"] for item in invoice["lines"]["data"])
        invoice.update(total=total, amount_due=total, amount_remaining=total)
        return {"id": self._new_id("ii"), "object": "invoiceitem", "invoice": invoice["id"], **line}

    def _invoice_finalize(self, params: dict, id: str) -> dict:
        invoice = self._get(self.invoices, id, "invoice")
        if invoice["status"] != "draft":
            raise StripeApiError(400, "This invoice is already finalized.")
        number = sum(1 for i in self.invoices.values() if i["number"]) + 1
        invoice.update(
            status="open",
            number=f"SEATS-{number:04d}",
            due_date=int(time.time()) + (invoice["days_until_due"] or 30) * 86400,
            hosted_invoice_url=f"https://invoice.stripe.test/i/{id}",
            auto_advance=params.get("auto_advance") == "true",
        )
        return invoice

    def _invoice_send(self, params: dict, id: str) -> dict:
        invoice = self._get(self.invoices, id, "invoice")
        if invoice["status"] != "open":
            raise StripeApiError(400, "You can only send open invoices.")
        if not self.customers[invoice["customer"]]["email"]:
            raise StripeApiError(400, "The customer has no email address to send the invoice to.")
        self.sent.append(id)
        return invoice

    def _invoice_void(self, params: dict, id: str) -> dict:
        invoice = self._get(self.invoices, id, "invoice")
        if invoice["status"] not in {"open", "uncollectible"}:
            raise StripeApiError(400, f"You cannot void a {invoice['status']} invoice.")
        invoice["status"] = "void"
        return invoice


def _error(message: str, type_: str) -> dict:
    return {"error": {"message": message, "type": type_}}
