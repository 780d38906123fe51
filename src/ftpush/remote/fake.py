"""A customer's server that is a local folder: the fake for tests of exports and the poller.

:class:`FakeServer` plays a server at ``host:port`` (port 0: any) whose files live under
``root`` (remote ``/`` is ``root``; the login directory is ``/``). It checks what
a real server checks — host name, port, username, password or key, the pinned
SSH host key or TLS certificate — and answers with the same
:class:`~ftpush.errors.RemoteError` stages, so code under test sees the failures
it will meet in production. It passes the same contract suite as the real
clients (``tests/contract/test_remote_clients.py``).

Knobs for fault tests:

* ``down = True``: connections are refused (``tcp``).
* ``fail(op, stage, times=1)``: the next ``times`` calls of ``op`` (``connect``,
  ``list``, ``stat``, ``download``, ``upload``, ``rename``, ``delete``, ``mkdir``) fail.
* ``read_only(path)``: writes inside ``path`` fail with ``permission``.
* ``space_left = n``: uploads past ``n`` bytes fail like a full disk (``transfer``).
* ``truncate_uploads(by=1)``: the next upload silently loses ``by`` bytes.

Tests may also touch ``root`` directly (create files, set mtimes with ``os.utime``).
``calls`` records ``(op, path)`` of every operation; ``sessions`` counts open ones.

Example::

    server = FakeServer(tmp_path / "remote")
    exporter = Exporter(client_factory=server.connect)      # instead of open_client
    server.fail("rename", "permission")
    ...
    assert (server.root / "reports" / "acme_EVENTS_20250101.csv").exists()
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import posixpath
import shutil
from collections import Counter
from pathlib import Path
from typing import Self

from ftpush.errors import InvalidInput, RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote.base import (
    DEFAULT_TIMEOUT,
    EntryList,
    RemoteClient,
    RemoteEntry,
    RemoteTarget,
    check_path,
    redact,
)
from ftpush.remote.keys import public_key_of

# What the fake "offers": fixed values, so targets can pin them.
FAKE_HOST_KEY = "SHA256:" + base64.b64encode(hashlib.sha256(b"fake key").digest()).decode().rstrip(
    "="
)
FAKE_CERT = ":".join(f"{b:02X}" for b in hashlib.sha256(b"fake certificate").digest())


class FakeServer:
    """A folder that answers like a customer's SFTP/FTPS/FTP server; see the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "files.example.test",
        port: int = 0,
        username: str = "customer",
        password: str | None = "customer-password",  # noqa: S107 - a fake server's
        authorized_keys: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.authorized_keys = {" ".join(k.split()[:2]) for k in authorized_keys}
        self.host_key_fingerprint = FAKE_HOST_KEY
        self.tls_cert_fingerprint = FAKE_CERT
        self.down = False
        self.space_left: int | None = None
        self.calls: list[tuple[str, str]] = []
        self.sessions = 0
        self._faults: Counter[tuple[str, str]] = Counter()
        self._read_only: set[str] = set()
        self._truncate: list[int] = []

    def target(
        self, protocol: RemoteProtocol | str = RemoteProtocol.SFTP, path: str = "/"
    ) -> RemoteTarget:
        """A target that logs in to this server with its password (and pins)."""
        protocol = RemoteProtocol(protocol)
        return RemoteTarget(
            protocol=protocol,
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            host_key_fingerprint=(
                self.host_key_fingerprint if protocol is RemoteProtocol.SFTP else None
            ),
            tls_cert_fingerprint=(
                self.tls_cert_fingerprint if protocol is RemoteProtocol.FTPS else None
            ),
            path=path,
        )

    def connect(self, target: RemoteTarget, *, timeout: float = DEFAULT_TIMEOUT) -> RemoteClient:
        """A :class:`~ftpush.remote.base.ClientFactory`: use it in place of ``open_client``."""
        return FakeClient(self, target)

    def fail(self, op: str, stage: str = "transfer", *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``op`` fail at ``stage``."""
        self._faults[(op, stage)] += times

    def read_only(self, path: str) -> None:
        """Refuse writes inside remote directory ``path`` (and below)."""
        self._read_only.add(_norm(path))

    def truncate_uploads(self, by: int = 1, *, times: int = 1) -> None:
        """The next ``times`` uploads store ``by`` bytes fewer than sent."""
        self._truncate.extend([by] * times)

    def local(self, path: str) -> Path:
        """The local file behind remote ``path``."""
        return self.root / _norm(path).lstrip("/")

    def _fault(self, op: str, path: str) -> None:
        self.calls.append((op, path))
        for (name, stage), count in list(self._faults.items()):
            if name == op and count > 0:
                self._faults[(name, stage)] -= 1
                raise RemoteError(f"{op} {path}: injected {stage} failure", stage=stage)

    def _check_writable(self, path: str) -> None:
        parent = posixpath.dirname(_norm(path))
        for ro in self._read_only:
            if parent == ro or parent.startswith(ro.rstrip("/") + "/"):
                raise RemoteError(f"{path}: permission denied", stage="permission")


def _norm(path: str) -> str:
    # Joined to "/" first, so ".." can never climb above the fake's root.
    return posixpath.normpath(posixpath.join("/", check_path(path)))


def _entry(name: str, path: Path) -> RemoteEntry:
    st = path.stat()
    return RemoteEntry(name, 0 if path.is_dir() else st.st_size, st.st_mtime, path.is_dir())


class FakeClient:
    """One session on a :class:`FakeServer`."""

    def __init__(self, server: FakeServer, target: RemoteTarget) -> None:
        self.server = server
        self.target = target
        self._open = False

    def _error(self, stage: str, message: str) -> RemoteError:
        return RemoteError(redact(message, self.target.secrets), stage=stage)

    async def __aenter__(self) -> Self:
        s, t = self.server, self.target
        where = f"{t.host}:{t.port}"
        if t.host != s.host:
            raise self._error("dns", f"cannot resolve host name {t.host!r}")
        if s.down or (s.port and t.port != s.port):
            raise self._error("tcp", f"connection refused by {where} (is the port right?)")
        if t.protocol is RemoteProtocol.SFTP and t.host_key_fingerprint is None:
            raise self._error(
                "host_key",
                f"host key of {where} is not pinned: the server offered "
                f"{s.host_key_fingerprint}; check it with the server's administrator, then pin it",
            )
        if t.protocol is RemoteProtocol.SFTP and t.host_key_fingerprint != s.host_key_fingerprint:
            raise self._error(
                "host_key",
                f"host key mismatch for {where}: server offered {s.host_key_fingerprint}, "
                f"expected {t.host_key_fingerprint}",
            )
        pin = t.tls_cert_fingerprint
        if t.protocol is RemoteProtocol.FTPS and pin and pin != s.tls_cert_fingerprint:
            raise self._error(
                "host_key",
                f"TLS certificate mismatch for {where}: server offered "
                f"{s.tls_cert_fingerprint}, expected {pin}",
            )
        key_ok = False
        if t.private_key:
            try:
                offered = " ".join(public_key_of(t.private_key).split()[:2])
            except InvalidInput:
                raise self._error("auth", "the stored private key cannot be read") from None
            key_ok = offered in s.authorized_keys
        password_ok = s.password is not None and t.password == s.password
        if t.username != s.username or not (key_ok or password_ok):
            raise self._error("auth", f"{where} refused the login of {t.username!r}")
        s._fault("connect", "/")
        s.sessions += 1
        self._open = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._open:
            self._open = False
            self.server.sessions -= 1

    def _path(self, op: str, path: str) -> Path:
        if not self._open:
            raise self._error("transfer", f"{op} {path}: the session is not open")
        self.server._fault(op, path)
        return self.server.local(path)

    async def list(self, path: str) -> EntryList:
        local = self._path("list", path)
        if not local.is_dir():
            raise self._error("transfer", f"list {path}: no such directory")
        return sorted((_entry(p.name, p) for p in local.iterdir()), key=lambda e: e.name)

    async def stat(self, path: str) -> RemoteEntry | None:
        local = self._path("stat", path)
        if not local.exists():
            return None
        return _entry(posixpath.basename(_norm(path)) or "/", local)

    async def size(self, path: str) -> int:
        entry = await self.stat(path)
        if entry is None or entry.is_dir:
            raise self._error("transfer", f"size {path}: no such file")
        return entry.size

    async def download(self, remote_path: str, local_path: Path) -> int:
        local = self._path("download", remote_path)
        if not local.is_file():
            raise self._error("transfer", f"download {remote_path}: no such file")
        await asyncio.to_thread(shutil.copyfile, local, local_path)
        return local_path.stat().st_size

    async def upload(self, local_path: Path, remote_path: str) -> int:
        target = self._path("upload", remote_path)
        self.server._check_writable(remote_path)
        if not target.parent.is_dir():
            raise self._error("transfer", f"upload {remote_path}: no such directory")
        try:
            size = local_path.stat().st_size
        except OSError as exc:
            raise self._error("transfer", f"cannot read {local_path}: {exc.strerror}") from exc
        space = self.server.space_left
        if space is not None and size > space:
            raise self._error("transfer", f"upload {remote_path}: no space left on the server")
        await asyncio.to_thread(shutil.copyfile, local_path, target)
        if self.server._truncate:
            with target.open("r+b") as fh:
                fh.truncate(max(size - self.server._truncate.pop(0), 0))
        if space is not None:
            self.server.space_left = space - size
        return size

    async def rename(self, old: str, new: str) -> None:
        source, target = self._path("rename", old), self.server.local(new)
        self.server._check_writable(old)
        self.server._check_writable(new)
        if not source.exists():
            raise self._error("transfer", f"rename {old}: no such file")
        source.replace(target)

    async def delete(self, path: str, *, missing_ok: bool = False) -> None:
        local = self._path("delete", path)
        self.server._check_writable(path)
        if local.is_dir():
            raise self._error("transfer", f"delete {path}: is a directory")
        if not local.exists():
            if missing_ok:
                return
            raise self._error("transfer", f"delete {path}: no such file")
        local.unlink()

    async def mkdir(self, path: str, *, exist_ok: bool = True) -> None:
        local = self._path("mkdir", path)
        self.server._check_writable(path)
        if local.exists():
            if local.is_dir() and exist_ok:
                return
            raise self._error("transfer", f"mkdir {path}: already exists")
        if not local.parent.is_dir():
            raise self._error("transfer", f"mkdir {path}: no such parent directory")
        local.mkdir()
