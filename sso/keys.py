"""Key pairs made here: the development IdP's, the service's own SAML pair in development, tests'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def stored_key_pair(folder: Path, common_name: str) -> tuple[str, str]:
    """The key and certificate (PEM) kept in ``folder``, made there on first use."""
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    if key_path.exists() and cert_path.exists():
        return key_path.read_text(), cert_path.read_text()
    folder.mkdir(parents=True, exist_ok=True)
    key_pem, cert_pem = make_key_pair(common_name)
    key_path.write_text(key_pem)
    key_path.chmod(0o600)
    cert_path.write_text(cert_pem)
    return key_pem, cert_pem


def make_key_pair(
    common_name: str, *, days: int = 730, not_before: datetime | None = None
) -> tuple[str, str]:
    """A fresh RSA-2048 key and a self-signed certificate for it (PEM strings)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()
