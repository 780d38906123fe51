"""SFTP requests cut out of channel data: any split, in order, paused and ended like a reader."""

from __future__ import annotations

import asyncio
import random

import pytest
from asyncssh.sftp import MAX_SFTP_PACKET_LEN, SFTPBadMessage

from ftpush.intake.sftp_input import SftpInput


def framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


class Flow:
    def __init__(self) -> None:
        self.events: list[str] = []

    def make(self, limit: int = 1 << 30) -> SftpInput:
        return SftpInput(
            limit, lambda: self.events.append("pause"), lambda: self.events.append("resume")
        )


def test_packets_come_out_whole_and_in_order_whatever_the_split() -> None:
    rng = random.Random(7)
    payloads = [rng.randbytes(rng.choice([0, 1, 5, 300, 40_000, 262_000])) for _ in range(60)]
    stream = b"".join(framed(p) for p in payloads)

    async def scenario() -> list[bytes]:
        requests = Flow().make()
        got: list[bytes] = []

        async def reader() -> None:
            for _ in payloads:
                got.append(await requests.next())

        task = asyncio.create_task(reader())
        pos = 0
        while pos < len(stream):
            size = rng.choice([1, 3, 4, 5, 1000, 32_768, 65_536, 300_000])
            requests.feed(stream[pos : pos + size])
            pos += size
            if rng.random() < 0.3:
                await asyncio.sleep(0)
        await asyncio.wait_for(task, 5)
        return got

    assert asyncio.run(scenario()) == payloads


def test_a_packet_over_the_limit_ends_the_input_after_the_packets_before_it() -> None:
    async def scenario() -> None:
        requests = Flow().make()
        requests.feed(framed(b"first") + (MAX_SFTP_PACKET_LEN + 1).to_bytes(4, "big") + b"x")
        requests.feed(framed(b"never"))
        assert await requests.next() == b"first"
        with pytest.raises(SFTPBadMessage, match="Max packet size"):
            await requests.next()
        with pytest.raises(SFTPBadMessage):
            await requests.next()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("tail", "exc", "raised"),
    [
        (b"", None, asyncio.IncompleteReadError),  # clean end between packets
        (b"", ConnectionResetError("gone"), ConnectionResetError),  # lost between packets
        (b"\x00\x00", None, asyncio.IncompleteReadError),  # a length cut off
        (framed(b"abcdef")[:7], ConnectionResetError("gone"), asyncio.IncompleteReadError),
    ],
)
def test_the_end_is_raised_after_the_last_whole_packet(
    tail: bytes, exc: BaseException | None, raised: type[BaseException]
) -> None:
    async def scenario() -> None:
        requests = Flow().make()
        waiter = asyncio.create_task(requests.next())
        await asyncio.sleep(0)
        requests.feed(framed(b"whole") + tail)
        assert await waiter == b"whole"
        pending = asyncio.create_task(requests.next())
        await asyncio.sleep(0)
        requests.end(exc)
        requests.end(None)  # a second end (connection_lost after EOF) changes nothing
        with pytest.raises(raised):
            await pending
        requests.feed(framed(b"late"))  # nothing is read after the end
        with pytest.raises(raised):
            await requests.next()

    asyncio.run(scenario())


def test_the_channel_is_paused_while_a_window_waits_and_resumed_when_taken() -> None:
    async def scenario() -> list[str]:
        flow = Flow()
        requests = flow.make(limit=1000)
        for _ in range(3):
            requests.feed(framed(b"x" * 400))
        assert flow.events == ["pause"]  # 1212 bytes waiting
        requests.feed(framed(b"y"))
        assert flow.events == ["pause"]
        await requests.next()  # 808 + 5 waiting
        assert flow.events == ["pause", "resume"]
        await requests.next()
        return flow.events

    assert asyncio.run(scenario()) == ["pause", "resume"]
