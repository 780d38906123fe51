"""One protocol for customers' servers (SFTP, FTPS, FTP), and what is built on it.

A :class:`RemoteClient` is an async context manager: entering it connects and
logs in, leaving it closes everything. Every failure, from DNS to a refused
rename, is raised as :class:`~ftpush.errors.RemoteError` with a ``stage``
(``dns``, ``tcp``, ``auth``, ``host_key``, ``permission``, ``transfer``) and a
message an operator can act on, never containing a password or a key.

Implementations: :mod:`.sftp` (asyncssh), :mod:`.ftp` (ftplib, FTPS and FTP) and
:mod:`.fake` (a folder, for tests). :func:`open_client` picks the real one for a
:class:`RemoteTarget`; code that talks to servers takes a :class:`ClientFactory`
so tests can pass ``FakeServer(...).connect`` instead.

Example::

    target = RemoteTarget(RemoteProtocol.SFTP, "sftp.example.com", username="acme",
                          private_key=key_text, host_key_fingerprint="SHA256:...")
    async with open_client(target) as client:
        receipt = await deliver(client, Path("out.xlsx"), "/reports", "acme_EVENTS_20250101.xlsx")
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import posixpath
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

from ftpush.errors import InvalidInput, RemoteError
from ftpush.models import RemoteProtocol

DEFAULT_TIMEOUT = 30.0
DEFAULT_PORTS = {RemoteProtocol.SFTP: 22, RemoteProtocol.FTPS: 21, RemoteProtocol.FTP: 21}
_FORBIDDEN = re.compile(r"[\r\n\x00]")  # would smuggle commands into an FTP control line


@dataclass(frozen=True)
class RemoteEntry:
    """One directory entry: ``mtime`` is seconds since the epoch (UTC)."""

    name: str
    size: int
    mtime: float
    is_dir: bool


EntryList = list[RemoteEntry]  # ``list`` is also a method name inside RemoteClient


@dataclass(frozen=True)
class RemoteTarget:
    """Where and how to log in to a customer's server; validated when built.

    ``port`` 0 means the protocol's default. SFTP logs in with ``password`` and/or
    ``private_key`` (OpenSSH or PEM text) and refuses a server whose host key is
    not ``host_key_fingerprint`` (``SHA256:...``). FTPS checks the certificate
    against the system CAs and the host name unless ``tls_verify`` is off, or pins
    it exactly with ``tls_cert_fingerprint`` (SHA-256, hex or ``SHA256:...``),
    which suits self-signed certificates. Secrets never appear in ``repr``.

    >>> t = RemoteTarget(RemoteProtocol.FTPS, "ftp.example.com", username="u", password="pw")
    >>> t.port, t.url, "pw" in repr(t)
    (21, 'ftps://u@ftp.example.com:21/', False)
    """

    protocol: RemoteProtocol
    host: str
    port: int = 0
    username: str = ""
    password: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    host_key_fingerprint: str | None = None
    tls_verify: bool = True
    tls_cert_fingerprint: str | None = None
    path: str = "/"

    def __post_init__(self) -> None:
        protocol = RemoteProtocol(self.protocol)
        object.__setattr__(self, "protocol", protocol)
        if not self.host or any(c.isspace() for c in self.host) or "/" in self.host:
            raise InvalidInput(f"invalid host name {self.host!r}", field="host")
        port = self.port or DEFAULT_PORTS[protocol]
        if not 0 < port < 65536:
            raise InvalidInput(f"invalid port {self.port}: use 1-65535", field="port")
        object.__setattr__(self, "port", port)
        for name in ("username", "password", "path"):
            if _FORBIDDEN.search(getattr(self, name) or ""):
                raise InvalidInput(f"{name} contains a line break or NUL", field=name)
        if not self.username:
            raise InvalidInput("a remote server needs a username", field="username")
        if protocol is RemoteProtocol.SFTP:
            self._check_sftp()
        else:
            self._check_ftp()

    def _check_sftp(self) -> None:
        if not self.password and not self.private_key:
            raise InvalidInput("SFTP needs a password or a private key", field="password")
        if self.tls_cert_fingerprint:
            raise InvalidInput("a TLS pin is for FTPS only", field="tls_cert_fingerprint")
        if self.host_key_fingerprint:
            pin = normalize_ssh_fingerprint(self.host_key_fingerprint)
            object.__setattr__(self, "host_key_fingerprint", pin)

    def _check_ftp(self) -> None:
        if self.private_key or self.host_key_fingerprint:
            raise InvalidInput("keys and host-key pins are for SFTP only", field="protocol")
        if self.password is None:
            raise InvalidInput("FTP and FTPS need a password", field="password")
        if self.tls_cert_fingerprint:
            if self.protocol is RemoteProtocol.FTP:
                raise InvalidInput("plain FTP has no certificate", field="tls_cert_fingerprint")
            pin = normalize_tls_fingerprint(self.tls_cert_fingerprint)
            object.__setattr__(self, "tls_cert_fingerprint", pin)

    @property
    def url(self) -> str:
        """``protocol://user@host:port/path`` — safe to log and show."""
        path = self.path if self.path.startswith("/") else f"/{self.path}"
        return f"{self.protocol.value}://{self.username}@{self.host}:{self.port}{path}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for :func:`redact`."""
        return tuple(s for s in (self.password, self.private_key) if s)


def _sha256_bytes(text: str) -> bytes | None:
    """The 32 bytes of a SHA-256 fingerprint written in hex or base64, else ``None``."""
    value = text.strip()
    if "=" in value.rstrip("="):  # "sha256 Fingerprint=AB:CD:..." as openssl prints it
        value = value.split("=", 1)[1]
    if value[:7].upper() == "SHA256:":
        value = value[7:]
    hexdigits = value.replace(":", "")
    if re.fullmatch(r"[0-9A-Fa-f]{64}", hexdigits):
        return bytes.fromhex(hexdigits)
    value = value.rstrip("=")
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def normalize_ssh_fingerprint(text: str) -> str:
    """Canonical ``SHA256:<base64, no padding>`` form of an SSH key fingerprint.

    >>> normalize_ssh_fingerprint(" sha256:" + "A" * 43 + "= ")
    'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    """
    raw = _sha256_bytes(text)
    if raw is None:
        raise InvalidInput(
            "a host key fingerprint looks like SHA256:<43 base64 characters> "
            "(as `ssh-keygen -lf` prints it)",
            field="host_key_fingerprint",
        )
    return "SHA256:" + base64.b64encode(raw).decode().rstrip("=")


def normalize_tls_fingerprint(text: str) -> str:
    """Canonical ``AB:CD:...`` (SHA-256, upper-case hex) form of a certificate pin.

    Accepts what ``openssl x509 -fingerprint -sha256`` prints, bare hex, or
    ``SHA256:<base64>``.

    >>> normalize_tls_fingerprint("ab" * 32)[:8]
    'AB:AB:AB'
    """
    raw = _sha256_bytes(text)
    if raw is None:
        raise InvalidInput(
            "a certificate pin is its SHA-256 fingerprint: 64 hex digits, colons allowed",
            field="tls_cert_fingerprint",
        )
    return ":".join(f"{b:02X}" for b in raw)


def redact(text: str, secrets_: tuple[str, ...]) -> str:
    """Replace every secret (and every long line of a key) in ``text`` with ``***``.

    >>> redact("login pw=hunter22 refused", ("hunter22",))
    'login pw=*** refused'
    """
    parts: set[str] = set()
    for secret in secrets_:
        parts.add(secret)
        parts.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 8)
    for part in sorted(parts, key=len, reverse=True):
        if part:
            text = text.replace(part, "***")
    return text


def check_path(path: str) -> str:
    """Return ``path`` unless it would break a protocol line (CR, LF, NUL)."""
    if not path or _FORBIDDEN.search(path):
        raise RemoteError(f"invalid remote path {path!r}", stage="transfer")
    return path


def join(directory: str, name: str) -> str:
    """POSIX join of a remote directory and a name (``""`` means the login directory)."""
    return posixpath.join(directory, name) if directory else name


class RemoteClient(Protocol):
    """A logged-in session on a customer's server. Paths are POSIX strings.

    Relative paths start at the login directory. Transfers stream (no file is held
    in memory) and ``timeout`` bounds connecting and any stall of an operation.
    """

    async def __aenter__(self) -> Self:
        """Connect, check the server's identity, log in."""
        ...

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the session and every socket."""
        ...

    async def list(self, path: str) -> EntryList:
        """Entries of directory ``path`` (without ``.`` and ``..``), sorted by name."""
        ...

    async def stat(self, path: str) -> RemoteEntry | None:
        """The entry at ``path``, or ``None`` if nothing is there."""
        ...

    async def size(self, path: str) -> int:
        """Size in bytes of the file at ``path``."""
        ...

    async def download(self, remote_path: str, local_path: Path) -> int:
        """Copy a remote file to ``local_path`` (replaced); return the bytes written."""
        ...

    async def upload(self, local_path: Path, remote_path: str) -> int:
        """Copy a local file to ``remote_path`` (replaced); return the bytes sent."""
        ...

    async def rename(self, old: str, new: str) -> None:
        """Rename ``old`` to ``new``, replacing ``new`` if it exists."""
        ...

    async def delete(self, path: str, *, missing_ok: bool = False) -> None:
        """Delete the file at ``path``."""
        ...

    async def mkdir(self, path: str, *, exist_ok: bool = True) -> None:
        """Create directory ``path`` (its parent must exist)."""
        ...


class ClientFactory(Protocol):
    """Makes an unopened client for a target: :func:`open_client` or a fake's ``connect``."""

    def __call__(self, target: RemoteTarget, *, timeout: float = DEFAULT_TIMEOUT) -> RemoteClient:
        """Return a client; entering it connects."""
        ...


def open_client(target: RemoteTarget, *, timeout: float = DEFAULT_TIMEOUT) -> RemoteClient:
    """The real client for ``target.protocol`` (not connected until entered).

    >>> client = open_client(RemoteTarget("ftp", "ftp.example.com", username="u", password="p"))
    >>> type(client).__name__
    'FtpClient'
    """
    if target.protocol is RemoteProtocol.SFTP:
        # Imported here, not at the top: the clients import this module.
        from ftpush.remote.sftp import SftpClient  # noqa: PLC0415

        return SftpClient(target, timeout=timeout)
    from ftpush.remote.ftp import FtpClient  # noqa: PLC0415

    return FtpClient(target, timeout=timeout)


@dataclass(frozen=True)
class DeliveryReceipt:
    """What :func:`deliver` put where: final path, bytes and SHA-256 of the content."""

    remote_path: str
    size: int
    sha256: str


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


async def deliver(
    client: RemoteClient, local_path: Path, remote_dir: str, final_name: str
) -> DeliveryReceipt:
    """Upload ``local_path`` as ``remote_dir/final_name`` so that it appears whole or not at all.

    The file goes up as ``.<final_name>.part`` (a dot-file most pollers ignore), its
    size is checked, then it is renamed to the final name and the size is checked
    again (SPEC §5). On failure the temporary file is removed when possible; the
    final name never holds a partial upload.

    Example::

        receipt = await deliver(client, Path("/tmp/r.csv"), "/in", "acme_EVENTS_20250101.csv")
        receipt.remote_path, receipt.size   # ('/in/acme_EVENTS_20250101.csv', 1234)
    """
    if not final_name or "/" in final_name or final_name in {".", ".."}:
        raise RemoteError(f"invalid remote file name {final_name!r}", stage="transfer")
    try:
        size, digest = await asyncio.to_thread(_size_and_sha256, local_path)
    except OSError as exc:
        raise RemoteError(f"cannot read {local_path}: {exc.strerror}", stage="transfer") from exc
    final = join(remote_dir, final_name)
    temp = join(remote_dir, f".{final_name}.part")
    try:
        await client.upload(local_path, temp)
        _check_size(await client.size(temp), size, temp)
        await client.rename(temp, final)
    except Exception:
        with contextlib.suppress(RemoteError):  # the original error is the one to report
            await client.delete(temp, missing_ok=True)
        raise
    _check_size(await client.size(final), size, final)
    return DeliveryReceipt(final, size, digest)


def _check_size(remote: int, local: int, path: str) -> None:
    if remote != local:
        raise RemoteError(
            f"size check failed for {path}: the server has {remote} bytes, we sent {local}",
            stage="transfer",
        )


@dataclass(frozen=True)
class ProbeResult:
    """A successful connection test: the folder's entry count and the probe file used."""

    path: str
    entries: int
    probe_name: str


async def probe(client: RemoteClient, path: str) -> ProbeResult:
    """Test that ``path`` can be listed and written: deliver a small file, then delete it.

    This is the export destination's *Test connection*: it exercises exactly the
    operations a delivery needs (list, upload, size, rename, delete), so a failure
    names the stage an operator must fix.

    Example::

        async with open_client(target) as client:
            await probe(client, target.path)
    """
    entries = await client.list(path)
    name = f".ftpush-probe-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="ftpush-probe-") as tmp:
        local = Path(tmp) / name
        local.write_bytes(b"ftpush connection test\n")
        receipt = await deliver(client, local, path, name)
    await client.delete(receipt.remote_path)
    return ProbeResult(path, len(entries), name)
