"""RemoteTarget validation, fingerprint spellings, redaction and path helpers."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftpush.errors import InvalidInput, RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote.base import (
    RemoteTarget,
    check_path,
    join,
    normalize_ssh_fingerprint,
    normalize_tls_fingerprint,
    open_client,
    redact,
)
from ftpush.remote.ftp import FtpClient
from ftpush.remote.keys import generate_key_pair
from ftpush.remote.sftp import SftpClient

DIGEST = hashlib.sha256(b"k").digest()
SSH_FP = "SHA256:" + base64.b64encode(DIGEST).decode().rstrip("=")
TLS_FP = ":".join(f"{b:02X}" for b in DIGEST)


def sftp(**kw: object) -> RemoteTarget:
    fields: dict[str, object] = {"username": "u", "password": "pw"} | kw
    return RemoteTarget(RemoteProtocol.SFTP, "h.example", **fields)  # type: ignore[arg-type]


def ftps(**kw: object) -> RemoteTarget:
    fields: dict[str, object] = {"username": "u", "password": "pw"} | kw
    return RemoteTarget(RemoteProtocol.FTPS, "h.example", **fields)  # type: ignore[arg-type]


def test_defaults_and_url() -> None:
    target = RemoteTarget("sftp", "h.example", username="u", private_key="KEY")  # type: ignore[arg-type]
    assert target.protocol is RemoteProtocol.SFTP
    assert target.port == 22
    assert ftps().port == 21
    assert sftp(port=2222, path="in/box").url == "sftp://u@h.example:2222/in/box"
    assert target.tls_verify is True


def test_secrets_never_in_repr() -> None:
    target = sftp(password="hunter2-pw", private_key="-----BEGIN KEY-----\nsecretline\n")
    text = repr(target) + str(target)
    assert "hunter2-pw" not in text
    assert "secretline" not in text
    assert target.secrets == ("hunter2-pw", "-----BEGIN KEY-----\nsecretline\n")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: sftp(port=70000), "port"),
        (lambda: sftp(port=-1), "port"),
        (lambda: RemoteTarget(RemoteProtocol.SFTP, "", username="u", password="p"), "host"),
        (lambda: RemoteTarget(RemoteProtocol.SFTP, "a b", username="u", password="p"), "host"),
        (lambda: sftp(username=""), "username"),
        (lambda: sftp(username="u\r\nDELE x"), "username"),
        (lambda: sftp(path="/in\nbox"), "path"),
        (lambda: sftp(password=None), "password"),
        (lambda: sftp(tls_cert_fingerprint=TLS_FP), "tls_cert_fingerprint"),
        (lambda: sftp(host_key_fingerprint="MD5:aa:bb"), "host_key_fingerprint"),
        (lambda: ftps(password=None), "password"),
        (lambda: ftps(private_key="k"), "protocol"),
        (lambda: ftps(host_key_fingerprint=SSH_FP), "protocol"),
        (lambda: ftps(tls_cert_fingerprint="not hex"), "tls_cert_fingerprint"),
        (
            lambda: RemoteTarget(
                RemoteProtocol.FTP, "h", username="u", password="p", tls_cert_fingerprint=TLS_FP
            ),
            "tls_cert_fingerprint",
        ),
    ],
)
def test_invalid_targets_name_the_field(make: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field


@pytest.mark.parametrize(
    "spelling",
    [
        SSH_FP,
        "sha256:" + SSH_FP[7:],
        SSH_FP[7:],
        SSH_FP + "=",
    ],
)
def test_ssh_fingerprint_spellings(spelling: str) -> None:
    assert normalize_ssh_fingerprint(f"  {spelling} ") == SSH_FP
    assert sftp(host_key_fingerprint=spelling).host_key_fingerprint == SSH_FP


@pytest.mark.parametrize(
    "spelling",
    [
        TLS_FP,
        TLS_FP.lower(),
        TLS_FP.replace(":", ""),
        f"sha256 Fingerprint={TLS_FP}",
        "SHA256:" + base64.b64encode(DIGEST).decode(),
    ],
)
def test_tls_fingerprint_spellings(spelling: str) -> None:
    assert normalize_tls_fingerprint(spelling) == TLS_FP
    assert ftps(tls_cert_fingerprint=spelling).tls_cert_fingerprint == TLS_FP


@given(st.binary(min_size=32, max_size=32))
def test_fingerprints_round_trip(raw: bytes) -> None:
    ssh = "SHA256:" + base64.b64encode(raw).decode().rstrip("=")
    tls = ":".join(f"{b:02X}" for b in raw)
    assert normalize_ssh_fingerprint(ssh) == ssh
    assert normalize_tls_fingerprint(tls) == tls
    assert normalize_tls_fingerprint(ssh) == tls


def test_redact_hides_passwords_and_every_key_line() -> None:
    private, _public = generate_key_pair()
    key_lines = [line for line in private.splitlines() if "-----" not in line]
    text = f"server said: pw=hunter2-pw; {key_lines[1]} and {private}"
    cleaned = redact(text, ("hunter2-pw", private))
    assert "hunter2-pw" not in cleaned
    for line in key_lines:
        assert line not in cleaned
    assert cleaned == "server said: pw=***; *** and ***"
    assert redact("nothing here", ()) == "nothing here"


def test_check_path_and_join() -> None:
    assert check_path("/in/a b.csv") == "/in/a b.csv"
    for bad in ("", "a\r\nDELE b", "a\x00b"):
        with pytest.raises(RemoteError) as info:
            check_path(bad)
        assert info.value.stage == "transfer"
    assert join("/in", "a.csv") == "/in/a.csv"
    assert join("/in/", "a.csv") == "/in/a.csv"
    assert join("", "a.csv") == "a.csv"


def test_open_client_picks_the_protocol() -> None:
    assert isinstance(open_client(sftp()), SftpClient)
    assert isinstance(open_client(ftps()), FtpClient)
    plain = RemoteTarget(RemoteProtocol.FTP, "h", username="u", password="p")
    assert isinstance(open_client(plain, timeout=3), FtpClient)
