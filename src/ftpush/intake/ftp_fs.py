"""The dropbox as pyftpdlib sees it: a virtual file system over :class:`DropboxSession`.

pyftpdlib's :class:`AbstractedFS` maps client paths to real paths and then
calls ``os`` functions on them. Here nothing of the kind happens: the "file
system paths" pyftpdlib passes around are the *virtual* paths of the dropbox
(``/Profile/users.txt``), normalised with ``..`` clamped at ``/``, and every
operation is a call on the session, which resolves the path, applies the
dropbox rules and acts on the real file system itself (``O_NOFOLLOW``, fixed
folders, one validated name). So no client path ever reaches an ``os`` call
in this module.

Domain errors become :class:`FilesystemError`, which pyftpdlib answers with
``550 <message>.``; uploads and downloads are file objects built from the
descriptors the session opens.

Example::

    >>> fs = DropboxFS("/", handler)            # doctest: +SKIP  (pyftpdlib does this)
    >>> fs.ftp2fs("../profile/./users.txt")
    '/profile/users.txt'
    >>> fs.listdir("/")                         # doctest: +SKIP
    ['Profile', 'failed', 'reports', 'results', 'validate']
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import posixpath
import stat
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from ftpush.errors import FtpushError
from ftpush.intake.dropbox import VPath
from ftpush.intake.spool import DropboxSession

with warnings.catch_warnings():
    # pyftpdlib imports asynchat/asyncore, deprecated since Python 3.11; the
    # warning is about pyftpdlib's internals, not something ftpush can act on.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.exceptions import FilesystemError
    from pyftpdlib.filesystems import AbstractedFS

T = TypeVar("T")
log = logging.getLogger("ftpush.intake.ftp")

_LISTED_OWNER = "ftp"  # never the server's own user and group names
# Every this many bytes the kernel is asked to start writing the upload to disk
# (without waiting), so the fsync before 226 has only the tail left; with a lot
# of RAM Linux would otherwise keep a whole large upload dirty until that fsync.
WRITEBACK_BYTES = 8 * 1024 * 1024


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


def normalise(path: str, cwd: str = "/") -> str:
    """A client path as an absolute virtual path; ``..`` never climbs above ``/``.

    Pure string work that never fails, because pyftpdlib calls it before it
    catches errors; whether the path is acceptable is the session's call.

    >>> normalise("../../etc/passwd", "/Profile")
    '/etc/passwd'
    """
    parts: list[str] = []
    for part in posixpath.join(cwd or "/", path).split("/"):
        if part in {"", "."}:
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _checked(call: Callable[[], T]) -> T:
    """Run a session call, turning domain errors into pyftpdlib's 550 errors."""
    try:
        return call()
    except FtpushError as exc:
        raise FilesystemError(exc.message) from None


class UploadFile:
    """An upload in progress: what pyftpdlib's data channel writes into.

    Bytes go straight to the descriptor with ``os.writev`` (no buffering layer
    to flush or lose, no copy to join the pieces), and every write is checked
    against the size limit, so an oversized upload is stopped while it
    happens, not after. How the
    upload *ends* is not this object's call: the data channel knows whether
    the client proved completion and calls :meth:`finish`. A plain
    :meth:`close` (the transfer never started, the session was reset) counts
    as an incomplete upload.
    """

    def __init__(self, session: DropboxSession, vpath: VPath, fd: int) -> None:
        self.name = vpath.virtual
        self.vpath = vpath
        self._session = session
        self._fd = fd
        self.size = 0
        self._flushed = 0
        self.finished = False

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; raises :class:`~ftpush.errors.FileTooLarge` past the limit."""
        return self.write_chunks([data])

    def write_chunks(self, chunks: Sequence[bytes | bytearray | memoryview]) -> int:
        """Append several buffers with one ``writev`` (no joining copy); returns the size."""
        length = sum(len(chunk) for chunk in chunks)
        self._session.check_extent(self.size + length)
        written = os.writev(self._fd, chunks)
        if written < length:  # a short write (rare on files): finish byte by byte
            rest = memoryview(b"".join(chunks))[written:]
            while rest:
                rest = rest[os.write(self._fd, rest) :]
        self.size += length
        # Whole chunks only: a page still being written must not be under writeback.
        limit = self.size - self.size % WRITEBACK_BYTES
        if _start_writeback is not None and limit > self._flushed:
            _start_writeback(self._fd, self._flushed, limit - self._flushed)
            self._flushed = limit
        return length

    def finish(self, *, complete: bool, reason: str = "") -> str | None:
        """End the upload: hand it to the spool when ``complete``, discard it otherwise.

        Returns the spool id when the file was taken (``None`` when it waits
        for a rename or a sidecar). Only the first call acts. If a complete
        file cannot be made durable, it is discarded and the ``OSError`` raised.
        """
        if self.finished:
            return None
        self.finished = True
        failure: OSError | None = None
        if complete:
            # "226" promises the file is kept: it must survive a crash right after
            # (ext4 does not order data before a rename to a new name). Same rule
            # as SFTP's CLOSE (docs/decisions/0300).
            try:
                os.fsync(self._fd)
            except OSError as exc:
                failure, complete = exc, False
                reason = f"the server could not store the file ({exc.strerror})"
        self._close_fd()
        taken = self._session.close_write(self.vpath, complete=complete, reason=reason)
        if failure is not None:
            raise failure
        return taken

    def discard_in(self, pool: Executor, reason: str) -> None:
        """Discard the upload in a worker thread (hashing a big partial file takes time)."""
        if self.finished:
            return
        self.finished = True
        self._close_fd()
        pool.submit(self._discard, reason)

    def _discard(self, reason: str) -> None:
        try:
            self._session.close_write(self.vpath, complete=False, reason=reason)
        except Exception:
            log.exception("could not discard the incomplete upload %s", self.name)

    def close(self) -> None:
        self.finish(complete=False, reason="the transfer was cancelled before it finished")

    def _close_fd(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


def download_file(fd: int, virtual: str) -> io.FileIO:
    """A download as pyftpdlib expects it: readable, seekable (REST), ``sendfile``-able."""
    handle = io.FileIO(fd, "rb", closefd=True)
    handle.name = virtual  # pyftpdlib logs it; the real path stays private
    return handle


class DropboxFS(AbstractedFS):  # type: ignore[misc]
    """pyftpdlib's file-system interface, delegated to the session of the login.

    The handler gives the session as ``cmd_channel.dropbox_session``. The
    root is always ``/``: the dropbox *is* the chroot.
    """

    def __init__(self, root: str, cmd_channel: Any) -> None:
        super().__init__("/", cmd_channel)
        self.session: DropboxSession = cmd_channel.dropbox_session

    # --- paths -------------------------------------------------------------

    def ftpnorm(self, ftppath: str) -> str:
        return normalise(ftppath, self.cwd)

    def ftp2fs(self, ftppath: str) -> str:
        # The "file system" path is the virtual path itself: nothing real is
        # computed here, so nothing here can point outside the dropbox.
        return normalise(ftppath, self.cwd)

    def fs2ftp(self, fspath: str) -> str:
        return normalise(fspath)

    def validpath(self, path: str) -> bool:
        # Every normalised virtual path is inside the root by construction;
        # whether it names a known folder and an acceptable file is decided by
        # the session on each operation (with a precise 550 message).
        return True

    def realpath(self, path: str) -> str:
        try:
            return self.session.box.resolve(path).virtual
        except FtpushError:
            return normalise(path)

    def chdir(self, path: str) -> None:
        vpath = self._folder(path)
        self.cwd = vpath.virtual

    def _folder(self, path: str) -> VPath:
        vpath = _checked(lambda: self.session.box.resolve(path))
        if not vpath.is_folder:
            raise FilesystemError(f"{vpath.virtual} is not a folder")
        return vpath

    # --- files -------------------------------------------------------------

    def open(self, filename: str, mode: str) -> UploadFile | io.FileIO:
        if mode == "rb":
            fd = _checked(lambda: self.session.open_read(filename))
            return download_file(fd, normalise(filename))
        if mode == "wb":
            vpath, fd = _checked(lambda: self.session.open_write(filename))
            return UploadFile(self.session, vpath, fd)
        # APPE ("ab") and REST+STOR ("r+b"): a partial upload is discarded when
        # its connection drops, so there is never anything to resume or append to.
        raise FilesystemError(
            "appending to or resuming an upload is not supported: upload the whole file again"
        )

    def mkstemp(
        self, suffix: str = "", prefix: str = "", dir: str | None = None, mode: str = "wb"
    ) -> Any:
        raise FilesystemError("STOU is not supported: upload with STOR and a file name")

    def remove(self, path: str) -> None:
        _checked(lambda: self.session.delete(path))

    def rename(self, src: str, dst: str) -> None:
        _checked(lambda: self.session.rename(src, dst))

    def listdir(self, path: str) -> list[str]:
        return [name for name, _ in _checked(lambda: self.session.listdir(path))]

    def listdirinfo(self, path: str) -> list[str]:
        return self.listdir(path)

    def stat(self, path: str) -> os.stat_result:
        return _checked(lambda: self.session.stat(path))

    lstat = stat  # the session never follows or reports symbolic links

    def isfile(self, path: str) -> bool:
        return self._mode_is(path, stat.S_ISREG)

    def isdir(self, path: str) -> bool:
        return self._mode_is(path, stat.S_ISDIR)

    def islink(self, path: str) -> bool:
        return False  # links are hidden and never followed, so none is ever shown

    def lexists(self, path: str) -> bool:
        return self._mode_is(path, lambda mode: True)

    def getsize(self, path: str) -> int:
        return self.stat(path).st_size

    def getmtime(self, path: str) -> float:
        return self.stat(path).st_mtime

    def _mode_is(self, path: str, test: Callable[[int], bool]) -> bool:
        try:
            return test(self.session.stat(path).st_mode)
        except (FtpushError, OSError):
            return False

    # --- refused -------------------------------------------------------------
    # The folders are fixed and files belong to the platform once uploaded:
    # no folder changes, no links, no metadata changes (SPEC §2, isolation).

    def mkdir(self, path: str) -> None:
        raise FilesystemError("the folders of the dropbox are fixed; MKD is not allowed")

    def rmdir(self, path: str) -> None:
        raise FilesystemError("the folders of the dropbox are fixed; RMD is not allowed")

    def chmod(self, path: str, mode: int) -> None:
        raise FilesystemError("changing permissions is not allowed")

    def utime(self, path: str, timeval: float) -> None:
        raise FilesystemError("changing modification times is not allowed")

    def symlink(self, src: str, dst: str) -> None:
        raise FilesystemError("symbolic links are not allowed")

    def readlink(self, path: str) -> str:
        raise FilesystemError("symbolic links are not allowed")

    # --- listings ------------------------------------------------------------

    def get_user_by_uid(self, uid: int) -> str:
        return _LISTED_OWNER

    def get_group_by_gid(self, gid: int) -> str:
        return _LISTED_OWNER
