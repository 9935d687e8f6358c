"""pysaml2 as an identity provider: an implementation no one here wrote, for the end-to-end tests.

It publishes real IdP metadata (registered through ``register_idp``), reads the platform's SP
metadata, parses the AuthnRequest from the redirect, and signs (and, when asked, encrypts) its
response with xmlsec1.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.sigver import (
    RSA_1_5,
    RSA_OAEP_MGF1P,
    TRIPLE_DES_CBC,
    get_pem_wrapped_unwrapped,
    make_temp,
    pre_encryption_part,
)
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from sso.keys import make_key_pair

XMLSEC = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
# Content ciphers (the algorithm, and the session key xmlsec1 makes for it) and key transports.
CIPHERS = {
    "aes256": ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256"),
    "3des": (TRIPLE_DES_CBC, "des-192"),
}
KEY_TRANSPORTS = {"rsa-oaep": RSA_OAEP_MGF1P, "rsa-1_5": RSA_1_5}


class _Server(Server):
    """pysaml2's IdP with the encryption algorithms chosen by the test (pysaml2 itself always uses
    3DES, which the service refuses, as a federal system should); otherwise pysaml2's own steps."""

    cipher = "aes256"
    key_transport = "rsa-oaep"

    def _encrypt_assertion(self, encrypt_cert, sp_entity_id, response, node_xpath=None):  # type: ignore[no-untyped-def]
        if encrypt_cert:
            cert = encrypt_cert
        else:
            [(_, cert)] = self.metadata.certs(sp_entity_id, "any", "encryption")
        wrapped, unwrapped = get_pem_wrapped_unwrapped(cert)
        key_file = make_temp(
            wrapped.encode("ascii"), decode=False, delete_tmpfiles=self.config.delete_tmpfiles
        )
        algorithm, session_key = CIPHERS[self.cipher]
        template = pre_encryption_part(
            msg_enc=algorithm, key_enc=KEY_TRANSPORTS[self.key_transport], encrypt_cert=unwrapped
        )
        return self.sec.encrypt_assertion(
            response, key_file.name, template, key_type=session_key, node_xpath=node_xpath
        )


class Pysaml2Idp:
    """One agency's IdP. ``metadata()`` for registration; ``answer(location, person)`` for sign-in."""

    def __init__(self, entity_id: str, folder: Path) -> None:
        self.entity_id = entity_id
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        key_pem, cert_pem = make_key_pair(entity_id)
        (folder / "key.pem").write_text(key_pem)
        (folder / "cert.pem").write_text(cert_pem)
        self.sso_url = entity_id.rstrip("/") + "/sso/redirect"
        self._sp_metadata: list[str] = []
        self._server: _Server | None = None

    def config(self) -> IdPConfig:
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "xmlsec_binary": XMLSEC,
                "key_file": str(self.folder / "key.pem"),
                "cert_file": str(self.folder / "cert.pem"),
                "metadata": {"inline": self._sp_metadata} if self._sp_metadata else {},
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 5},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_URI,
                            }
                        },
                    }
                },
            }
        )
        return config

    def metadata(self) -> bytes:
        """The IdP's own SAML metadata, as an agency would hand it to GSA."""
        return str(entity_descriptor(self.config())).encode()

    def trust(self, sp_metadata: bytes) -> None:
        """Load a service provider's metadata (the platform's, per agency)."""
        self._sp_metadata.append(sp_metadata.decode())
        self._server = _Server(config=self.config())

    def answer(
        self,
        location: str,
        identity: dict[str, list[str]],
        user_id: str,
        *,
        encrypt: bool = False,
        sign: bool = True,
        encrypt_cert: str | None = None,
        cipher: str = "aes256",
        key_transport: str = "rsa-oaep",
    ) -> str:
        """Parse the AuthnRequest in a redirect URL; return the base64 signed response for the ACS.

        ``encrypt``: the assertion is signed, then encrypted to the certificate the SP metadata
        offers for encryption (or to ``encrypt_cert``), as an IdP that encrypts does, with
        ``cipher`` (``CIPHERS``) and ``key_transport`` (``KEY_TRANSPORTS``).
        """
        assert self._server is not None, "call trust() with the SP metadata first"
        query = parse_qs(urlparse(location).query)
        self._server.cipher, self._server.key_transport = cipher, key_transport
        request = self._server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
        args = self._server.response_args(request.message, [BINDING_HTTP_POST])
        response = self._server.create_authn_response(
            identity,
            userid=user_id,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=user_id),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=sign,
            sign_response=False,
            encrypt_assertion=encrypt,
            encrypt_cert_assertion=encrypt_cert,
            # pysaml2's "self-contained" mode renames namespace prefixes inside the assertion after
            # signing it, which breaks its own signature (exclusive c14n keeps used prefixes); its
            # other mode only finds an unsigned assertion in self-contained form.
            encrypt_assertion_self_contained=not sign,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            in_response_to=args["in_response_to"],
            destination=args["destination"],
            sp_entity_id=args["sp_entity_id"],
            name_id_policy=args.get("name_id_policy"),
        )
        return base64.b64encode(str(response).encode()).decode()
