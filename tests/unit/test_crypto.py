from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509

from ftpush.crypto import (
    SecretBox,
    digest_api_key,
    ensure_ssh_host_key,
    ensure_tls_certificate,
    generate_password,
    hash_password,
    new_api_key,
    same_digest,
    session_secret,
    ssh_public_key_fingerprint,
    verify_password,
)
from ftpush.errors import StorageError


def test_password_hash_round_trip() -> None:
    password = generate_password()
    assert len(password) == 24
    stored = hash_password(password)
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert verify_password(stored, password)
    assert not verify_password(stored, password + "x")
    assert not verify_password("not-a-hash", password)


def test_api_keys_are_random_and_stored_as_digests() -> None:
    key, prefix = new_api_key()
    other, _ = new_api_key()
    assert key != other
    assert key.startswith(f"ftp_{prefix}_")
    digest = digest_api_key(key)
    assert len(digest) == 64
    assert key not in digest
    assert same_digest(digest, digest_api_key(key))
    assert not same_digest(digest, digest_api_key(other))


def test_secret_box_keeps_its_key_private(tmp_path: Path) -> None:
    box = SecretBox.from_keys_dir(tmp_path / "keys")
    token = box.encrypt("remote-password")
    assert b"remote-password" not in token
    again = SecretBox.from_keys_dir(tmp_path / "keys")  # same key, read back
    assert again.decrypt(token) == "remote-password"
    mode = stat.S_IMODE((tmp_path / "keys" / "secrets.key").stat().st_mode)
    assert mode == 0o600


def test_secret_box_with_another_key_says_so(tmp_path: Path) -> None:
    token = SecretBox.from_keys_dir(tmp_path / "a").encrypt("x")
    with pytest.raises(StorageError, match="cannot be decrypted"):
        SecretBox.from_keys_dir(tmp_path / "b").decrypt(token)


def test_session_secret_is_generated_once(tmp_path: Path) -> None:
    first = session_secret(tmp_path)
    assert len(first) >= 48
    assert session_secret(tmp_path) == first


def test_host_key_is_generated_once_and_matches_ssh_keygen(tmp_path: Path) -> None:
    path = tmp_path / "ssh_host_ed25519_key"
    public = ensure_ssh_host_key(path)
    assert public.startswith("ssh-ed25519 ")
    assert ensure_ssh_host_key(path) == public
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if shutil.which("ssh-keygen"):
        out = subprocess.run(
            ["ssh-keygen", "-lf", str(path)], capture_output=True, text=True, check=True
        ).stdout
        assert ssh_public_key_fingerprint(public) == out.split()[1]


def test_fingerprint_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not an OpenSSH public key"):
        ssh_public_key_fingerprint("ssh-ed25519")
    with pytest.raises(ValueError):  # noqa: PT011 - cryptography's message is its own
        ssh_public_key_fingerprint("ssh-ed25519 bm90LWEta2V5")


def test_self_signed_certificate(tmp_path: Path) -> None:
    cert_path, key_path = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    ensure_tls_certificate(cert_path, key_path, ["localhost", "127.0.0.1"])
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    before = cert_path.read_bytes()
    ensure_tls_certificate(cert_path, key_path, ["localhost"])
    assert cert_path.read_bytes() == before
