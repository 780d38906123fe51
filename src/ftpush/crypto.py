"""Secrets handling: password hashes, API-key digests, encryption at rest, key material.

* Passwords (FTP accounts, panel users) are stored as argon2id hashes only.
* API keys are 256-bit random tokens; only their SHA-256 is stored, which is
  enough for a high-entropy secret and lets a request be checked with one
  indexed lookup instead of an argon2 run per call.
* Customer secrets we must be able to use again (remote-server passwords and
  private keys) are encrypted with Fernet under a key kept in
  ``<data dir>/keys/secrets.key`` (mode 0600), never in the database.
* The SSH host key and the self-signed TLS certificate of ``ftpush serve``
  are generated once and kept.

Example::

    >>> h = hash_password("s3cret")
    >>> verify_password(h, "s3cret"), verify_password(h, "nope")
    (True, False)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from ftpush.errors import ConfigError, StorageError

_HASHER = PasswordHasher()
API_KEY_PREFIX = "ftp_"


def generate_password(length: int = 24) -> str:
    """A random password of URL-safe characters (about 6 bits each)."""
    return secrets.token_urlsafe(length)[:length]


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted, parameters embedded)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Check ``password`` against a stored hash in constant time."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its public prefix: ``("ftp_ab12cd34_<secret>", "ab12cd34")``.

    The prefix identifies the key in lists and logs without revealing it.
    """
    prefix = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def digest_api_key(key: str) -> str:
    """The stored form of an API key (hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; never leave a world-readable copy."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_or_create(path: Path, make: bytes | None = None) -> bytes:
    if path.exists():
        return path.read_bytes()
    assert make is not None
    _write_private(path, make)
    return make


class SecretBox:
    """Symmetric encryption for secrets stored in the database.

    >>> box = SecretBox(Fernet.generate_key())
    >>> box.decrypt(box.encrypt("pw"))
    'pw'
    """

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_keys_dir(cls, keys_dir: Path) -> SecretBox:
        """Load the key from ``keys_dir/secrets.key``, generating it on first use."""
        path = keys_dir / "secrets.key"
        try:
            key = _read_or_create(path, Fernet.generate_key()).strip()
            return cls(key)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot use the secrets key {path}: {exc}") from None

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise StorageError(
                "a stored secret cannot be decrypted: the data directory's keys/secrets.key "
                "is not the one it was encrypted with"
            ) from None


def session_secret(keys_dir: Path) -> str:
    """The panel's cookie-signing key, generated once and kept."""
    return _read_or_create(keys_dir / "session.key", secrets.token_urlsafe(48).encode()).decode()


def ensure_ssh_host_key(path: Path) -> str:
    """Create an Ed25519 host key in OpenSSH format if missing; return its public line."""
    if not path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        _write_private(path, pem)
    private = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode()


def ensure_tls_certificate(cert_path: Path, key_path: Path, hostnames: list[str]) -> None:
    """Create a self-signed certificate for FTPS if none exists (10 years, RSA 3072)."""
    if cert_path.exists() and key_path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    alt_names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ssh_public_key_fingerprint(line: str) -> str:
    """``SHA256:...`` fingerprint of an OpenSSH public key line, as ``ssh-keygen -l`` shows."""
    parts = line.split()
    if len(parts) < 2:
        raise ValueError("not an OpenSSH public key line")
    serialization.load_ssh_public_key(f"{parts[0]} {parts[1]}".encode())
    blob = base64.b64decode(parts[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"
