from __future__ import annotations

import pytest

from audit.actors import Actor
from sso.metadata import manual_config
from sso.services import identity_provider_register
from tests.sso.saml_kit import Forge, SamlBrowser, keys

IDP_A = "https://idp.examples.gov/saml"
IDP_B = "https://login.elsewhere.gov/idp"


def register(agency, entity_id: str, key_name: str, **kwargs):
    config = manual_config(entity_id=entity_id, sso_url=f"{entity_id}/sso", certificates=[keys(key_name)[1]])
    return identity_provider_register(agency=agency, config=config, actor=Actor.system("test"), **kwargs)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Staff fixtures hash passwords; the SSO tests are not about hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def idp(department):
    """Department of Examples signs in through its own IdP (key "examples")."""
    return register(department, IDP_A, "examples")


@pytest.fixture
def other_idp(other_department):
    return register(other_department, IDP_B, "elsewhere")


@pytest.fixture
def browser(client):
    return SamlBrowser(client)


@pytest.fixture
def forge(idp):
    """A valid response from the department's IdP; tests bend one knob at a time."""
    return Forge(slug=idp.agency.slug, issuer=IDP_A, key=keys("examples"))
