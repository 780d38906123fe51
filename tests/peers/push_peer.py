"""The push peer (``push_peer.js``, Node 20) as a pytest fixture and a context manager.

The peer speaks APNs, FCM (with its OAuth token endpoint) and a webhook receiver
over HTTP/2 + TLS on 127.0.0.1, with behaviours chosen by the device token
(``dead…``, ``bad…``, ``topic…``, ``fail…``, ``throttle…``, ``boom…``,
``slow…``) and server-wide knobs (``maxConcurrentStreams``, ``goawayAfter``,
``latencyMs``, ``slowMs``, ``retryAfter``, ``tokenExpiresIn``,
``webhookSecret``, ``requireKnownKeys``). It counts what it delivered per
message key, which is how the tests and the kill tests prove "exactly once".

The certificate is made here (a throw-away CA and a leaf for 127.0.0.1 and
localhost), never committed. Load the fixture with
``pytest_plugins = ["tests.peers.push_peer"]`` or import ``push_peer``.

Example::

    with running_push_peer(maxConcurrentStreams=100) as peer:
        provider = make_provider("apns", peer.apns_settings(), verify=peer.ca_file)
        ...
        assert peer.stats()["duplicates"] == 0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import selectors
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SCRIPT = Path(__file__).with_name("push_peer.js")
APNS_KEY_ID = "PEERKEY001"
APNS_TEAM_ID = "PEERTEAM01"
FCM_PROJECT = "ftpush-peer"


def _pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip


def _public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def make_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1 and localhost."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ftpush push peer CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_text(_pem(key))
    paths[2].chmod(0o600)
    return paths


class PushPeer:
    """A running peer: ``url`` (TLS, HTTP/2), ``http_url`` (plain HTTP/1.1), ``ca_file``."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, http_port: int, ca: Path) -> None:
        self.proc = proc
        self.url = f"https://127.0.0.1:{port}"
        self.http_url = f"http://127.0.0.1:{http_port}"
        self.ca_file = str(ca)

    # -- control ---------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.http_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self, *, keys: bool = False) -> dict[str, Any]:
        """Counters; ``keys=True`` adds ``keys`` = deliveries per message key."""
        return dict(self._call("GET", "/__stats?keys=1" if keys else "/__stats"))

    def deliveries(self) -> dict[str, int]:
        return dict(self.stats(keys=True)["keys"])

    def reset(self) -> None:
        """Forget counters and behaviour memory; knobs back to their start values."""
        self._call("POST", "/__reset", {})

    def configure(self, **knobs: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/__config", knobs)["knobs"])

    # -- credentials the peer accepts (keys are registered, signatures checked) --------

    @cached_property
    def _apns_key(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    @cached_property
    def _fcm_key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def apns_settings(self, **overrides: Any) -> dict[str, Any]:
        """Stored-form APNs settings for this peer (its key registered with the peer)."""
        self.configure(apnsKeys={APNS_KEY_ID: _public_pem(self._apns_key)})
        settings = {
            "key_id": APNS_KEY_ID, "team_id": APNS_TEAM_ID, "private_key": _pem(self._apns_key),
            "topic": "com.example.ftpush", "endpoint": self.url,
        }  # fmt: skip
        return settings | overrides

    def service_account(self, client_email: str = "push@ftpush-peer.iam.example") -> str:
        """A service-account JSON whose token_uri is this peer."""
        self.configure(fcmKeys={client_email: _public_pem(self._fcm_key)})
        return json.dumps(
            {
                "type": "service_account", "project_id": FCM_PROJECT,
                "private_key_id": "peer-key-1", "private_key": _pem(self._fcm_key),
                "client_email": client_email, "client_id": "1",
                "token_uri": f"{self.url}/token",
            }
        )  # fmt: skip

    def fcm_settings(self, **overrides: Any) -> dict[str, Any]:
        return {"service_account_json": self.service_account(), "endpoint": self.url} | overrides

    def webhook_settings(self, *, tls: bool = True, **overrides: Any) -> dict[str, Any]:
        base = self.url if tls else self.http_url
        return {"url": f"{base}/webhook"} | overrides


def _read_ready_line(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, int]:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError(f"push peer not ready after {timeout}s")
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("push peer exited at start")
    return dict(json.loads(line))


@contextlib.contextmanager
def running_push_peer(folder: Path | None = None, **knobs: Any) -> Iterator[PushPeer]:
    """Start the peer (TLS files in ``folder`` or a temporary one), stop it on exit."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed: the push peer needs Node 20")
    with contextlib.ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="push-peer-")))
        ca, cert, key = make_tls_files(folder)
        log = stack.enter_context((folder / "peer.log").open("ab"))
        argv = [node, str(SCRIPT), "--cert", str(cert), "--key", str(key)]
        proc = subprocess.Popen(
            [*argv, "--knobs", json.dumps(knobs)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
        try:
            ready = _read_ready_line(proc, timeout=10)
            yield PushPeer(proc, ready["port"], ready["httpPort"], ca)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture(scope="session")
def push_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushPeer]:
    """One push peer for the session; call ``reset()`` before relying on its counters."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the push peer needs Node 20")
    with running_push_peer(tmp_path_factory.mktemp("push-peer")) as peer:
        yield peer
