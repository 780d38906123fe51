"""The input buffer of the SSH connection behaves as the ``bytes`` asyncssh keeps there."""

from __future__ import annotations

import random

import pytest

from ftpush.intake.sftp_transport import InputBuffer


def test_the_buffer_follows_bytes_through_asyncssh_s_operations() -> None:
    # The operations of asyncssh's receive path, at random, on bytes and on the buffer.
    rng = random.Random(4)
    plain = b""
    ours = InputBuffer()
    for _ in range(5000):
        op = rng.randrange(5)
        if op == 0:
            more = rng.randbytes(rng.randrange(0, 300))
            plain += more
            ours += more
        elif op == 1 and plain:
            n = rng.randrange(0, len(plain) + 20)
            plain, ours = plain[n:], ours[n:]  # type: ignore[assignment]
        elif op == 2:
            a = rng.randrange(0, len(plain) + 5)
            b = rng.randrange(a, len(plain) + 10)
            part = ours[a:b]
            assert isinstance(part, bytes)
            assert part == plain[a:b]
            assert ours[:b] == plain[:b]
        elif op == 3:
            sub = bytes([rng.randrange(256)])
            hi = rng.randrange(0, len(plain) + 5)
            assert ours.find(sub, 0, hi) == plain.find(sub, 0, hi)
        else:
            assert len(ours) == len(plain)
            assert bool(ours) is bool(plain)
            assert bytes(ours) == plain
            assert ours == plain
            if plain:
                i = rng.randrange(len(plain))
                assert ours[i] == plain[i]


def test_consuming_shares_the_data_and_appending_copies_only_the_rest() -> None:
    data = bytes(range(256)) * 1024
    buf = InputBuffer(data)
    rest = buf[100_000:]
    assert isinstance(rest, InputBuffer)
    assert len(rest) == len(data) - 100_000
    assert rest[:3] == data[100_000:100_003]
    empty = buf[len(data) :]
    assert not empty
    fresh = b"x" * 10
    assert bytes(empty + fresh) == fresh  # nothing left: the new data as it came


def test_what_asyncssh_never_does_fails_loudly() -> None:
    buf = InputBuffer(b"abcdef")
    with pytest.raises(IndexError):
        buf[-2:]
    with pytest.raises(ValueError, match="steps"):
        buf[::2]
    with pytest.raises(IndexError):
        buf[6]
    with pytest.raises(TypeError):
        hash(buf)
