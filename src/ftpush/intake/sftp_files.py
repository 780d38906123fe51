"""SFTP file requests of one logged-in session, delegated to the dropbox core.

:class:`DropboxSftpServer` is the ``asyncssh.SFTPServer`` of one SFTP channel. It
owns no rules: every request becomes a call on the session's
:class:`~ftpush.intake.spool.DropboxSession` (path resolution, confinement,
folder permissions, completion), and the core's errors become SFTP status
codes (:func:`sftp_error`). Blocking core calls run in a worker thread, so one
slow disk or database call never stalls the other sessions.

What SFTP adds on top of the core:

* a handle is opened either to upload or to download, never both, and never
  to append (an appended or resumed upload cannot be told from a whole one);
* an upload counts only when the client itself closed its handle
  (:attr:`UploadHandle.client_closed`, set by
  :class:`~ftpush.intake.sftp_session.CompletionTrackingHandler`); a write
  that was refused (size limit, disk full) makes the upload incomplete too;
* the answer to CLOSE is sent only after :meth:`DropboxSession.close_write`
  returned, so "OK" always means the file was kept.

Example (what asyncssh does with it; the session comes from the login)::

    server = DropboxSftpServer(chan, spool.session(principal))
    handle = await server.open(b"/push.csv", FXF_WRITE | FXF_CREAT | FXF_TRUNC, SFTPAttrs())
    await server.write(handle, 0, b"ExternalID;Text;Deeplink\\n")
    handle.client_closed = True          # the client sent CLOSE
    await server.close(handle)           # taken into the spool before "OK"
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Callable
from typing import NoReturn, TypeVar

import asyncssh
from asyncssh.constants import (
    FILEXFER_TYPE_DIRECTORY,
    FILEXFER_TYPE_REGULAR,
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_TRUNC,
    FXF_WRITE,
)

from ftpush.errors import (
    Conflict,
    FileTooLarge,
    FtpushError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ftpush.intake.dropbox import Op, VPath
from ftpush.intake.spool import DropboxSession

log = logging.getLogger("ftpush.intake.sftp")

T = TypeVar("T")


class UploadHandle:
    """An open upload: its resolved path, the file descriptor and how it ended.

    Writes are queued (``pending``) and written to disk in batches by one
    writer task per handle, in order, in a worker thread (see
    :meth:`DropboxSftpServer.write`).
    """

    __slots__ = (
        "client_closed",
        "fd",
        "flushed",
        "pending",
        "pending_bytes",
        "refused",
        "vpath",
        "writer",
    )

    def __init__(self, vpath: VPath, fd: int) -> None:
        self.vpath = vpath
        self.fd = fd
        # Set only by the handler when the *client* sent CLOSE for this handle.
        self.client_closed = False
        # Why a write was refused or failed; such an upload can never be complete.
        self.refused: str | None = None
        self.pending: list[tuple[bytes, int]] = []
        self.pending_bytes = 0
        self.flushed = 0  # writeback to disk has been started below this offset
        self.writer: asyncio.Task[None] | None = None

    async def drained(self) -> None:
        """Wait until every queued write reached the file (or failed)."""
        while self.writer is not None and not self.writer.done():
            await asyncio.shield(self.writer)


class DownloadHandle:
    """An open download (``results/``, ``failed/``, ``reports/``)."""

    __slots__ = ("fd", "virtual")

    def __init__(self, virtual: str, fd: int) -> None:
        self.virtual = virtual
        self.fd = fd


_Status = Callable[[str], asyncssh.SFTPError]

# Core errors and the SFTP status each becomes (first match wins: subclasses first).
_CORE_STATUS: tuple[tuple[type[FtpushError], _Status], ...] = (
    (NotFound, asyncssh.SFTPNoSuchFile),
    (PermissionDenied, asyncssh.SFTPPermissionDenied),  # AccessDenied included
    (Conflict, asyncssh.SFTPFileAlreadyExists),
    (FileTooLarge, asyncssh.SFTPQuotaExceeded),  # shown as a failure to SFTPv3 clients
)
# OS errors, with our own message: str(OSError) carries the real path, which the
# client must never learn (it reveals the data directory's layout).
_OS_STATUS: dict[int, tuple[_Status, str]] = {
    errno.ENOENT: (asyncssh.SFTPNoSuchFile, "no such file"),
    errno.EACCES: (asyncssh.SFTPPermissionDenied, "permission denied"),
    errno.EPERM: (asyncssh.SFTPPermissionDenied, "permission denied"),
    errno.ELOOP: (asyncssh.SFTPPermissionDenied, "symbolic links are not followed"),
    errno.ENOSPC: (asyncssh.SFTPNoSpaceOnFilesystem, "the server's disk is full"),
    errno.EDQUOT: (asyncssh.SFTPQuotaExceeded, "the server's disk quota is exhausted"),
}


def sftp_error(exc: BaseException) -> asyncssh.SFTPError:
    """The SFTP status for a core error; the message is safe to show the client.

    >>> sftp_error(NotFound("no such file: /x.csv")).code  # FX_NO_SUCH_FILE
    2
    """
    if isinstance(exc, FtpushError):
        for kind, status in _CORE_STATUS:
            if isinstance(exc, kind):
                return status(exc.message)
        if isinstance(exc, InvalidInput) and exc.field in {"name", "path"}:
            return asyncssh.SFTPInvalidFilename(exc.message)
        if isinstance(exc, InvalidInput):
            return asyncssh.SFTPInvalidParameter(exc.message)
        return asyncssh.SFTPFailure(exc.message)
    if isinstance(exc, OSError) and exc.errno in _OS_STATUS:
        status, message = _OS_STATUS[exc.errno]
        return status(message)
    return asyncssh.SFTPFailure("server error")


def _raise_sftp(exc: BaseException) -> NoReturn:
    if not isinstance(exc, FtpushError):
        log.error("sftp request failed: %r", exc)
    raise sftp_error(exc) from None


def _attrs(st: os.stat_result) -> asyncssh.SFTPAttrs:
    """Size, mode and times only: the server's uids and user names are none of the client's."""
    kind = FILEXFER_TYPE_DIRECTORY if stat.S_ISDIR(st.st_mode) else FILEXFER_TYPE_REGULAR
    return asyncssh.SFTPAttrs(
        type=kind,
        size=st.st_size,
        permissions=st.st_mode,
        atime=int(st.st_atime),
        mtime=int(st.st_mtime),
    )


def _path(path: bytes) -> str:
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        raise asyncssh.SFTPInvalidFilename("paths must be UTF-8") from None


def _pwrite_all(fd: int, batch: list[tuple[bytes, int]]) -> int:
    """Write every ``(data, offset)`` of ``batch``, in order; returns the highest end offset."""
    end = 0
    for data, offset in batch:
        view = memoryview(data)
        position = offset
        while view:
            written = os.pwrite(fd, view, position)
            view = view[written:]
            position += written
        end = max(end, position)
    return end


def _load_start_writeback() -> Callable[[int, int, int], object] | None:
    """Linux's ``sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE)``, if present."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return lambda fd, offset, length: function(fd, offset, length, 2)  # 2: start, don't wait


_start_writeback = _load_start_writeback()
# Every this many bytes, the kernel is asked to start writing the upload to disk
# (without waiting), so that the fsync at CLOSE has only the tail left: with
# plenty of RAM, Linux would otherwise keep a whole large upload dirty and the
# CLOSE reply would wait for all of it (~1.4 s per GiB on the development VM).
WRITEBACK_BYTES = 8 * 1024 * 1024


def _write_batch(handle: UploadHandle, batch: list[tuple[bytes, int]]) -> None:
    """The writer thread's work: the batch, then writeback of whole chunks behind it."""
    end = _pwrite_all(handle.fd, batch)
    # Whole chunks only: a page still being written must not be under writeback.
    limit = end - end % WRITEBACK_BYTES
    if _start_writeback is not None and limit > handle.flushed:
        _start_writeback(handle.fd, handle.flushed, limit - handle.flushed)
        handle.flushed = limit


# Bytes of one upload that may wait in memory for the disk; past this a WRITE
# is answered only once the queue has drained.
MAX_PENDING_WRITE_BYTES = 4 * 1024 * 1024
# Files one SFTP session may hold open at once: each is a file descriptor of the
# server's, shared by every session, and no client needs more for transfers.
MAX_OPEN_FILES = 64


class DropboxSftpServer(asyncssh.SFTPServer):
    """One SFTP channel of a logged-in account, confined to its app's dropbox."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], session: DropboxSession) -> None:
        super().__init__(chan)
        self.session = session
        self.ending_reason = "the session ended before the client closed the file"
        self.open_files = 0

    async def _core(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking core call in a thread; its errors become SFTP errors."""
        try:
            return await asyncio.to_thread(fn, *args)
        except (FtpushError, OSError) as exc:
            _raise_sftp(exc)

    # --- files ---------------------------------------------------------------------

    async def open(
        self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs
    ) -> UploadHandle | DownloadHandle:
        """Open for upload (write) or download (read); anything else is refused."""
        name = _path(path)
        writing = bool(pflags & FXF_WRITE)
        if pflags & FXF_APPEND:
            # An append (or a resumed upload) would look complete on CLOSE while the
            # start of the file came from another, unproven session.
            raise asyncssh.SFTPPermissionDenied("appending is not supported: upload the whole file")
        if writing and pflags & FXF_READ:
            raise asyncssh.SFTPPermissionDenied("open a file to upload or to download, not both")
        if self.open_files >= MAX_OPEN_FILES:
            raise asyncssh.SFTPFailure(f"at most {MAX_OPEN_FILES} files may be open at once")
        handle: UploadHandle | DownloadHandle
        if writing:
            vpath, fd = await self._core(self._open_upload, name, pflags)
            handle = UploadHandle(vpath, fd)
        else:
            handle = DownloadHandle(name, await self._core(self.session.open_read, name))
        self.open_files += 1
        return handle

    def _open_upload(self, name: str, pflags: int) -> tuple[VPath, int]:
        vpath = self.session.resolve(name, Op.WRITE)
        exists = os.path.lexists(vpath.real)
        if exists and pflags & FXF_EXCL:
            raise Conflict(f"{vpath.virtual} already exists")
        if not exists and not pflags & FXF_CREAT:
            raise NotFound(f"no such file: {vpath.virtual}")
        if exists and not pflags & FXF_TRUNC and os.lstat(vpath.real).st_size > 0:
            # Resuming would keep bytes whose upload nobody saw complete.
            raise PermissionDenied("resuming an upload is not supported: upload the whole file")
        return self.session.open_write(name)

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        """Queue a write at ``offset``; past the size limit the upload is refused for good.

        The reply does not wait for the disk: writes are batched and written in
        order by the handle's writer task, off the event loop. A write that then
        fails poisons the upload, so the client learns it at CLOSE at the latest
        and the file is never kept; only the answer to CLOSE promises anything.
        """
        if not isinstance(file_obj, UploadHandle):
            raise asyncssh.SFTPPermissionDenied("the file was opened for reading")
        if file_obj.refused is not None:
            raise asyncssh.SFTPFailure(file_obj.refused)
        try:
            self.session.check_extent(offset + len(data))
        except FileTooLarge as exc:
            # One lost write makes the whole upload worthless: never let a later
            # CLOSE pass a file with a hole (or a truncated tail) as complete.
            file_obj.refused = f"a write was refused: {exc.message}"
            _raise_sftp(exc)
        file_obj.pending.append((data, offset))
        file_obj.pending_bytes += len(data)
        if file_obj.writer is None or file_obj.writer.done():
            file_obj.writer = asyncio.get_running_loop().create_task(self._write_pending(file_obj))
        if file_obj.pending_bytes > MAX_PENDING_WRITE_BYTES:
            await file_obj.drained()  # back-pressure: the client waits for the disk
        if file_obj.refused is not None:
            raise asyncssh.SFTPFailure(file_obj.refused)
        return len(data)

    @staticmethod
    async def _write_pending(handle: UploadHandle) -> None:
        while handle.pending and handle.refused is None:
            batch, handle.pending = handle.pending, []
            try:
                await asyncio.to_thread(_write_batch, handle, batch)
            except OSError as exc:
                handle.refused = f"a write failed: {sftp_error(exc).reason}"
                log.error("write to %s failed: %r", handle.vpath.virtual, exc)
            finally:
                handle.pending_bytes -= sum(len(data) for data, _ in batch)
        handle.pending.clear()  # after a failure, the rest is worthless
        handle.pending_bytes = 0

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        if not isinstance(file_obj, DownloadHandle):
            raise asyncssh.SFTPPermissionDenied("the file was opened for writing")
        return await self._core(os.pread, file_obj.fd, size, offset)

    async def close(self, file_obj: object) -> None:
        """End a handle; an upload is complete only if the client closed it."""
        if not isinstance(file_obj, (UploadHandle, DownloadHandle)):  # pragma: no cover
            return
        self.open_files -= 1
        if isinstance(file_obj, DownloadHandle):
            os.close(file_obj.fd)
            return
        await file_obj.drained()
        complete = file_obj.client_closed and file_obj.refused is None
        reason = file_obj.refused or self.ending_reason
        try:
            await asyncio.to_thread(self._finish_upload, file_obj, complete, reason)
        except (FtpushError, OSError) as exc:
            if not file_obj.client_closed:
                # Called from asyncssh's cleanup loop, which would skip the other
                # open files if this raised; the core logged what went wrong.
                log.error("could not discard %s: %r", file_obj.vpath.virtual, exc)
                return
            _raise_sftp(exc)
        if file_obj.client_closed and not complete:
            raise asyncssh.SFTPFailure(f"the upload was not kept: {reason}")

    def _finish_upload(self, handle: UploadHandle, complete: bool, reason: str) -> None:
        try:
            if complete:
                # "OK" promises the file is kept: its bytes must reach the disk before
                # the spool's rename does, or a crash could leave a truncated file
                # that recovery would then take as whole.
                os.fsync(handle.fd)
        except OSError as exc:
            complete, reason = False, f"the file could not be written to disk ({exc.strerror})"
            handle.refused = reason
        finally:
            os.close(handle.fd)
        self.session.close_write(handle.vpath, complete=complete, reason=reason)

    async def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        if isinstance(file_obj, UploadHandle):
            await file_obj.drained()  # the size the client wrote, not what reached the disk
        if not isinstance(file_obj, (UploadHandle, DownloadHandle)):  # pragma: no cover
            raise asyncssh.SFTPInvalidHandle("invalid handle")
        return _attrs(os.fstat(file_obj.fd))

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        """Accepted and ignored on uploads (clients set times and modes); refused otherwise."""
        if not isinstance(file_obj, UploadHandle):
            raise asyncssh.SFTPPermissionDenied("attributes can only be set on uploads")

    async def fsync(self, file_obj: object) -> None:
        if isinstance(file_obj, UploadHandle):
            await file_obj.drained()
            await self._core(os.fsync, file_obj.fd)

    # --- names ------------------------------------------------------------------------

    async def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        """Symlinks are never followed, so ``stat`` is ``lstat``."""
        return _attrs(await self._core(self.session.stat, _path(path)))

    async def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return await self.stat(path)

    async def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """A no-op on files in upload folders (``put -p``); refused anywhere else."""
        await self._core(self._check_setstat, _path(path))

    async def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        await self.setstat(path, attrs)

    def _check_setstat(self, name: str) -> None:
        self.session.resolve(name, Op.SETSTAT)
        self.session.stat(name)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        """The folder's regular files and fixed sub-folders; symlinks are never listed."""
        name = _path(path)
        listing = await self._core(self._listing, name)
        for entry, st in listing:
            yield asyncssh.SFTPName(entry.encode("utf-8", "surrogateescape"), attrs=_attrs(st))

    def _listing(self, name: str) -> list[tuple[str, os.stat_result]]:
        entries = self.session.listdir(name)
        vpath = self.session.resolve(name, Op.LIST)
        if not vpath.is_folder:
            return entries
        here = self.session.stat(name)
        return [(".", here), ("..", here), *entries]

    async def remove(self, path: bytes) -> None:
        await self._core(self.session.delete, _path(path))

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Rename within upload folders; a final name completes a temp-named upload."""
        await self._core(self.session.rename, _path(oldpath), _path(newpath))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self.rename(oldpath, newpath)

    async def realpath(self, path: bytes) -> bytes:
        """The canonical virtual path (``/profile/../Profile/x`` → ``/Profile/x``)."""
        vpath = await self._core(self.session.resolve, _path(path), Op.STAT)
        return vpath.virtual.encode("utf-8", "surrogateescape")

    async def readlink(self, path: bytes) -> bytes:
        await self._core(self.session.resolve, _path(path), Op.STAT)
        raise asyncssh.SFTPNoSuchFile("there are no symbolic links here")

    # --- refused ---------------------------------------------------------------------
    # The folder layout is fixed and links are never created: a link is the classic
    # way out of a chroot, and a folder of the customer's own would never be read.

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("folders are fixed: mkdir is not allowed")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("folders are fixed: rmdir is not allowed")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links cannot be created")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links cannot be created")

    def statvfs(self, path: bytes) -> NoReturn:
        raise asyncssh.SFTPOpUnsupported("statvfs is not supported")

    def fstatvfs(self, file_obj: object) -> NoReturn:
        raise asyncssh.SFTPOpUnsupported("statvfs is not supported")

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs
    ) -> NoReturn:
        raise asyncssh.SFTPOpUnsupported("only SFTP version 3 is served")
