"""The pieces under the HTTP/2 client: its error types, responses, and h2 as we drive it.

:class:`ClientState` is ``h2``'s connection state machine with the configuration
and the two corrections the push client needs (see its docstring). The errors
tell a caller what happened to a request that got no answer:

* :class:`Unprocessed` — the server did not process it (refused stream, above the
  ``last_stream_id`` of a GOAWAY, or never sent): safe to send again elsewhere;
* :class:`StreamFailed` — sent, but the connection died: it may have arrived;
* :class:`RequestTimeout` — no answer in time (the stream is reset);
* :class:`ConnectFailed` — no connection at all.

Example::

    >>> state = ClientState()
    >>> state.initiate_connection()
    >>> state.data_to_send()[:24]
    b'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h2.config
import h2.connection
import h2.events

Headers = list[tuple[bytes, bytes]]


class H2Error(Exception):
    """Base of the transport's failures (never leaves the push package)."""


class Unprocessed(H2Error):
    """The server did not process the request; it may be sent again."""


class StreamFailed(H2Error):
    """The request was sent but no answer came back (connection lost, reset)."""


class RequestTimeout(H2Error):
    """No complete answer within the request timeout."""


class ConnectFailed(H2Error):
    """The TCP/TLS connection or the HTTP/2 preface failed."""


class ClientState(h2.connection.H2Connection):
    """h2's client state machine, configured for speed, with two corrections.

    **Open-stream count.** h2 counts open streams by walking every stream it knows
    each time one opens: quadratic in the concurrency, and most of the CPU of a batch
    at 1000 streams. The client never opens a stream beyond the server's limit (it
    keeps its own count and sets ``outbound_open``), so h2 gets that count and walks
    — which also forgets closed streams — only once every 256 new streams.

    **GOAWAY.** h2 moves the connection to CLOSED on GOAWAY and then refuses the frames
    of the streams at or below ``last_stream_id``, which the server still completes
    (RFC 9113 §6.8; httpcore#46). It does so frame by frame inside ``receive_data``,
    before the event is seen, so the state is restored as the frame is read. No new
    stream is opened after a GOAWAY: H2Connection stops using the connection.
    """

    def __init__(self) -> None:
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            # Our headers are built from validated config and sanitised keys; skipping
            # h2's per-header checks is a large part of the per-request cost.
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
        )
        super().__init__(config=config)
        self.outbound_open = 0
        self._until_walk = 0

    @property
    def open_outbound_streams(self) -> int:
        self._until_walk -= 1
        if self._until_walk <= 0:
            self._until_walk = 256
            return self._open_streams(1)
        return self.outbound_open

    def _receive_goaway_frame(self, frame: Any) -> tuple[list[Any], list[h2.events.Event]]:
        frames, events = super()._receive_goaway_frame(frame)
        self.state_machine.state = h2.connection.ConnectionState.CLIENT_OPEN
        return frames, events


@dataclass(slots=True)
class H2Response:
    """A complete answer: status, headers (lower-case bytes), body."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes
