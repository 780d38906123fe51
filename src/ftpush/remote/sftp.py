"""SFTP client for customers' servers (asyncssh), with a pinned host key.

Security decisions, each on purpose:

* **The host key is pinned, never learnt.** No ``known_hosts`` file, no
  ``~/.ssh/config``, no agent and no default key files are read: the only key
  trusted is the one whose ``SHA256:`` fingerprint the operator stored. A server
  without a pin is refused and the error shows the fingerprint it offered, so the
  operator can compare it with the server's administrator before pinning it
  (*Test connection* in the panel does exactly this).
* Credentials are only the target's password and/or private key; messages are
  passed through :func:`~ftpush.remote.base.redact`.

Example::

    async with SftpClient(target, timeout=20) as client:
        await client.upload(Path("report.csv"), "/in/.report.csv.part")
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Self

import asyncssh

from ftpush.errors import RemoteError
from ftpush.remote.base import EntryList, RemoteEntry, RemoteTarget, check_path, redact

_Progress = Callable[[bytes, bytes, int, int], None]


# Host key algorithms in OpenSSH's own order of preference, so the key we meet first is
# the one the customer's `ssh` shows them. The last family keeps SHA-1 "ssh-rsa" for old
# servers: the pin still binds the key, and the signature is over a fresh exchange hash.
_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("ssh-ed25519",),
    ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"),
    ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
)
_PREFERRED = tuple(alg for family in _FAMILIES for alg in family)


class _PinnedHostKey(asyncssh.SSHClient):
    """Accepts exactly one host key and remembers the one the server offered."""

    def __init__(self, pin: str | None) -> None:
        self.pin = pin
        self.offered: str | None = None
        self.algorithm = ""
        self.matched = False

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.offered = key.get_fingerprint("sha256")
        self.algorithm = key.get_algorithm()
        self.matched = self.pin is not None and hmac.compare_digest(self.offered, self.pin)
        return self.matched


def _no_known_hosts(_host: str, _addr: str, _port: int) -> tuple[list[Any], ...]:
    # A callable (not an empty value, which asyncssh reads as "use ~/.ssh/known_hosts")
    # trusting nothing, so every key goes through _PinnedHostKey.
    return [], [], []


class SftpClient:
    """A :class:`~ftpush.remote.base.RemoteClient` over SFTP; see the module docstring."""

    def __init__(self, target: RemoteTarget, *, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._keys: list[asyncssh.SSHKey] | None = None

    # -- connection -------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self.target.private_key:
            try:
                self._keys = [asyncssh.import_private_key(self.target.private_key)]
            except (asyncssh.KeyImportError, ValueError):
                # from None: the parser's message may quote the key text.
                raise self._error("auth", "the stored private key cannot be read") from None
        offered: list[_PinnedHostKey] = []
        try:
            self._conn = await self._connect_pinned(offered)
            self._sftp = await asyncio.wait_for(self._conn.start_sftp_client(), self.timeout)
        except BaseException as exc:
            await self._close()
            if isinstance(exc, Exception):
                raise self._connect_error(exc, offered) from exc
            raise
        return self

    async def _connect_pinned(self, offered: list[_PinnedHostKey]) -> asyncssh.SSHClientConnection:
        """Connect, accepting only the pinned host key, whatever its type.

        A server has several host keys (Ed25519, ECDSA, RSA) and shows one per
        connection. When the one it shows first is not the pinned one, the other
        types are asked for, one connection each, so the operator may pin any of them.
        """
        checker = _PinnedHostKey(self.target.host_key_fingerprint)
        offered.append(checker)
        try:
            return await self._connect(checker, _PREFERRED)
        except asyncssh.HostKeyNotVerifiable as exc:
            if checker.pin is None:
                raise
            first_error = exc
        for family in _FAMILIES:
            if checker.algorithm in family:
                continue
            other = _PinnedHostKey(checker.pin)
            try:
                return await self._connect(other, family)
            except (asyncssh.Error, OSError, TimeoutError):
                if other.matched:
                    raise  # the right key, then another failure: that one counts
                if other.offered:
                    offered.append(other)
        raise first_error

    async def _connect(
        self, checker: _PinnedHostKey, algorithms: tuple[str, ...]
    ) -> asyncssh.SSHClientConnection:
        t = self.target
        auth = (["publickey"] if self._keys else []) + (
            ["keyboard-interactive", "password"] if t.password else []
        )
        return await asyncio.wait_for(
            asyncssh.connect(
                t.host, t.port, username=t.username, password=t.password,
                client_keys=self._keys, client_factory=lambda: checker,
                known_hosts=_no_known_hosts, server_host_key_algs=list(algorithms),
                config=[], agent_path=None, x509_trusted_certs=None, gss_host=None,
                host_based_auth=False, preferred_auth=",".join(auth),
                connect_timeout=self.timeout,
                keepalive_interval=max(self.timeout / 3, 1.0), keepalive_count_max=3,
            ),
            self.timeout,
        )  # fmt: skip

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close()

    async def _close(self) -> None:
        sftp, conn = self._sftp, self._conn
        self._sftp = self._conn = None
        if sftp is not None:
            sftp.exit()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sftp.wait_closed(), self.timeout)
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), self.timeout)

    def _error(self, stage: str, message: str) -> RemoteError:
        return RemoteError(redact(message, self.target.secrets), stage=stage)

    def _connect_error(self, exc: Exception, offered: list[_PinnedHostKey]) -> RemoteError:
        t = self.target
        where = f"{t.host}:{t.port}"
        stage, message = "tcp", f"cannot connect to {where}: {exc!r}"
        keys = ", ".join(f"{c.offered} ({c.algorithm})" for c in offered if c.offered)
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            stage = "host_key"
            if t.host_key_fingerprint is None:
                message = (
                    f"host key of {where} is not pinned: the server offered {keys}; "
                    "check it with the server's administrator, then pin it"
                )
            else:
                message = (
                    f"host key mismatch for {where}: server offered {keys}, "
                    f"expected {t.host_key_fingerprint}"
                )
        elif isinstance(exc, asyncssh.PermissionDenied):
            methods = " and ".join(
                m for m, on in (("key", t.private_key), ("password", t.password)) if on
            )
            stage, message = "auth", f"{where} refused the login of {t.username!r} by {methods}"
        elif isinstance(exc, socket.gaierror):
            stage, message = "dns", f"cannot resolve host name {t.host!r}: {exc.strerror}"
        elif isinstance(exc, TimeoutError):
            message = f"no answer from {where} within {self.timeout:g}s"
        elif isinstance(exc, ConnectionRefusedError):
            message = f"connection refused by {where} (is the port right?)"
        elif isinstance(exc, OSError):
            reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
            message = f"cannot connect to {where}: {reason}"
        elif isinstance(exc, asyncssh.Error):
            message = f"SSH session with {where} failed: {exc.reason}"
        return self._error(stage, message)

    # -- operations -------------------------------------------------------------

    @property
    def _client(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            raise RemoteError("the SFTP session is not open", stage="transfer")
        return self._sftp

    async def _op(self, what: str, path: str, call: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(call, self.timeout)
        except Exception as exc:
            raise self._op_error(what, path, exc) from exc

    def _op_error(self, what: str, path: str, exc: Exception) -> RemoteError:
        if isinstance(exc, RemoteError):
            return exc
        stage, reason = "transfer", repr(exc)
        if isinstance(exc, asyncssh.SFTPPermissionDenied | asyncssh.SFTPWriteProtect):
            stage, reason = "permission", "permission denied"
        elif isinstance(exc, asyncssh.SFTPNoSpaceOnFilesystem | asyncssh.SFTPQuotaExceeded):
            reason = f"{exc.reason} (no space left there)"
        elif isinstance(exc, asyncssh.SFTPFailure) and what == "upload":
            # OpenSSH's sftp-server says only "Failure" for a full disk or a quota.
            reason = f"{exc.reason} (the server gave no reason: a full disk or a quota?)"
        elif isinstance(exc, asyncssh.SFTPError):
            reason = exc.reason
        elif isinstance(exc, TimeoutError):
            reason = f"no progress for {self.timeout:g}s"
        elif isinstance(exc, asyncssh.Error):
            reason = f"connection lost ({exc.reason})"
        elif isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
        return self._error(stage, f"{what} {path}: {reason}")

    async def list(self, path: str) -> EntryList:
        names = await self._op("list", path, self._client.readdir(check_path(path)))
        entries = [_entry(str(n.filename), n.attrs) for n in names if n.filename not in {".", ".."}]
        return sorted(entries, key=lambda e: e.name)

    async def stat(self, path: str) -> RemoteEntry | None:
        try:
            attrs = await asyncio.wait_for(self._client.stat(check_path(path)), self.timeout)
        except asyncssh.SFTPNoSuchFile:
            return None
        except Exception as exc:
            raise self._op_error("stat", path, exc) from exc
        return _entry(path.rstrip("/").rsplit("/", 1)[-1] or "/", attrs)

    async def size(self, path: str) -> int:
        entry = await self.stat(path)
        if entry is None or entry.is_dir:
            raise self._error("transfer", f"size {path}: no such file")
        return entry.size

    async def _transfer(
        self, what: str, path: str, run: Callable[[_Progress], Awaitable[None]]
    ) -> None:
        """Run a transfer, cancelling it when no block moved for ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        last = loop.time()

        def progress(_src: bytes, _dst: bytes, _done: int, _total: int) -> None:
            nonlocal last
            last = loop.time()

        task = asyncio.ensure_future(run(progress))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=max(last + self.timeout - loop.time(), 0.01))
                if not task.done() and loop.time() - last >= self.timeout:
                    raise TimeoutError
            task.result()
        except Exception as exc:
            raise self._op_error(what, path, exc) from exc
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def download(self, remote_path: str, local_path: Path) -> int:
        client, remote = self._client, check_path(remote_path)
        try:
            await self._transfer(
                "download", remote, lambda p: client.get(remote, local_path, progress_handler=p)
            )
        except RemoteError:
            local_path.unlink(missing_ok=True)  # never leave half a file behind
            raise
        return local_path.stat().st_size

    async def upload(self, local_path: Path, remote_path: str) -> int:
        client, remote = self._client, check_path(remote_path)
        try:
            size = local_path.stat().st_size
        except OSError as exc:
            raise self._error("transfer", f"cannot read {local_path}: {exc.strerror}") from exc
        await self._transfer(
            "upload", remote, lambda p: client.put(local_path, remote, progress_handler=p)
        )
        return size

    async def rename(self, old: str, new: str) -> None:
        client = self._client
        check_path(old)
        try:
            # posix-rename@openssh.com replaces the target atomically; plain SFTP v3
            # RENAME fails when it exists.
            await asyncio.wait_for(client.posix_rename(old, check_path(new)), self.timeout)
            return
        except asyncssh.SFTPOpUnsupported:
            pass
        except Exception as exc:
            raise self._op_error("rename", old, exc) from exc
        if await self.stat(new) is not None:
            await self.delete(new)
        await self._op("rename", old, client.rename(old, new))

    async def delete(self, path: str, *, missing_ok: bool = False) -> None:
        try:
            await asyncio.wait_for(self._client.remove(check_path(path)), self.timeout)
        except asyncssh.SFTPNoSuchFile:
            if not missing_ok:
                raise self._error("transfer", f"delete {path}: no such file") from None
        except Exception as exc:
            raise self._op_error("delete", path, exc) from exc

    async def mkdir(self, path: str, *, exist_ok: bool = True) -> None:
        try:
            await asyncio.wait_for(self._client.mkdir(check_path(path)), self.timeout)
        except asyncssh.SFTPError as exc:
            # OpenSSH answers a plain FAILURE for "exists"; look before blaming.
            if not isinstance(exc, asyncssh.SFTPPermissionDenied):
                entry = await self.stat(path)
                if entry is not None and entry.is_dir and exist_ok:
                    return
                if entry is not None:
                    raise self._error("transfer", f"mkdir {path}: already exists") from exc
            raise self._op_error("mkdir", path, exc) from exc
        except Exception as exc:
            raise self._op_error("mkdir", path, exc) from exc


def _entry(name: str, attrs: asyncssh.SFTPAttrs) -> RemoteEntry:
    return RemoteEntry(
        name=name,
        size=attrs.size or 0,
        mtime=float(attrs.mtime or 0),
        is_dir=attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY,
    )
