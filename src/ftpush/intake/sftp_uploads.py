"""An SFTP upload in progress: its writes, queued and written in order off the event loop.

The reply to a WRITE does not wait for the disk. :meth:`UploadHandle.queue`
appends the data to the handle's queue, and one writer task per handle writes
the queue in batches, in order, in a worker thread; past
``MAX_PENDING_WRITE_BYTES`` the client waits (back-pressure). A write that
fails poisons the upload (:attr:`UploadHandle.refused`): the client learns it
at CLOSE at the latest and the file is never kept, because only the answer to
CLOSE promises anything.

As the file grows, the kernel is asked to start writing it to disk every
``WRITEBACK_BYTES``, so that the fsync before the CLOSE reply (see
:mod:`ftpush.intake.sftp_files`) waits for the tail only.

Example::

    handle = UploadHandle(vpath, fd)
    handle.queue(b"ExternalID;Text;Deeplink\\n", 0)
    await handle.drained()               # everything queued is in the file
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import sys
from collections.abc import Callable

from ftpush.intake.dropbox import VPath
from ftpush.intake.sftp_errors import sftp_error

log = logging.getLogger("ftpush.intake.sftp")

# Bytes of one upload that may wait in memory for the disk; past this a WRITE
# is answered only once the queue has drained.
MAX_PENDING_WRITE_BYTES = 4 * 1024 * 1024


class UploadHandle:
    """An open upload: its resolved path, the file descriptor, its queue and how it ended."""

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
        self.pending: list[tuple[bytes | memoryview, int]] = []
        self.pending_bytes = 0
        self.flushed = 0  # writeback to disk has been started below this offset
        self.writer: asyncio.Task[None] | None = None

    def queue(self, data: bytes | memoryview, offset: int) -> None:
        """Queue a write; the handle's writer task writes it, in order, off the event loop."""
        self.pending.append((data, offset))
        self.pending_bytes += len(data)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._write_pending())

    @property
    def over_limit(self) -> bool:
        """Too much waits for the disk: the client should wait for :meth:`drained`."""
        return self.pending_bytes > MAX_PENDING_WRITE_BYTES

    async def drained(self) -> None:
        """Wait until every queued write reached the file (or failed)."""
        while self.writer is not None and not self.writer.done():
            await asyncio.shield(self.writer)

    async def _write_pending(self) -> None:
        while self.pending and self.refused is None:
            batch, self.pending = self.pending, []
            try:
                await asyncio.to_thread(_write_batch, self, batch)
            except OSError as exc:
                self.refused = f"a write failed: {sftp_error(exc).reason}"
                log.error("write to %s failed: %r", self.vpath.virtual, exc)
            finally:
                self.pending_bytes -= sum(len(data) for data, _ in batch)
        self.pending.clear()  # after a failure, the rest is worthless
        self.pending_bytes = 0


def _pwrite_all(fd: int, batch: list[tuple[bytes | memoryview, int]]) -> int:
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


def _write_batch(handle: UploadHandle, batch: list[tuple[bytes | memoryview, int]]) -> None:
    """The writer thread's work: the batch, then writeback of whole chunks behind it."""
    end = _pwrite_all(handle.fd, batch)
    # Whole chunks only: a page still being written must not be under writeback.
    limit = end - end % WRITEBACK_BYTES
    if _start_writeback is not None and limit > handle.flushed:
        _start_writeback(handle.fd, handle.flushed, limit - handle.flushed)
        handle.flushed = limit
