"""One HTTP/2 client connection on asyncio, driven by the ``h2`` state machine.

It is built for many small requests multiplexed on one TLS connection (APNs,
FCM): it never opens more streams than the server's
``SETTINGS_MAX_CONCURRENT_STREAMS`` (waiting requests queue for a slot), respects
flow control, coalesces writes into one TLS record per loop turn, completes the
streams a GOAWAY still covers and hands the others back as
:class:`~ftpush.push._h2core.Unprocessed`, and resets a stream that times out.
What a failed request raises is described in :mod:`ftpush.push._h2core`.

Example::

    conn = await H2Connection.open("api.push.apple.com", 443, ctx, timeout=10)
    response = await conn.request(headers, body, timeout=30)
    await conn.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes

from ftpush.push._h2core import (
    ClientState,
    ConnectFailed,
    H2Error,
    H2Response,
    Headers,
    RequestTimeout,
    StreamFailed,
    Unprocessed,
)

log = logging.getLogger(__name__)

# Our own cap even if a server allows more: beyond this h2's per-stream bookkeeping
# costs more than the extra parallelism gives on one connection.
MAX_STREAMS = 1000
_SWEEP_SECONDS = 0.25


@dataclass(slots=True)
class _Stream:
    future: asyncio.Future[H2Response]
    deadline: float
    status: int = 0
    headers: dict[bytes, bytes] | None = None
    body: list[bytes] | None = None  # most answers (APNs 200) have none


class H2Connection(asyncio.Protocol):
    """An asyncio protocol speaking HTTP/2 as a client; open it with :meth:`open`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._h2 = ClientState()
        self._transport: asyncio.Transport | None = None
        self._streams: dict[int, _Stream] = {}
        self._blocked: dict[int, memoryview] = {}
        self._active = 0
        self._capacity = 1  # until the server's SETTINGS say more (we wait for them)
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._ready: asyncio.Future[None] = loop.create_future()
        self._lost: asyncio.Future[None] = loop.create_future()
        self._writable: asyncio.Future[None] | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self.draining = False
        self.goaway_last: int | None = None

    # -- opening and closing -------------------------------------------------------

    @classmethod
    async def open(
        cls, host: str, port: int, context: ssl.SSLContext, *, timeout: float
    ) -> H2Connection:
        """Connect, check ALPN ``h2`` and wait for the server's SETTINGS."""
        loop = asyncio.get_running_loop()
        conn = cls(loop)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: conn, host, port, ssl=context)
                transport = conn._transport
                ssl_object = transport.get_extra_info("ssl_object") if transport else None
                if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
                    raise ConnectFailed(f"{host}:{port} does not speak HTTP/2 (ALPN)")
                # The first SETTINGS carries the stream limit: sending before it
                # arrives could open more streams than the server allows.
                await asyncio.shield(conn._ready)
        except ConnectFailed:
            conn.abort()
            raise
        except (OSError, TimeoutError, ssl.SSLError, H2Error) as exc:
            conn.abort()
            detail = str(exc) or type(exc).__name__
            raise ConnectFailed(f"connect to {host}:{port} failed: {detail}") from exc
        return conn

    @property
    def usable(self) -> bool:
        """True while new requests may be started on this connection."""
        return not (self.draining or self._lost.done() or self._transport is None)

    @property
    def closed(self) -> bool:
        """True once the socket is gone."""
        return self._lost.done()

    @property
    def load(self) -> int:
        return self._active + len(self._waiters)

    @property
    def capacity(self) -> int:
        return self._capacity

    def on_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the socket is gone (now, if it already is)."""
        self._lost.add_done_callback(lambda _future: callback())

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def aclose(self, timeout: float = 2.0) -> None:
        """Say GOAWAY, close the socket and wait until it is really closed."""
        self.draining = True
        if self._transport is not None and not self._lost.done():
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.close_connection()
                self._flush()
            self._transport.close()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._lost)
        except TimeoutError:
            self.abort()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.shield(self._lost)

    # -- requests ------------------------------------------------------------------

    async def request(self, headers: Headers, body: bytes, timeout: float) -> H2Response:
        """Send one request and wait for its complete answer (or raise an H2Error)."""
        await self._acquire(timeout)
        if self._writable is not None:  # the socket's buffer is full: let it drain
            try:
                await asyncio.shield(self._writable)
            except asyncio.CancelledError:
                self._release()
                raise
        if not self.usable:
            self._release()
            raise Unprocessed("connection closing")
        try:
            stream_id = self._h2.get_next_available_stream_id()
            self._h2.outbound_open = self._active - 1  # the others; this one is opening
            self._h2.send_headers(stream_id, headers, end_stream=not body)
        except (h2.exceptions.NoAvailableStreamIDError, h2.exceptions.ProtocolError) as exc:
            self._release()
            self.draining = True
            raise Unprocessed(f"cannot open a stream: {exc}") from exc
        future: asyncio.Future[H2Response] = self._loop.create_future()
        self._streams[stream_id] = _Stream(future, self._loop.time() + timeout)
        if body:
            window = self._h2.local_flow_control_window(stream_id)
            if len(body) <= min(window, self._h2.max_outbound_frame_size):
                self._h2.send_data(stream_id, body, end_stream=True)  # the usual case
            else:
                self._blocked[stream_id] = memoryview(body)
                self._pump(stream_id)
        self._flush_soon()
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(_SWEEP_SECONDS, self._sweep)
        try:
            return await future
        except asyncio.CancelledError:
            self._reset(stream_id, None)
            raise

    async def _acquire(self, timeout: float) -> None:
        """Take a stream slot, waiting (in order, at most ``timeout``) when all are busy."""
        if not self.usable:
            raise Unprocessed("connection closing")
        if self._active < self._capacity and not self._waiters:
            self._active += 1
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        expiry = self._loop.call_later(timeout, self._expire, waiter)
        try:
            await waiter  # _wake hands the slot over: _active already counts us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release()
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise
        finally:
            expiry.cancel()

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            waiter.set_exception(RequestTimeout("no free stream within the request timeout"))

    def _release(self) -> None:
        self._active -= 1
        if self._waiters:
            self._wake()

    def _wake(self) -> None:
        limit = self._capacity
        while self._waiters and self._active < limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._active += 1
                waiter.set_result(None)

    def _fail_waiters(self, reason: str) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(Unprocessed(reason))

    def _pump(self, stream_id: int) -> None:
        """Send as much of a body as the flow-control windows allow."""
        view = self._blocked.get(stream_id)
        if view is None:
            return
        while view:
            size = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            if size <= 0:
                self._blocked[stream_id] = view
                return
            chunk, view = view[:size], view[size:]
            try:
                self._h2.send_data(stream_id, chunk, end_stream=not view)
            except h2.exceptions.ProtocolError as exc:  # the stream was reset meanwhile
                self._finish(stream_id, StreamFailed(f"cannot send the body: {exc}"))
                return
        del self._blocked[stream_id]

    def _finish(self, stream_id: int, result: H2Response | H2Error) -> None:
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return
        self._blocked.pop(stream_id, None)
        if not stream.future.done():
            if isinstance(result, H2Error):
                stream.future.set_exception(result)
            else:
                stream.future.set_result(result)
        self._release()
        if self.draining and not self._streams and self._transport is not None:
            self._transport.close()  # a GOAWAY'd connection goes once its streams are done

    def _reset(self, stream_id: int, error: H2Error | None) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError, KeyError):
            self._h2.reset_stream(stream_id, ErrorCodes.CANCEL)
            self._flush_soon()
        self._finish(stream_id, error or StreamFailed("cancelled"))

    def _sweep(self) -> None:
        self._sweeper = None
        now = self._loop.time()
        for stream_id in [sid for sid, s in self._streams.items() if s.deadline <= now]:
            self._reset(stream_id, RequestTimeout("no answer within the request timeout"))
        if self._streams:
            self._sweeper = self._loop.call_later(_SWEEP_SECONDS, self._sweep)

    # -- writing -------------------------------------------------------------------

    def _flush_soon(self) -> None:
        # One write per loop turn: every request started in this turn shares a TLS record.
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # the asyncio contract
        self._transport = transport
        self._h2.initiate_connection()
        self._h2.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._flush()
            self._drop(StreamFailed(f"HTTP/2 protocol error: {exc}"))
            return
        try:
            for event in events:
                self._on_event(event)
        except Exception as exc:  # a bug here must not leave requests waiting forever
            log.exception("HTTP/2 event handling failed")
            self._drop(StreamFailed(f"internal error: {type(exc).__name__}"))
            return
        self._flush_soon()

    def _on_event(self, event: h2.events.Event) -> None:  # noqa: PLR0912 - one switch
        if isinstance(event, h2.events.ResponseReceived):
            stream = self._streams.get(event.stream_id)
            if stream is not None and event.headers is not None:
                # bytes, not str: header_encoding=None
                stream.headers = dict(event.headers)
                stream.status = int(stream.headers.get(b":status", b"0"))
        elif isinstance(event, h2.events.DataReceived):
            stream = self._streams.get(event.stream_id)
            if stream is not None and event.data is not None:
                if stream.body is None:
                    stream.body = []
                stream.body.append(event.data)
            if event.stream_id is not None and event.flow_controlled_length is not None:
                with contextlib.suppress(h2.exceptions.ProtocolError, KeyError):
                    self._h2.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
        elif isinstance(event, h2.events.StreamEnded):
            stream = self._streams.get(event.stream_id or 0)
            if stream is not None:
                body = b"".join(stream.body) if stream.body else b""
                response = H2Response(stream.status, stream.headers or {}, body)
                self._finish(event.stream_id or 0, response)
        elif isinstance(event, h2.events.StreamReset):
            code = event.error_code
            if code == ErrorCodes.REFUSED_STREAM:
                error: H2Error = Unprocessed("stream refused by the server")
            else:
                error = StreamFailed(f"stream reset by the server ({code!s})")
            self._finish(event.stream_id or 0, error)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            limit = self._h2.remote_settings.max_concurrent_streams
            self._capacity = min(limit, MAX_STREAMS)
            if not self._ready.done():
                self._ready.set_result(None)
            self._wake()
        elif isinstance(event, h2.events.WindowUpdated):
            for stream_id in list(self._blocked):
                self._pump(stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._on_goaway(event.last_stream_id or 0)

    def _on_goaway(self, last_stream_id: int) -> None:
        self.draining = True
        if self.goaway_last is None or last_stream_id < self.goaway_last:
            self.goaway_last = last_stream_id
        for stream_id in [sid for sid in self._streams if sid > last_stream_id]:
            self._finish(stream_id, Unprocessed("above the last stream id of a GOAWAY"))
        self._fail_waiters("connection going away")
        if not self._streams and self._transport is not None:
            self._transport.close()

    def _drop(self, error: H2Error) -> None:
        self.draining = True
        for stream_id in list(self._streams):
            self._finish(stream_id, error)
        self._fail_waiters(str(error))
        if self._transport is not None:
            self._transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.draining = True
        detail = f": {exc}" if exc else ""
        for stream_id in list(self._streams):
            self._finish(stream_id, StreamFailed(f"connection lost{detail}"))
        self._fail_waiters("connection lost")
        if not self._ready.done():
            self._ready.set_exception(ConnectFailed(f"connection closed before SETTINGS{detail}"))
            self._ready.exception()  # retrieved: open() reports it, or nobody waits
        for handle in (self._flush_handle, self._sweeper):
            if handle is not None:
                handle.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if not self._lost.done():
            self._lost.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None
