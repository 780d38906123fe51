"""What the network providers share: TLS contexts, an HTTP/2 pool, bounded fan-out.

:class:`H2Pool` keeps up to ``size`` HTTP/2 connections to one origin, sends each
request on the least loaded one, opens a new connection when a server says
GOAWAY and sends again only what the server did not process. After a failed
connect it fails fast for a second instead of hammering a dead host with every
message of a batch.

Example::

    pool = H2Pool("https://api.push.apple.com", tls_context(True), size=1)
    response = await pool.request(b"POST", b"/3/device/abc", headers, body, timeout=30)
    await pool.aclose()
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from hpack.struct import NeverIndexedHeaderTuple

from ftpush.push._h2 import H2Connection
from ftpush.push._h2core import ConnectFailed, H2Response, Headers, Unprocessed

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Resends of a request the server did not process (GOAWAY, refused stream) within one
# send: each goes to a fresh connection; past this the message is reported RETRY.
MAX_REPLAYS = 8
# After a failed connect every request fails at once for this long (seconds).
CONNECT_BACKOFF = 1.0


def unique(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    """A header whose value changes every request: kept out of the HPACK table.

    Indexing such values evicts the ones that repeat (the 200-byte provider token)
    and makes every later table search longer; both ends then do more work for
    nothing. Values that repeat stay plain tuples and are indexed.
    """
    return NeverIndexedHeaderTuple(name, value)


def tls_context(verify: bool | str, *, alpn: Sequence[str] = ("h2",)) -> ssl.SSLContext:
    """A client TLS context: system CAs (``True``), a CA file (a path), or none (``False``).

    >>> tls_context(True).minimum_version
    <TLSVersion.TLSv1_2: 771>
    """
    if isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
        if not verify:
            # Only for tests and local peers; the factory refuses it in stored configs.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


def split_origin(url: str) -> tuple[str, int, bytes]:
    """``https://host[:port]`` → (host, port, authority).

    >>> split_origin("https://api.push.apple.com")
    ('api.push.apple.com', 443, b'api.push.apple.com')
    """
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"not an https origin: {url!r}")
    port = parts.port or 443
    authority = parts.hostname if port == 443 else f"{parts.hostname}:{port}"
    if ":" in parts.hostname:  # IPv6 literal
        authority = f"[{parts.hostname}]" if port == 443 else f"[{parts.hostname}]:{port}"
    return parts.hostname, port, authority.encode("ascii")


class H2Pool:
    """A few HTTP/2 connections to one origin, shared by every request."""

    def __init__(
        self,
        origin: str,
        context: ssl.SSLContext,
        *,
        size: int = 1,
        connect_timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.authority = split_origin(origin)
        self._context = context
        self._size = max(1, size)
        self._connect_timeout = connect_timeout
        self._live: list[H2Connection] = []
        self._all: set[H2Connection] = set()
        self._lock: asyncio.Lock | None = None
        self._down_until = 0.0
        self._down_error: ConnectFailed | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connections_opened = 0

    async def request(
        self,
        method: bytes,
        path: bytes,
        headers: Headers,
        body: bytes,
        *,
        timeout: float,
        unique_path: bool = False,
    ) -> H2Response:
        """Send one request; resend it (up to MAX_REPLAYS) while it was unprocessed.

        ``unique_path``: the path differs per request (a device token), so it is sent
        never-indexed (see :func:`unique`).
        """
        full: Headers = [
            (b":method", method),
            (b":scheme", b"https"),
            (b":authority", self.authority),
            unique(b":path", path) if unique_path else (b":path", path),
            *headers,
        ]
        last: Unprocessed | None = None
        for _ in range(MAX_REPLAYS):
            conn = await self._connection()
            try:
                return await conn.request(full, body, timeout)
            except Unprocessed as exc:
                last = exc
        raise Unprocessed(f"not processed after {MAX_REPLAYS} tries: {last}")

    def bind(self) -> None:
        """Attach to the running event loop; connections never cross loops.

        A provider may move to a new loop once its connections are closed
        (``aclose`` in the old loop); moving while they are open is a wiring bug
        that would leak sockets, so it raises instead.
        """
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        if any(not c.closed for c in self._all):
            raise RuntimeError(
                "push provider used from another event loop while its connections are "
                "open: aclose() it in its loop first, or keep one loop per worker"
            )
        self._loop, self._lock, self._live, self._down_error = loop, None, [], None

    async def _connection(self) -> H2Connection:
        best = self._pick()
        if best is not None:
            return best
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one connect at a time; the others then share it
            best = self._pick()
            if best is not None:
                return best
            loop = asyncio.get_running_loop()
            if self._down_error is not None and loop.time() < self._down_until:
                raise self._down_error
            try:
                conn = await H2Connection.open(
                    self.host, self.port, self._context, timeout=self._connect_timeout
                )
            except ConnectFailed as exc:
                self._down_error, self._down_until = exc, loop.time() + CONNECT_BACKOFF
                log.warning("push connection failed: %s", exc)
                raise
            self._down_error = None
            self.connections_opened += 1
            self._live.append(conn)
            self._all.add(conn)
            conn.on_lost(lambda: self._all.discard(conn))
            return conn

    def _pick(self) -> H2Connection | None:
        """The least loaded usable connection, or None when a new one should open."""
        if self._size == 1 and self._live and self._live[0].usable:
            return self._live[0]  # the common case, without allocating
        self._live = [c for c in self._live if c.usable]
        if not self._live:
            return None
        best = min(self._live, key=lambda c: c.load)
        if best.load < best.capacity or len(self._live) >= self._size:
            return best
        return None

    async def aclose(self) -> None:
        """Close every connection, including those still draining after a GOAWAY.

        The pool stays usable: the next request connects again.
        """
        conns, self._live = list(self._all), []
        await asyncio.gather(*(c.aclose() for c in conns))
        self._all.clear()


async def fan_out(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    concurrency: int,
    fallback: Callable[[T, Exception], R],
    on_result: Callable[[int, R], None] | None = None,
) -> list[R]:
    """``[await work(item) for item in items]`` with at most ``concurrency`` at once.

    A fixed set of workers pulls from one iterator — far cheaper than a task per
    message for batches of thousands. An exception from ``work`` (a bug: providers
    turn every expected failure into an outcome) becomes ``fallback(item, exc)``,
    so one bad message never cancels the rest of the batch. ``on_result(index,
    result)`` is called as each result is known.

    >>> async def double(x): return 2 * x
    >>> asyncio.run(fan_out([1, 2, 3], double, 2, lambda x, e: -1))
    [2, 4, 6]
    """
    results: list[R | None] = [None] * len(items)
    pending = iter(enumerate(items))

    async def worker() -> None:
        for index, item in pending:
            try:
                result = await work(item)
            except Exception as exc:  # see the docstring
                log.exception("push provider failed on one message")
                result = fallback(item, exc)
            results[index] = result
            if on_result is not None:
                on_result(index, result)

    count = min(len(items), max(1, concurrency))
    if count == 1:
        await worker()
    else:
        async with asyncio.TaskGroup() as group:
            for _ in range(count):
                group.create_task(worker())
    return results  # type: ignore[return-value]  # every slot was filled by a worker
