"""The shared front end: bytes → decoded line blocks, bounded, with per-line faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftpush.errors import NotUtf8
from ftpush.formats._lines import Block, LineFault, iter_blocks


def flatten(items: list[Block | LineFault]) -> list[tuple[int, str]]:
    """(line number, text or 'fault:<code>') for every line the splitter reports."""
    out: list[tuple[int, str]] = []
    for item in items:
        if isinstance(item, LineFault):
            out.append((item.line, f"fault:{item.code}"))
        else:
            out.extend(enumerate(item.lines, item.first_line))
    return out


def lines_of(data: bytes, **kwargs: int) -> list[tuple[int, str]]:
    return flatten(list(iter_blocks([data], **kwargs)))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"a\nb\n", [(1, "a"), (2, "b")], id="lf"),
        pytest.param(b"a\r\nb\r\n", [(1, "a"), (2, "b")], id="crlf"),
        pytest.param(b"a\r\nb\nc\r\n", [(1, "a"), (2, "b"), (3, "c")], id="mixed-endings"),
        pytest.param(b"a\nb", [(1, "a"), (2, "b")], id="no-final-newline"),
        pytest.param(b"a\r", [(1, "a")], id="final-cr-at-eof"),
        pytest.param(b"\xef\xbb\xbfa\n", [(1, "a")], id="bom-dropped"),
        pytest.param(b"a\n\xef\xbb\xbfb\n", [(1, "a"), (2, "\ufeffb")], id="bom-only-at-start"),
        pytest.param(b"a\n\nb\n", [(1, "a"), (2, ""), (3, "b")], id="empty-line-kept"),
        pytest.param(b"a\x00b\nc\n", [(1, "fault:nul_byte"), (2, "c")], id="nul"),
        pytest.param(b"a\rb\nc\n", [(1, "fault:bare_carriage_return"), (2, "c")], id="bare-cr"),
        pytest.param(b"a\rb\rc", [(1, "fault:bare_carriage_return")], id="old-mac-endings"),
        pytest.param(b"", [], id="empty"),
        pytest.param(b"\n", [(1, "")], id="one-newline"),
        pytest.param("é\u2028x\n".encode(), [(1, "é\u2028x")], id="unicode-line-separator-is-text"),
    ],
)
def test_lines(data: bytes, expected: list[tuple[int, str]]) -> None:
    assert lines_of(data) == expected


@pytest.mark.parametrize(
    ("data", "limit", "expected"),
    [
        pytest.param(b"abc\nabcd\nab\n", 3, [(1, "abc"), (2, "fault:line_too_long"), (3, "ab")]),
        pytest.param(b"abcd", 3, [(1, "fault:line_too_long")], id="last-line-too-long"),
        pytest.param(b"abc\r\n", 3, [(1, "fault:line_too_long")], id="cr-counts"),
        pytest.param(b"\xc3\xa9\xc3\xa9\n", 3, [(1, "fault:line_too_long")], id="bytes-not-chars"),
        pytest.param(b"x" * 50 + b"\nok\n", 8, [(1, "fault:line_too_long"), (2, "ok")]),
    ],
)
def test_line_length_limit(data: bytes, limit: int, expected: list[tuple[int, str]]) -> None:
    assert lines_of(data, max_line_bytes=limit) == expected
    one_byte_chunks = [data[i : i + 1] for i in range(len(data))]
    assert flatten(list(iter_blocks(one_byte_chunks, max_line_bytes=limit))) == expected


def test_a_100_mb_line_is_skipped_in_bounded_memory() -> None:
    # The line is streamed, never built: the splitter holds at most a limit's worth.
    def chunks() -> Iterator[bytes]:
        yield b"first\n"
        for _ in range(100):
            yield b"x" * (1 << 20)
        yield b"\nlast\n"

    items = list(iter_blocks(chunks(), max_line_bytes=1 << 20))
    assert flatten(items) == [(1, "first"), (2, "fault:line_too_long"), (3, "last")]


@pytest.mark.parametrize(
    ("data", "offset", "line"),
    [
        pytest.param(b"ok\n\xff\n", 3, 2, id="bad-start-byte"),
        pytest.param(b"ab\ncd\xc3(\n", 5, 2, id="truncated-sequence"),
        pytest.param(b"\xed\xa0\x80\n", 0, 1, id="encoded-surrogate"),
        pytest.param(b"\xff\xfea\x00\n\x00", 0, 1, id="utf16-le-bom"),
        pytest.param(b"\xfe\xff\x00a", 0, 1, id="utf16-be-bom"),
        pytest.param(b"\xc0\xaf", 0, 1, id="overlong-encoding"),
    ],
)
def test_not_utf8_gives_offset_and_line(data: bytes, offset: int, line: int) -> None:
    with pytest.raises(NotUtf8) as caught:
        list(iter_blocks([data]))
    assert (caught.value.offset, caught.value.line) == (offset, line)
    assert caught.value.code == "not_utf8"


def test_offset_counts_bytes_across_chunks() -> None:
    chunks = [b"\xef\xbb\xbf", "héllo\n".encode(), b"w\xc3\xb6rld", b"\n\x80"]
    with pytest.raises(NotUtf8) as caught:
        list(iter_blocks(chunks))
    assert caught.value.offset == 3 + 7 + 6 + 1  # BOM, "héllo\n", "wörld", "\n"
    assert caught.value.line == 3


def test_str_chunks_are_encoded() -> None:
    assert flatten(list(iter_blocks(["a\nb", "c\n"]))) == [(1, "a"), (2, "bc")]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        list(iter_blocks([b"a"], max_line_bytes=0))


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=200).map(lambda b: b.replace(b"\xff", b"\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=10),
    limit=st.integers(min_value=1, max_value=40),
)
def test_chunking_never_changes_the_result(data: bytes, cuts: list[int], limit: int) -> None:
    def outcome(chunks: list[bytes]) -> object:
        try:
            return flatten(list(iter_blocks(chunks, max_line_bytes=limit)))
        except NotUtf8 as exc:
            return ("not_utf8", exc.offset, exc.line)

    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert outcome(pieces) == outcome([data])
