"""Typed readers for configuration that comes from the environment.

Secrets may also come from a file named by ``<NAME>_FILE`` (Docker and Kubernetes
secrets); the file wins over nothing, the plain variable wins over the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None:
        path = os.environ.get(f"{name}_FILE")
        if path:
            try:
                value = Path(path).read_text().strip()
            except OSError as exc:
                raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def email_config(url: str) -> dict[str, object]:
    """Turn EMAIL_URL into Django email settings.

    ``console://`` (the default), ``locmem://``, ``file:///path``, ``smtp://user:pass@host:25``,
    ``smtp+tls://...:587`` (STARTTLS) and ``smtp+ssl://...:465``.
    """
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    scheme = parsed.scheme
    backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "locmem": "django.core.mail.backends.locmem.EmailBackend",
        "file": "django.core.mail.backends.filebased.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
        "smtp+ssl": "django.core.mail.backends.smtp.EmailBackend",
    }
    if scheme not in backends:
        raise ImproperlyConfigured(
            f"EMAIL_URL scheme {scheme!r} is not supported; use one of {', '.join(backends)}."
        )
    config: dict[str, object] = {"EMAIL_BACKEND": backends[scheme]}
    if scheme == "file":
        config["EMAIL_FILE_PATH"] = parsed.path
    if scheme.startswith("smtp"):
        config.update(
            EMAIL_HOST=parsed.hostname or "localhost",
            EMAIL_PORT=parsed.port or {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}[scheme],
            EMAIL_HOST_USER=unquote(parsed.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parsed.password or ""),
            EMAIL_USE_TLS=scheme == "smtp+tls",
            EMAIL_USE_SSL=scheme == "smtp+ssl",
        )
    return config
