"""Outbound connectors: how seats reach each program's vendor.

``scim``: the vendor's SCIM 2.0 API (``ScimConnector``). ``csv``: the vendor takes files; jobs wait
in the outbox until an administrator exports them (``provisioning.vendor.csvfile``) and confirms
the vendor loaded the file. ``none``: there is no vendor step.
"""

from __future__ import annotations

import os

from django.conf import settings

from core.errors import ConnectorNotConfigured
from provisioning.vendor.base import Person, VendorError, VendorUser
from provisioning.vendor.scim import ScimConnector

__all__ = ["Person", "ScimConnector", "VendorError", "VendorUser", "person_for", "scim_connector_for"]


def scim_connector_for(program) -> ScimConnector:  # type: ignore[no-untyped-def]
    """The SCIM connector of a program, from its ``connector_settings``.

    ``base_url`` is the vendor's SCIM root (``https://vendor.example/scim/v2``); the bearer token
    comes from ``token_env`` (the name of an environment variable, for production) or ``token``.
    """
    options = program.connector_settings or {}
    base_url = options.get("base_url", "")
    if program.connector != "scim" or not base_url:
        raise ConnectorNotConfigured(
            f"{program.name} has no SCIM connector configured: set its connector to “scim” and give "
            "connector_settings a base_url (and token_env naming the variable that holds the token)."
        )
    token = os.environ.get(options["token_env"], "") if options.get("token_env") else options.get("token", "")
    return ScimConnector(
        base_url=base_url,
        token=token,
        timeout=float(options.get("timeout", settings.PROVISIONING_TIMEOUT_SECONDS)),
    )


def person_for(employee) -> Person:  # type: ignore[no-untyped-def]
    return Person(
        external_id=str(employee.uuid),
        user_name=employee.email,
        email=employee.email,
        given_name=employee.given_name,
        family_name=employee.family_name,
    )
