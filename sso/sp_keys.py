"""The service's own SAML key pair, so that agencies' IdPs may encrypt their assertions.

The certificate goes into every agency's SP metadata as its encryption key (see
``sso.saml.SpSettings``); python3-saml decrypts an ``EncryptedAssertion`` with the key, then
checks the signature of the assertion inside as it checks any other. Without a pair, an encrypted
assertion is refused with a message saying what to do.

Production names two PEM files (``SAML_SP_KEY_FILE``, ``SAML_SP_CERT_FILE``); development makes a
pair once under ``SAML_SP_KEY_DIR``. Both are read once per process and checked to belong
together, so a mismatched pair stops the first sign-in with a clear error rather than failing
every decryption.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sso.keys import stored_key_pair


@dataclass(frozen=True)
class SpKeyPair:
    private_key: str
    certificate: str
    fingerprint: str  # SHA-256 of the certificate: a new pair is a new version of every agency's settings
    not_after: datetime

    @property
    def fingerprint_display(self) -> str:
        """The fingerprint as IdP consoles show it: AB:CD:..."""
        return ":".join(self.fingerprint[i : i + 2] for i in range(0, len(self.fingerprint), 2)).upper()


_loaded: dict[tuple[str, str, str], SpKeyPair] = {}
_lock = threading.Lock()


def sp_key_pair() -> SpKeyPair | None:
    """The configured pair, or None when the service has none (assertions then come unencrypted)."""
    key_file: str = settings.SAML_SP_KEY_FILE or ""
    cert_file: str = settings.SAML_SP_CERT_FILE or ""
    folder: str = "" if key_file else (settings.SAML_SP_KEY_DIR or "")
    if not key_file and not folder:
        return None
    where = (key_file, cert_file, folder)
    with _lock:
        pair = _loaded.get(where)
        if pair is None:
            if key_file:
                key_pem, cert_pem = Path(key_file).read_text(), Path(cert_file).read_text()
            else:
                key_pem, cert_pem = stored_key_pair(Path(folder), "AI Seats service provider")
            pair = _loaded[where] = _checked(key_pem, cert_pem, f"{key_file or folder}")
    return pair


def _checked(key_pem: str, cert_pem: str, where: str) -> SpKeyPair:
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except ValueError as exc:
        raise ImproperlyConfigured(f"The SAML key pair in {where} cannot be read: {exc}") from exc
    public = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*public) != certificate.public_key().public_bytes(*public):
        raise ImproperlyConfigured(f"The SAML key in {where} does not belong to its certificate.")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SpKeyPair(
        private_key=key_pem,
        certificate=cert_pem,
        fingerprint=hashlib.sha256(der).hexdigest(),
        not_after=certificate.not_valid_after_utc,
    )


def sp_key_pair_forget() -> None:
    """Read the files again on next use (tests; a process picks up a new pair when it restarts)."""
    with _lock:
        _loaded.clear()
