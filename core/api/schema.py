"""OpenAPI additions: the token security scheme and the error responses every operation can give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error the API answers, whatever its status.",
    "properties": {
        "code": {"type": "string", "description": "Stable, for programs: e.g. invalid_input, not_found."},
        "detail": {"type": "string", "description": "For people: what happened and what to do."},
        "errors": {
            "type": "object",
            "description": "Field errors: field name (dotted for nested fields) to messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["code", "detail", "errors"],
}

EVERY_OPERATION = {
    "400": "Invalid filters, fields or cursor (errors name the fields).",
    "401": "No credentials, or a token that is unknown, revoked or expired.",
    "403": "The caller's role may not use this endpoint, a read-only token tried to write, or a staff "
    "session has not confirmed its second factor.",
    "404": "No such object within the caller's scope.",
    "406": "The Accept header asks for a format the API does not give.",
    "429": "Too many requests; wait for Retry-After seconds.",
}
WRITES = {
    "409": "The domain refuses the change as things stand (e.g. the pool is full); detail says why.",
    "413": "The request body is larger than the limit.",
    "415": "The body is not JSON.",
    "503": "An outside service (DNS, Stripe) did not answer; try again later.",
}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "core.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (ais_...), read or read-write, from POST /api/v1/tokens/.",
        }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: document the one error shape on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            wanted = dict(EVERY_OPERATION)
            if method != "get":
                wanted.update(WRITES)
            responses = operation.setdefault("responses", {})
            for code, description in wanted.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result


class ApiAutoSchema(AutoSchema):
    """Names nested serializers after their view (``SeatClaimApi.InputSerializer``: ``SeatClaimApiInput``)."""

    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        return type(serializer).__qualname__.replace(".", "")
