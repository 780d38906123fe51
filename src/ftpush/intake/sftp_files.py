"""SFTP file requests of one logged-in session, delegated to the dropbox core.

:class:`DropboxSftpServer` is the ``asyncssh.SFTPServer`` of one SFTP channel. It
owns no rules: every request becomes a call on the session's
:class:`~ftpush.intake.spool.DropboxSession` (path resolution, confinement,
folder permissions, completion), and the core's errors become SFTP status
codes (:mod:`ftpush.intake.sftp_errors`). Blocking core calls run in a worker
thread, so one slow disk or database call never stalls the other sessions.

What SFTP adds on top of the core:

* a handle is opened either to upload or to download, never both, and never
  to append (an appended or resumed upload cannot be told from a whole one);
* an upload counts only when the client itself closed its handle
  (:attr:`~ftpush.intake.sftp_uploads.UploadHandle.client_closed`, set by
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
import logging
import os
import stat
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

from ftpush.errors import Conflict, FileTooLarge, FtpushError, NotFound, PermissionDenied
from ftpush.intake.dropbox import Op, VPath
from ftpush.intake.sftp_errors import raise_sftp
from ftpush.intake.sftp_uploads import UploadHandle
from ftpush.intake.spool import DropboxSession

log = logging.getLogger("ftpush.intake.sftp")

T = TypeVar("T")


class DownloadHandle:
    """An open download (``results/``, ``failed/``, ``reports/``)."""

    __slots__ = ("fd", "virtual")

    def __init__(self, virtual: str, fd: int) -> None:
        self.virtual = virtual
        self.fd = fd


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
            raise_sftp(exc)

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

    async def write(self, file_obj: object, offset: int, data: bytes | memoryview) -> int:
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
            raise_sftp(exc)
        file_obj.queue(data, offset)
        if file_obj.over_limit:
            await file_obj.drained()  # back-pressure: the client waits for the disk
        if file_obj.refused is not None:
            raise asyncssh.SFTPFailure(file_obj.refused)
        return len(data)

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
            raise_sftp(exc)
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
