"""The SSH connection of the SFTP server: asyncssh's, with less work per packet.

An upload of 1 GiB is some 25,000 SSH packets from the client and 4,000 replies;
on one event-loop thread the per-packet work of asyncssh is what limits the
throughput (``bench/RESULTS.md``, decision 0301). :class:`FtpushServerConnection`
is asyncssh's own ``SSHServerConnection`` with two changes that keep the
protocol, the checks and the cryptography exactly as they are:

* **No IGNORE packet before each packet under AEAD ciphers.** asyncssh sends an
  empty ``SSH_MSG_IGNORE`` in front of every packet it sends after the key
  exchange. That is the countermeasure of RFC 4251 §9.3.1 against the
  chosen-plaintext attack on CBC mode, where the IV of the next packet is the
  last cipher block of the previous one and so known to an observer. With
  ``aes*-gcm@openssh.com`` (a fresh nonce from a packet counter) and
  ``chacha20-poly1305@openssh.com`` (a key stream per sequence number) there is
  no chained IV to exploit, and OpenSSH does not send them either. Under any
  other cipher (CBC, CTR, ...) the packets are sent exactly as asyncssh does.
  An empty IGNORE carries nothing: dropping it changes no byte the client acts on.
* **The input buffer is consumed without copying.** asyncssh keeps the bytes
  received in ``_inpbuf`` and drops each consumed part with
  ``self._inpbuf = self._inpbuf[n:]``, which copies everything still buffered
  — twice per packet, with up to 256 KiB buffered. :class:`InputBuffer` serves
  the same operations (``+=``, ``len``, ``find``, slices) and makes a slice that
  runs to the end a view (an offset) instead of a copy.

Both rely on asyncssh internals; asyncssh is pinned (``pyproject.toml``) and
``tests/unit/intake/test_sftp_transport.py`` checks the internals relied on.

asyncssh has no setting for the connection class, so :func:`listen` starts
the listener the way ``asyncssh.listen`` does, with this class.

Example::

    acceptor = await listen("127.0.0.1", 0, server_factory=lambda: SshLogin(hub), ...)
    acceptor.get_port()
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, SupportsIndex, overload

import asyncssh
from asyncssh.constants import MSG_IGNORE
from asyncssh.encryption import ChachaEncryption, GCMEncryption
from asyncssh.packet import String

# The packet asyncssh inserts: SSH_MSG_IGNORE with an empty string.
_EMPTY_IGNORE = (String(b""),)
# Ciphers that need no IGNORE packets: AEAD, no chained IV (see the module docstring).
_AEAD = (GCMEncryption, ChachaEncryption)


class InputBuffer:
    """Received bytes, of which a prefix may already be consumed.

    Behaves as the ``bytes`` asyncssh keeps there for the operations it uses.
    ``buf[n:]`` is a view sharing the data (no copy); a slice with an end is a
    copy of just that part, as ``bytes``. Appending copies the unconsumed rest
    once (nothing when all was consumed).

    >>> buf = InputBuffer() + b"SSH-2.0-x\\r\\nabcdef"
    >>> buf.find(b"\\n", 0, 255), buf[:9], len(buf[12:]), bytes(buf[12:][2:])
    (10, b'SSH-2.0-x', 6, b'cdef')
    """

    __slots__ = ("_data", "_start")

    def __init__(self, data: bytes = b"", start: int = 0) -> None:
        self._data = data
        self._start = start

    def __len__(self) -> int:
        return len(self._data) - self._start

    def __bool__(self) -> bool:
        return len(self._data) > self._start

    def __bytes__(self) -> bytes:
        return self._data[self._start :]

    def __repr__(self) -> str:
        return f"InputBuffer({len(self)} bytes)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, InputBuffer):
            other = bytes(other)
        return isinstance(other, bytes) and bytes(self) == other

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like bytearray

    def __add__(self, more: bytes) -> InputBuffer:
        if self._start == len(self._data):
            return InputBuffer(bytes(more))
        return InputBuffer(self._data[self._start :] + more)

    __iadd__ = __add__

    def find(self, sub: bytes, start: SupportsIndex = 0, end: SupportsIndex | None = None) -> int:
        lo = self._offset(start)
        hi = len(self._data) if end is None else self._offset(end)
        found = self._data.find(sub, lo, hi)
        return found if found < 0 else found - self._start

    def _offset(self, index: SupportsIndex) -> int:
        i = index.__index__()
        if i < 0:
            raise IndexError("negative indexes are not supported")
        return min(self._start + i, len(self._data))

    @overload
    def __getitem__(self, key: SupportsIndex) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes | InputBuffer: ...

    def __getitem__(self, key: SupportsIndex | slice) -> int | bytes | InputBuffer:
        if not isinstance(key, slice):
            i = key.__index__()
            if not 0 <= i < len(self):
                raise IndexError("index out of range")
            return self._data[self._start + i]
        if key.step is not None:
            raise ValueError("steps are not supported")
        lo = self._offset(0 if key.start is None else key.start)
        if key.stop is None:
            return InputBuffer(self._data, lo)
        return self._data[lo : max(lo, self._offset(key.stop))]


class FtpushServerConnection(asyncssh.SSHServerConnection):
    """asyncssh's server connection without its per-packet overheads (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inpbuf = InputBuffer()  # type: ignore[assignment]

    def send_packet(self, pkttype: int, *args: bytes, handler: Any = None) -> None:
        if (
            pkttype == MSG_IGNORE
            and args == _EMPTY_IGNORE
            and isinstance(self._send_encryption, _AEAD)
        ):
            return  # asyncssh's CBC countermeasure; nothing to counter under AEAD
        super().send_packet(pkttype, *args, handler=handler)


async def listen(host: str, port: int, **kwargs: Any) -> asyncssh.SSHAcceptor:
    """``asyncssh.listen(host, port, **kwargs)``, with :class:`FtpushServerConnection`.

    What ``asyncssh.listen`` does for a plain TCP listener (no tunnel, no socket
    passed in), with the same defaults.
    """
    loop = asyncio.get_running_loop()
    options = await asyncssh.SSHServerConnectionOptions.construct(
        None, config=(), host=host, port=port, tunnel=(), family=(), **kwargs
    )
    options.proxy_command = None

    def connection() -> FtpushServerConnection:
        return FtpushServerConnection(loop, options, None, None)

    server = await loop.create_server(
        connection, host, port, family=options.family, flags=socket.AI_PASSIVE, backlog=100
    )
    return asyncssh.SSHAcceptor(server, options)
