"""FTPS (explicit TLS) and plain FTP client for customers' servers, on ftplib.

ftplib blocks, so every call runs in a worker thread (``asyncio.to_thread``),
one at a time per session. Security decisions, each on purpose:

* **FTPS is explicit TLS, TLS 1.2 or newer, ``PROT P``**: the login and every
  data connection are encrypted; a server that refuses ``AUTH TLS`` is refused.
* **The server is checked before the password is sent.** By default the
  certificate must chain to a system CA and match the host name. A private
  server's self-signed certificate is pinned instead by its SHA-256
  (``tls_cert_fingerprint``) and compared right after the handshake. Turning
  ``tls_verify`` off accepts any certificate: encrypted, but not authenticated.
* Data connections reuse the control connection's TLS session, which servers
  such as vsftpd (``require_ssl_reuse``) demand to stop connection stealing.
* Passive mode connects to the control connection's address, never to the one
  the server names in its ``227`` reply (ftplib's default, kept).

Example::

    async with FtpClient(target, timeout=20) as client:
        entries = await client.list("/outbox")
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import hashlib
import hmac
import posixpath
import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self, TypeVar

from ftpush.errors import RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote import _ftplist
from ftpush.remote.base import EntryList, RemoteEntry, RemoteTarget, check_path, redact

T = TypeVar("T")
BLOCK = 256 * 1024
_CONNECTION_ERRORS = (OSError, EOFError, ftplib.error_reply, ftplib.error_proto)


class _FTPS(ftplib.FTP_TLS):
    def ntransfercmd(
        self, cmd: str, rest: int | str | None = None
    ) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)  # noqa: S321 - PROT P wraps it below
        assert isinstance(self.sock, ssl.SSLSocket)
        wrapped = self.context.wrap_socket(
            conn, server_hostname=self.host, session=self.sock.session
        )
        return wrapped, size


def _fingerprint(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def tls_context(target: RemoteTarget) -> ssl.SSLContext:
    """The client TLS context for ``target``: system CAs + host name, or none when pinned."""
    if target.tls_cert_fingerprint or not target.tls_verify:
        # The exact certificate is compared after the handshake (pin), or not at all.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Session:
    """The blocking half: one ftplib connection, used by one thread at a time."""

    def __init__(self, target: RemoteTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.tls = target.protocol is RemoteProtocol.FTPS
        self.lock = threading.Lock()
        self.ftp: ftplib.FTP | None = None
        self.features: set[str] = set()
        self.home = "/"
        self.broken: str | None = None

    def error(self, stage: str, message: str) -> RemoteError:
        return RemoteError(redact(message, self.target.secrets), stage=stage)

    # -- connecting -----------------------------------------------------------------

    def open(self, addresses: list[tuple[str, int]]) -> None:
        t = self.target
        where = f"{t.host}:{t.port}"
        # Plain FTP only when the customer's server offers nothing else (target.protocol).
        ftp: ftplib.FTP = _FTPS(context=tls_context(t)) if self.tls else ftplib.FTP()  # noqa: S321
        ftp.encoding = "utf-8"
        self.ftp = ftp
        last: OSError | None = None
        for address in addresses:
            try:
                ftp.sock = socket.create_connection(address, self.timeout)
                break
            except OSError as exc:
                last = exc
        else:
            if isinstance(last, TimeoutError):
                raise self.error("tcp", f"no answer from {where} within {self.timeout:g}s")
            if isinstance(last, ConnectionRefusedError):
                raise self.error("tcp", f"connection refused by {where} (is the port right?)")
            reason = last.strerror if last else "no address"
            raise self.error("tcp", f"cannot connect to {where}: {reason}")
        ftp.host, ftp.port, ftp.timeout = t.host, t.port, self.timeout
        ftp.af = ftp.sock.family
        ftp.file = ftp.sock.makefile("r", encoding=ftp.encoding)
        try:
            ftp.welcome = ftp.getresp()
        except (*_CONNECTION_ERRORS, ftplib.Error) as exc:
            raise self.error("tcp", f"{where} did not greet as an FTP server: {exc}") from exc
        if isinstance(ftp, _FTPS):
            self._secure(ftp, where)
        try:
            ftp.login(t.username, t.password or "")
        except ftplib.error_perm as exc:
            raise self.error("auth", f"{where} refused the login of {t.username!r}: {exc}") from exc
        except (*_CONNECTION_ERRORS, ftplib.Error) as exc:
            raise self.error("tcp", f"login to {where} failed: {exc}") from exc
        try:
            if isinstance(ftp, _FTPS):
                ftp.prot_p()
            ftp.voidcmd("TYPE I")
            self.home = ftp.pwd()
        except (*_CONNECTION_ERRORS, ftplib.Error) as exc:
            raise self.error("tcp", f"{where} refused to set up the session: {exc}") from exc
        with contextlib.suppress(ftplib.Error):
            lines = ftp.sendcmd("FEAT").splitlines()[1:-1]
            self.features = {line.strip().split(" ")[0].upper() for line in lines}

    def _secure(self, ftp: _FTPS, where: str) -> None:
        t = self.target
        try:
            ftp.auth()
        except ssl.SSLCertVerificationError as exc:
            offered = self._offered_fingerprint()
            hint = f" (it offered {offered})" if offered else ""
            raise self.error(
                "host_key",
                f"TLS certificate of {where} is not trusted: {exc.verify_message}{hint}; "
                "pin its SHA-256 fingerprint if this is a private server",
            ) from exc
        except ssl.SSLError as exc:
            raise self.error("tcp", f"TLS handshake with {where} failed: {exc.reason}") from exc
        except ftplib.Error as exc:
            raise self.error("tcp", f"{where} refused to start TLS (AUTH TLS): {exc}") from exc
        assert isinstance(ftp.sock, ssl.SSLSocket)
        if t.tls_cert_fingerprint:
            offered = _fingerprint(ftp.sock.getpeercert(binary_form=True) or b"")
            if not hmac.compare_digest(offered, t.tls_cert_fingerprint):
                raise self.error(
                    "host_key",
                    f"TLS certificate mismatch for {where}: server offered {offered}, "
                    f"expected {t.tls_cert_fingerprint}",
                )

    def _offered_fingerprint(self) -> str | None:
        """Best effort: the fingerprint of the certificate that failed verification."""
        t = self.target
        insecure = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # only to read the certificate, never to log in
        ftp = ftplib.FTP_TLS(context=insecure, timeout=self.timeout)  # noqa: S321
        try:
            ftp.connect(t.host, t.port)
            ftp.auth()
            assert isinstance(ftp.sock, ssl.SSLSocket)
            return _fingerprint(ftp.sock.getpeercert(binary_form=True) or b"")
        except (*_CONNECTION_ERRORS, ftplib.Error, AssertionError):
            return None
        finally:
            ftp.close()

    def close(self) -> None:
        ftp, self.ftp = self.ftp, None
        if ftp is None:
            return
        try:
            if ftp.sock is not None and not self.broken:
                ftp.quit()
        except (*_CONNECTION_ERRORS, ftplib.Error):
            pass  # closing anyway
        finally:
            ftp.close()

    # -- operations -----------------------------------------------------------------

    def run(self, what: str, path: str, call: Callable[[ftplib.FTP], T], write: bool) -> T:
        """Run ``call`` on the connection, translating every failure."""
        with self.lock:
            if self.ftp is None or self.broken:
                why = self.broken or "the session is not open"
                raise self.error("transfer", f"{what} {path}: {why}")
            try:
                return call(self.ftp)
            except RemoteError:
                raise
            except ftplib.error_perm as exc:
                code = str(exc)[:3]
                if code == "530":
                    raise self.error("auth", f"{what} {path}: {exc}") from exc
                if write and code in {"550", "553", "532"}:
                    raise self.error("permission", f"{what} {path}: {exc}") from exc
                raise self.error("transfer", f"{what} {path}: {exc}") from exc
            except ftplib.error_temp as exc:
                raise self.error("transfer", f"{what} {path}: {exc}") from exc
            except TimeoutError as exc:
                self.broken = f"no progress for {self.timeout:g}s during an earlier {what}"
                raise self.error("transfer", f"{what} {path}: {self.broken}") from exc
            except _CONNECTION_ERRORS as exc:
                self.broken = f"connection lost during an earlier {what}"
                raise self.error("transfer", f"{what} {path}: connection lost ({exc})") from exc

    def list(self, ftp: ftplib.FTP, path: str) -> EntryList:
        if "MLST" in self.features:
            entries = [_ftplist.entry_from_facts(facts, name) for name, facts in ftp.mlsd(path)]
        else:
            lines: list[str] = []
            ftp.cwd(path)  # LIST of a missing folder is an empty 226 on many servers
            try:
                ftp.retrlines("LIST", lines.append)
            finally:
                ftp.cwd(self.home)
            entries = [_ftplist.parse_list_line(line) for line in lines]
        found = [e for e in entries if e is not None and e.name not in {".", ".."}]
        return sorted(found, key=lambda e: e.name)

    def stat(self, ftp: ftplib.FTP, path: str) -> RemoteEntry | None:
        name = path.rstrip("/").rsplit("/", 1)[-1] or "/"
        if "MLST" in self.features:
            try:
                reply = ftp.sendcmd(f"MLST {path}")
            except ftplib.error_perm:
                return None
            facts, _ = _ftplist.parse_facts(reply.splitlines()[1])
            return _ftplist.entry_from_facts(facts, name)
        try:
            size = ftp.size(path)
        except ftplib.error_perm:
            size = None
        if size is not None:
            mtime = 0.0
            if "MDTM" in self.features:
                with contextlib.suppress(ftplib.error_perm, ValueError, IndexError):
                    mtime = _ftplist.parse_mdtm(ftp.sendcmd(f"MDTM {path}"))
            return RemoteEntry(name, size, mtime, is_dir=False)
        try:
            ftp.cwd(path)
        except ftplib.error_perm:
            return None
        ftp.cwd(self.home)
        return RemoteEntry(name, 0, 0.0, is_dir=True)

    def download(self, ftp: ftplib.FTP, path: str, local: Path) -> int:
        try:
            with local.open("wb") as fh:
                ftp.retrbinary(f"RETR {path}", fh.write, BLOCK)
                return fh.tell()
        except BaseException:
            local.unlink(missing_ok=True)  # never leave half a file behind
            raise

    def upload(self, ftp: ftplib.FTP, local: Path, path: str) -> int:
        try:
            fh = local.open("rb")
        except OSError as exc:
            raise self.error("transfer", f"cannot read {local}: {exc.strerror}") from exc
        with fh:
            try:
                ftp.storbinary(f"STOR {path}", fh, BLOCK)
            except ftplib.error_perm:
                self._no_parent(ftp, "upload", path)
                raise
            return fh.tell()

    def _no_parent(self, ftp: ftplib.FTP, what: str, path: str) -> None:
        """Tell "no such folder" from "permission denied": both are a bare 550 in FTP."""
        parent = posixpath.dirname(path.rstrip("/"))
        if parent and self.stat(ftp, parent) is None:
            raise self.error("transfer", f"{what} {path}: no such directory {parent}") from None

    def rename(self, ftp: ftplib.FTP, old: str, new: str) -> None:
        try:
            ftp.rename(old, new)
        except ftplib.error_perm:
            if self.stat(ftp, old) is None:
                raise self.error("transfer", f"rename {old}: no such file") from None
            self._no_parent(ftp, "rename", new)
            if self.stat(ftp, new) is None:
                raise
            # Some servers refuse to rename over an existing file: remove it, try once more.
            ftp.delete(new)
            ftp.rename(old, new)

    def delete(self, ftp: ftplib.FTP, path: str, missing_ok: bool) -> None:
        try:
            ftp.delete(path)
        except ftplib.error_perm:
            if self.stat(ftp, path) is None:
                if missing_ok:
                    return
                raise self.error("transfer", f"delete {path}: no such file") from None
            raise

    def mkdir(self, ftp: ftplib.FTP, path: str, exist_ok: bool) -> None:
        try:
            ftp.mkd(path)
        except ftplib.error_perm:
            entry = self.stat(ftp, path)
            if entry is not None and entry.is_dir and exist_ok:
                return
            if entry is not None:
                raise self.error("transfer", f"mkdir {path}: already exists") from None
            self._no_parent(ftp, "mkdir", path)
            raise


class FtpClient:
    """A :class:`~ftpush.remote.base.RemoteClient` over FTPS or FTP; see the module docstring."""

    def __init__(self, target: RemoteTarget, *, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._session = _Session(target, timeout)

    async def __aenter__(self) -> Self:
        t = self.target
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(t.host, t.port, type=socket.SOCK_STREAM), self.timeout
            )
        except socket.gaierror as exc:
            raise self._session.error(
                "dns", f"cannot resolve host name {t.host!r}: {exc.strerror}"
            ) from exc
        except TimeoutError as exc:
            raise self._session.error(
                "dns", f"no DNS answer for {t.host!r} within {self.timeout:g}s"
            ) from exc
        addresses = [(str(info[4][0]), int(info[4][1])) for info in infos]
        try:
            await asyncio.to_thread(self._session.open, addresses)
        except BaseException:
            await asyncio.to_thread(self._session.close)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self._session.close)

    async def _run(
        self, what: str, path: str, write: bool, method: Callable[..., T], *args: object
    ) -> T:
        check_path(path)
        call: Callable[[ftplib.FTP], T] = lambda ftp: method(ftp, *args)  # noqa: E731
        return await asyncio.to_thread(self._session.run, what, path, call, write)

    async def list(self, path: str) -> EntryList:
        return await self._run("list", path, False, self._session.list, path)

    async def stat(self, path: str) -> RemoteEntry | None:
        return await self._run("stat", path, False, self._session.stat, path)

    async def size(self, path: str) -> int:
        entry = await self.stat(path)
        if entry is None or entry.is_dir:
            raise self._session.error("transfer", f"size {path}: no such file")
        return entry.size

    async def download(self, remote_path: str, local_path: Path) -> int:
        s = self._session
        return await self._run("download", remote_path, False, s.download, remote_path, local_path)

    async def upload(self, local_path: Path, remote_path: str) -> int:
        s = self._session
        return await self._run("upload", remote_path, True, s.upload, local_path, remote_path)

    async def rename(self, old: str, new: str) -> None:
        await self._run("rename", old, True, self._session.rename, old, check_path(new))

    async def delete(self, path: str, *, missing_ok: bool = False) -> None:
        await self._run("delete", path, True, self._session.delete, path, missing_ok)

    async def mkdir(self, path: str, *, exist_ok: bool = True) -> None:
        await self._run("mkdir", path, True, self._session.mkdir, path, exist_ok)
