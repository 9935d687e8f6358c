"""Shared pieces of the REST API: one error shape, token authentication, paging, limits, schema."""

from core.api.errors import exception_handler

__all__ = ["exception_handler"]
