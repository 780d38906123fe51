"""Fuzz both parsers: whatever the bytes, rows and line errors come out, or a file error.

Two and a half thousand inputs per parser (raw bytes, and text built from the characters
the formats care about), in small limits so that line-length and column bounds
are exercised too. Nothing but a :class:`~ftpush.errors.FileRejected` may escape.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftpush.errors import FileRejected
from ftpush.formats import LineError, ProfileRow, PushRow, parse_profile, parse_push
from ftpush.models import AttributeType as T

FUZZ = settings(max_examples=1250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECLARED = {
    "s": T.STRING,
    "i": T.INTEGER,
    "d": T.DATETIME,
    "l": T.NUMBER_ARRAY,
    "Some Name": T.BOOLEAN,
}

pieces = st.sampled_from(
    [
        ";",
        "~",
        "~~~",
        '"',
        '""',
        "\\",
        "\\n",
        "\n",
        "\r\n",
        "\r",
        "\x00",
        "\ufeff",
        "[",
        "]",
        "null",
        "true",
        "1",
        "-9",
        "4.5",
        "2024-01-01",
        "2024-01-01T10:00",
        "a@b.co",
        "+905551234567",
        "https://x.y",
        "myapp:",
        " ",
        "é",
        "你",
        "\U0001f600",
        "extID",
        "email",
        "device token",
        "deviceToken",
        "msisdn",
        "s",
        "i",
        "d",
        "l",
        "Some Name",
        "ExternalID;Text;Deeplink",
    ]
)
texts = st.lists(pieces, max_size=40).map("".join)
chunkings = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=5)


def chunked(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos, i = [], 0, 0
    while pos < len(data):
        size = sizes[i % len(sizes)]
        out.append(data[pos : pos + size])
        pos += size
        i += 1
    return out


def check_push(chunks: list[bytes], limit: int) -> None:
    try:
        items = list(parse_push(chunks, max_line_bytes=limit, max_payload_bytes=200))
    except FileRejected:
        return
    assert all(isinstance(i, PushRow | LineError) for i in items)
    assert [i.line for i in items] == sorted({i.line for i in items})


def check_profile(chunks: list[bytes], limit: int) -> None:
    try:
        items = list(parse_profile(chunks, DECLARED, max_line_bytes=limit, max_columns=12))
    except FileRejected:
        return
    assert all(isinstance(i, ProfileRow | LineError) for i in items)
    assert [i.line for i in items] == sorted({i.line for i in items})


@FUZZ
@given(data=st.binary(max_size=400), sizes=chunkings, limit=st.integers(1, 300))
def test_push_parser_survives_any_bytes(data: bytes, sizes: list[int], limit: int) -> None:
    check_push(chunked(data, sizes), limit)


@FUZZ
@given(text=texts, sizes=chunkings, limit=st.integers(1, 300))
def test_push_parser_survives_any_text(text: str, sizes: list[int], limit: int) -> None:
    check_push(chunked(text.encode("utf-8", "surrogatepass"), sizes), limit)


@FUZZ
@given(data=st.binary(max_size=400), sizes=chunkings, limit=st.integers(1, 300))
def test_profile_parser_survives_any_bytes(data: bytes, sizes: list[int], limit: int) -> None:
    check_profile(chunked(b"~~~extID~email~device token~s~i\n" + data, sizes), limit)


@FUZZ
@given(text=texts, sizes=chunkings, limit=st.integers(1, 300))
def test_profile_parser_survives_any_text(text: str, sizes: list[int], limit: int) -> None:
    check_profile(chunked(text.encode("utf-8", "surrogatepass"), sizes), limit)
