"""Small database helpers shared by the services."""

from __future__ import annotations

from django.db import IntegrityError


def constraint_violated(exc: IntegrityError, name: str, sqlite_hint: str = "") -> bool:
    """True when ``exc`` was raised by the named constraint.

    PostgreSQL names the constraint in the error's diagnostics. SQLite names CHECK constraints
    but reports a UNIQUE violation by its columns ("UNIQUE constraint failed: t.a, t.b"), so the
    caller passes that text as ``sqlite_hint``.
    """
    diag = getattr(exc.__cause__, "diag", None)
    constraint_name = getattr(diag, "constraint_name", None)
    if constraint_name:
        return constraint_name == name
    text = str(exc)
    return name in text or bool(sqlite_hint and sqlite_hint in text)
