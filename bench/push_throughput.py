"""Messages/s through ``ApnsProvider`` vs a minimal raw-``h2`` client, same peer, same run.

Both clients talk to the same Node push peer (``tests/peers/push_peer.js``) over the
same TLS, one HTTP/2 connection each, with the same number of concurrent streams
(the peer's ``SETTINGS_MAX_CONCURRENT_STREAMS``). The raw client is what a
hand-written sender would be: one asyncio protocol, pre-built headers and body,
a window of N streams kept full, nothing else — no JSON per message, no outcome
objects, no classification, no retries. The ratio ours/raw is the cost of the
provider's bookkeeping (goal: >= 0.7).

Run::

    .venv/bin/python bench/push_throughput.py --messages 30000 --streams 100

Rounds alternate raw/ours and the best of each is reported, so a noisy neighbour
on a shared machine hurts both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.events

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.peers.push_peer import running_push_peer

from ftpush.models import Platform
from ftpush.push import PushMessage, make_provider
from ftpush.push._checks import load_ec_p256
from ftpush.push._pool import split_origin, tls_context
from ftpush.push.apns import sign_provider_token


class RawClient(asyncio.Protocol):
    """The baseline: plain h2, a window of ``streams`` requests in flight."""

    def __init__(self, total: int, streams: int, headers: list, body: bytes) -> None:
        # The same h2 settings as the provider (no per-header validation): the baseline
        # should be the fastest plain use of the library, not a handicapped one.
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False,
            normalize_outbound_headers=False, validate_inbound_headers=False,
        )  # fmt: skip
        self.conn = h2.connection.H2Connection(config)
        self.total, self.streams = total, streams
        self.pseudo, self.headers = headers[:3], headers[3:]
        self.body = body
        self.started = self.ok = self.done = 0
        self.ready = asyncio.get_running_loop().create_future()
        self.finished = asyncio.get_running_loop().create_future()
        self.status: dict[int, int] = {}

    def connection_made(self, transport):
        self.transport = transport
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def start(self) -> None:
        while self.started < self.total and self.started - self.done < self.streams:
            if self.conn.outbound_flow_control_window < len(self.body):
                break  # the connection window is spent: wait for the peer's WINDOW_UPDATE
            sid = self.conn.get_next_available_stream_id()
            i = self.started
            self.started += 1
            headers = [
                *self.pseudo,
                (b":path", b"/3/device/tok%d" % i),
                *self.headers,
                (b"apns-collapse-id", b"raw:%d" % i),
            ]
            self.conn.send_headers(sid, headers)
            self.conn.send_data(sid, self.body, end_stream=True)
        self.transport.write(self.conn.data_to_send())

    def data_received(self, data):
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged) and not self.ready.done():
                self.ready.set_result(None)
            elif isinstance(event, h2.events.ResponseReceived):
                self.status[event.stream_id] = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.done += 1
                self.ok += self.status.pop(event.stream_id) == 200
        if self.done == self.total and not self.finished.done():
            self.finished.set_result(None)
        self.start() if self.ready.done() else self.transport.write(self.conn.data_to_send())


async def run_raw(peer, settings: dict, total: int, streams: int) -> tuple[float, int]:
    host, port, authority = split_origin(peer.url)
    jwt = sign_provider_token(
        load_ec_p256(settings["private_key"]), settings["key_id"], settings["team_id"],
        int(time.time()),
    )  # fmt: skip
    headers = [
        (b":method", b"POST"), (b":scheme", b"https"), (b":authority", authority),
        (b"authorization", b"bearer " + jwt.encode()),
        (b"apns-topic", settings["topic"].encode()), (b"apns-push-type", b"alert"),
        (b"apns-priority", b"10"),
    ]  # fmt: skip
    body = b'{"aps":{"alert":{"body":"hello there"}},"campaign":"bench"}'
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_connection(
        lambda: RawClient(total, streams, headers, body), host, port,
        ssl=tls_context(peer.ca_file),
    )  # fmt: skip
    await client.ready
    start = time.perf_counter()
    client.start()
    await client.finished
    elapsed = time.perf_counter() - start
    transport.close()
    await asyncio.sleep(0.05)
    return total / elapsed, client.ok


async def run_ours(peer, settings: dict, total: int, batch: int) -> tuple[float, int]:
    provider = make_provider("apns", settings, verify=peer.ca_file)
    messages = [
        PushMessage(i, f"bench:{i}:1", f"tok{i}", Platform.IOS, "hello there", None, "bench")
        for i in range(total)
    ]
    warm_up = PushMessage(-1, "bench:warm-up", "tokw", Platform.IOS, "hi", None, "bench")
    await provider.send([warm_up])  # connect first, as the raw client does
    start = time.perf_counter()
    ok = 0
    for offset in range(0, total, batch):
        outcomes = await provider.send(messages[offset : offset + batch])
        ok += sum(o.kind == "sent" for o in outcomes)
    elapsed = time.perf_counter() - start
    await provider.aclose()
    return total / elapsed, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--streams", type=int, default=100, help="concurrent streams (both)")
    parser.add_argument("--batch", type=int, default=0, help="send() batch size (0: all)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    batch = args.batch or args.messages
    raw_rates, our_rates = [], []
    with running_push_peer(maxConcurrentStreams=args.streams) as peer:
        settings = peer.apns_settings(max_in_flight=max(args.streams, 1))
        for round_no in range(1, args.rounds + 1):
            peer.reset()
            raw, raw_ok = asyncio.run(run_raw(peer, settings, args.messages, args.streams))
            ours, our_ok = asyncio.run(run_ours(peer, settings, args.messages, batch))
            stats = peer.stats()
            assert raw_ok == our_ok == args.messages, (raw_ok, our_ok)
            assert stats["deliveries"] == 2 * args.messages + 1, stats
            assert stats["duplicates"] == 0, stats
            assert not stats["errors"], stats
            raw_rates.append(raw)
            our_rates.append(ours)
            print(f"round {round_no}: raw h2 {raw:8.0f} msg/s   ApnsProvider {ours:8.0f} msg/s")
    best_raw, best_ours = max(raw_rates), max(our_rates)
    print(
        f"messages={args.messages} streams={args.streams} batch={batch} rounds={args.rounds}\n"
        f"raw h2 best {best_raw:.0f} msg/s (median {statistics.median(raw_rates):.0f})\n"
        f"ApnsProvider best {best_ours:.0f} msg/s (median {statistics.median(our_rates):.0f})\n"
        f"ratio {best_ours / best_raw:.2f} (goal >= 0.70)"
    )


if __name__ == "__main__":
    main()
