"""The SSH session channel of a login: SFTP only, with upload completion tracked.

Two pieces sit between asyncssh and :class:`~ftpush.intake.sftp_files.DropboxSftpServer`:

* :class:`SftpOnlySession` accepts the ``sftp`` subsystem and nothing else: no
  shell, no ``exec`` (so no SCP, whose legacy protocol is an ``exec scp -t``),
  no pty. Requests it refuses fail at the SSH channel level, before any byte
  of a file is read.
* :class:`CompletionTrackingHandler` is asyncssh's own SFTP server loop with one
  addition: it tells a client's CLOSE apart from the cleanup asyncssh runs when
  the session ends. For throughput (decision 0301) it takes its requests from
  an :class:`~ftpush.intake.sftp_input.SftpInput` the session feeds, instead of
  asyncssh's stream reader, and hands WRITE data on as a view of the request.

Why the handler is needed (see ``docs/decisions/0300-sftp-upload-completion.md``):
asyncssh calls the public ``SFTPServer.close(file_obj)`` both from
``SFTPServerHandler._process_close`` (the client sent ``SSH_FXP_CLOSE``: the
upload is whole) and from ``SFTPServerHandler._cleanup`` (the channel or the
connection went away with the handle still open: the client was killed, the
network cut, the session timed out). The public API gives ``close`` no way to
know which. The handler marks the handle as closed *by the client* just before
asyncssh's own ``_process_close`` runs, so the positive evidence travels with
the handle; anything else that closes a handle (cleanup today, whatever a
future asyncssh adds) leaves the mark unset and the upload is discarded as
incomplete. Failing that way loses nothing the client was told it had
delivered; failing the other way would process a truncated file.
``tests/integration/intake/test_sftp_completion.py`` pins this behaviour of
asyncssh (a clean session end with a handle open must not count).

Example (asyncssh does this when a client opens the ``sftp`` subsystem)::

    session = SftpOnlySession(lambda chan: DropboxSftpServer(chan, box), idle, tasks.add, "alice")
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import asyncssh
from asyncssh.channel import SSHChannel
from asyncssh.constants import FXP_CLOSE, FXP_WRITE
from asyncssh.packet import SSHPacket
from asyncssh.sftp import MIN_SFTP_VERSION, SFTPServerHandler
from asyncssh.stream import SSHServerStreamSession

from ftpush.intake.sftp_files import DropboxSftpServer
from ftpush.intake.sftp_input import SftpInput
from ftpush.intake.sftp_uploads import UploadHandle

log = logging.getLogger("ftpush.intake.sftp")

# Extensions asyncssh would serve that we do not: links are never created,
# copy-data and ranges bypass the handle types, statvfs tells nothing useful.
_UNSERVED_EXTENSIONS = frozenset(
    {
        b"hardlink@openssh.com",
        b"copy-data",
        b"ranges@asyncssh.com",
        b"statvfs@openssh.com",
        b"fstatvfs@openssh.com",
    }
)

_Handler = Callable[[SFTPServerHandler, SSHPacket], Awaitable[object]]


class IdleWatch:
    """Calls ``on_idle`` once nothing happened for ``timeout`` seconds.

    A request being served is activity for as long as it runs (a CLOSE that
    syncs a large file to disk is not idleness).

    >>> watch = IdleWatch(600, conn.close)  # doctest: +SKIP
    >>> watch.enter(); ...; watch.leave()   # around every SFTP request  # doctest: +SKIP
    """

    def __init__(self, timeout: float, on_idle: Callable[[], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout = timeout
        self._on_idle = on_idle
        self._busy = 0
        self._last = self._loop.time()
        self._timer: asyncio.TimerHandle | None = self._loop.call_later(timeout, self._check)

    def enter(self) -> None:
        self._busy += 1

    def leave(self) -> None:
        self._busy -= 1
        self._last = self._loop.time()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        due = self._last + self._timeout
        if self._busy == 0 and self._loop.time() >= due:
            self._timer = None
            self._on_idle()
            return
        delay = self._timeout if self._busy else due - self._loop.time()
        self._timer = self._loop.call_later(delay, self._check)


class CompletionTrackingHandler(SFTPServerHandler):
    """asyncssh's SFTP server loop, marking the handles the client itself closed."""

    _extensions = [  # noqa: RUF012 - replaces asyncssh's own list, never mutated
        (n, d) for n, d in SFTPServerHandler._extensions if n not in _UNSERVED_EXTENSIONS
    ]

    def __init__(
        self,
        server: DropboxSftpServer,
        reader: asyncssh.SSHReader[bytes],
        writer: asyncssh.SSHWriter[bytes],
        idle: IdleWatch,
        requests: SftpInput,
    ) -> None:
        super().__init__(server, reader, writer, MIN_SFTP_VERSION)
        self._dropbox = server
        self._idle = idle
        self._requests = requests

    async def recv_packet(self) -> SSHPacket:
        # The session cuts the requests out of the channel data (see SftpInput);
        # asyncssh's own reads the same bytes through the stream reader.
        return SSHPacket(await self._requests.next())

    async def _process_write(self, packet: SSHPacket) -> int:
        # asyncssh's _process_write, except that the data is a view of the
        # request instead of a copy of its 256 KiB.
        fields = SSHPacket(memoryview(packet.get_full_payload()))  # type: ignore[arg-type]
        fields.get_bytes(len(packet.get_consumed_payload()))  # type and id, already read
        handle = bytes(fields.get_string())
        offset = fields.get_uint64()
        data = fields.get_string()
        if self._version < 6:
            fields.check_end()
        file_obj = self._file_handles.get(handle)
        if not file_obj:
            raise asyncssh.SFTPInvalidHandle("Invalid file handle")
        return await self._dropbox.write(file_obj, offset, data)

    async def _process_close(self, packet: SSHPacket) -> None:
        # Peek at the handle without consuming the packet, mark the upload as
        # closed by the client, then let asyncssh do its usual close. The reply
        # ("OK" or an error) is sent by asyncssh only after close() returned,
        # i.e. after the file was taken into the spool.
        handle = SSHPacket(packet.get_remaining_payload()).get_string()
        file_obj = self._file_handles.get(handle)
        if isinstance(file_obj, UploadHandle):
            file_obj.client_closed = True
        await SFTPServerHandler._process_close(self, packet)

    async def _cleanup(self, exc: Exception | None) -> None:
        # Every handle still open now is closed by asyncssh, not by the client.
        if exc is not None:
            self._dropbox.ending_reason = f"the session ended before the file was closed ({exc})"
        await super()._cleanup(exc)

    async def _process_packet(self, pkttype: int, pktid: int, packet: SSHPacket) -> None:
        self._idle.enter()
        try:
            await super()._process_packet(pkttype, pktid, packet)
        finally:
            self._idle.leave()

    # asyncssh dispatches through this class-level table of *functions*, not
    # through attribute lookup, so an override only takes effect once it is here.
    _packet_handlers: Mapping[int | bytes, _Handler | None] = {  # type: ignore[assignment]
        **{
            kind: handler
            for kind, handler in SFTPServerHandler._packet_handlers.items()
            if kind not in _UNSERVED_EXTENSIONS
        },
        FXP_CLOSE: cast(_Handler, _process_close),
        FXP_WRITE: cast(_Handler, _process_write),
    }


class SftpOnlySession(SSHServerStreamSession[bytes]):
    """A session channel that runs the SFTP subsystem and refuses everything else.

    The channel's data goes to an :class:`~ftpush.intake.sftp_input.SftpInput`
    (whole requests for the handler), not to the stream reader.
    """

    def __init__(
        self,
        make_server: Callable[[asyncssh.SSHServerChannel[bytes]], DropboxSftpServer],
        idle: IdleWatch,
        track: Callable[[asyncio.Task[None]], None],
        who: str = "",
        on_closed: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(None, None, MIN_SFTP_VERSION, allow_scp=False)
        self._make_server = make_server
        self._idle = idle
        self._track = track
        self._who = who  # "user from address", for the logs
        self._on_closed = on_closed
        self._requests: SftpInput | None = None

    def connection_made(self, chan: SSHChannel[bytes]) -> None:
        super().connection_made(chan)
        # Paused, as asyncssh's reader does, once a window's worth waits.
        self._requests = SftpInput(chan.get_recv_window(), chan.pause_reading, chan.resume_reading)

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if datatype is None and self._requests is not None:
            self._requests.feed(data)
        else:  # pragma: no cover - a session channel only accepts plain data from a client
            super().data_received(data, datatype)

    def eof_received(self) -> bool:
        if self._requests is not None:
            self._requests.end()
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._requests is not None:
            self._requests.end(exc)
        super().connection_lost(exc)
        self._on_closed()

    def exception_received(self, exc: Exception) -> None:
        # A "break" or "signal" request: nothing for an SFTP server to do. asyncssh's
        # stream reader would have raised it in the SFTP task, killing it without
        # its cleanup (open uploads never closed).
        log.info("%s ignored for %s", type(exc).__name__, self._who)

    def pty_requested(
        self,
        term_type: str,
        term_size: tuple[int, int, int, int],
        term_modes: Mapping[int, int],
    ) -> bool:
        return False

    def shell_requested(self) -> bool:
        log.info("shell refused for %s: only the sftp subsystem is served", self._who)
        return False

    def exec_requested(self, command: str) -> bool:
        # SCP (legacy "scp -t/-f", and anything else) runs as an exec request.
        log.info("exec refused for %s (SCP is off): %.60r", self._who, command)
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != "sftp":
            log.info("subsystem %.40r refused for %s", subsystem, self._who)
        return subsystem == "sftp"

    def session_started(self) -> None:
        chan = cast("asyncssh.SSHServerChannel[bytes] | None", self._chan)
        conn = self._conn
        if chan is None or conn is None:  # pragma: no cover - asyncssh sets both first
            return
        if chan.get_subsystem() != "sftp":  # pragma: no cover - refused above
            chan.close()
            return
        chan.set_encoding(None)
        self._encoding = None
        server = self._make_server(chan)
        reader = asyncssh.SSHReader[bytes](self, chan)
        writer = asyncssh.SSHWriter[bytes](self, chan)
        assert self._requests is not None  # connection_made came first
        handler = CompletionTrackingHandler(server, reader, writer, self._idle, self._requests)
        self._track(conn.create_task(handler.run(), reader.logger))
