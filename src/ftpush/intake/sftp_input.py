"""The SFTP requests of a channel, cut out of the channel data as it arrives.

asyncssh's SFTP server reads its requests through an ``SSHReader``: every SSH
packet of channel data (32–64 KiB from OpenSSH) wakes the server task, which
takes the bytes, finds it has not yet got the 256 KiB of a whole WRITE, and
waits again; the pieces are then sliced and joined. :class:`SftpInput` is fed
by the session's ``data_received`` instead and wakes the task once per
complete request, joining its pieces with one copy. What the reader did
otherwise is kept: the same request size limit, the channel paused while a
window's worth of requests waits, and the same ends (a clean end of the
channel, or one with an exception, or a request cut off by it).

Example (what :class:`~ftpush.intake.sftp_session.SftpOnlySession` does)::

    requests = SftpInput(limit=8 << 20, pause=chan.pause_reading, resume=chan.resume_reading)
    requests.feed(data)                  # from data_received, any split
    payload = await requests.next()      # one whole SFTP packet, without its length
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from asyncssh.sftp import MAX_SFTP_PACKET_LEN, SFTPBadMessage

_LENGTH = 4  # the uint32 before each SFTP packet


class SftpInput:
    """The complete SFTP packets received on one channel, in order, for one reader."""

    def __init__(self, limit: int, pause: Callable[[], None], resume: Callable[[], None]) -> None:
        self._limit = limit  # bytes waiting before the channel is paused
        self._pause = pause
        self._resume = resume
        self._paused = False
        self._chunks: deque[bytes] = deque()  # received, not yet cut into packets
        self._skip = 0  # bytes of _chunks[0] already cut
        self._pending = 0  # bytes in _chunks past _skip
        self._length: int | None = None  # the next packet's length, once read
        self._need = _LENGTH  # bytes needed before there is something to cut
        self._packets: deque[bytes] = deque()
        self._waiting = 0  # bytes received and not yet taken by next()
        self._end: BaseException | None = None  # raised once the packets are taken
        self._waiter: asyncio.Future[None] | None = None

    def feed(self, data: bytes) -> None:
        """Add channel data; complete packets become available to :meth:`next`."""
        if self._end is not None or not data:
            return  # after the end (or a bad packet) nothing more is read
        self._chunks.append(data)
        self._pending += len(data)
        self._waiting += len(data)
        if self._pending >= self._need:
            self._cut()
        if not self._paused and self._waiting >= self._limit:
            self._paused = True
            self._pause()

    def end(self, exc: BaseException | None = None) -> None:
        """The channel ended (cleanly, or with ``exc``): :meth:`next` raises after the last packet.

        As with asyncssh's reader: a packet cut off by the end raises
        :class:`asyncio.IncompleteReadError`; otherwise ``exc``, or
        ``IncompleteReadError`` at a clean end.
        """
        if self._end is not None:
            return
        if self._pending or self._length is not None:
            self._finish(asyncio.IncompleteReadError(b"", self._need))
        else:
            self._finish(exc or asyncio.IncompleteReadError(b"", _LENGTH))

    async def next(self) -> bytes:
        """The next SFTP packet (type, id, fields); waits for it to be complete."""
        while not self._packets:
            if self._end is not None:
                raise self._end
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        packet = self._packets.popleft()
        self._waiting -= _LENGTH + len(packet)
        if self._paused and self._waiting < self._limit:
            self._paused = False
            self._resume()
        return packet

    def _cut(self) -> None:
        while self._pending >= self._need:
            if self._length is None:
                length = int.from_bytes(self._take(_LENGTH), "big")
                if length > MAX_SFTP_PACKET_LEN:
                    self._finish(SFTPBadMessage("Max packet size exceeded"))
                    return
                self._length = length
                self._need = length
            else:
                self._packets.append(self._take(self._length))
                self._length = None
                self._need = _LENGTH
        self._wake()

    def _take(self, n: int) -> bytes:
        """The next ``n`` bytes of the chunks (there are enough), with one copy at most."""
        self._pending -= n
        first = self._chunks[0]
        start = self._skip
        if len(first) - start > n:
            self._skip = start + n
            return first[start : start + n]
        if len(first) - start == n:
            self._chunks.popleft()
            self._skip = 0
            return first if start == 0 else first[start:]
        parts: list[bytes | memoryview] = []
        while n:
            chunk = self._chunks[0]
            available = len(chunk) - start
            if available > n:
                parts.append(memoryview(chunk)[start : start + n])
                self._skip = start + n
                break
            parts.append(memoryview(chunk)[start:] if start else chunk)
            self._chunks.popleft()
            self._skip = start = 0
            n -= available
        return b"".join(parts)

    def _finish(self, exc: BaseException) -> None:
        self._end = exc
        self._chunks.clear()
        self._pending = 0
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done() and (self._packets or self._end is not None):
            waiter.set_result(None)
