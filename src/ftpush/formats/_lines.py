"""Bytes in, bounded blocks of decoded lines out: the shared front end of both parsers.

:func:`iter_blocks` turns an iterable of raw byte chunks (any sizes, split
anywhere) into :class:`Block` objects holding consecutive decoded lines, and
:class:`LineFault` objects for lines that cannot be read at all. Blocks are
emitted in file order, faults in their place between them, so a parser that
walks them sees every line once, in order.

Rules applied here, before any format-specific parsing:

* a leading UTF-8 BOM is dropped; a UTF-16/UTF-32 BOM is a whole-file
  :class:`~ftpush.errors.NotUtf8` at offset 0;
* lines end with ``\\n``; one ``\\r`` before it is dropped (CRLF); a ``\\r``
  anywhere else is a ``bare_carriage_return`` fault;
* a line longer than ``max_line_bytes`` (UTF-8 bytes, its ``\\n`` excluded)
  is a ``line_too_long`` fault; its bytes are skipped without being stored,
  so memory stays bounded by ``max_line_bytes`` whatever the input;
* a line holding U+0000 is a ``nul_byte`` fault;
* bytes that are not UTF-8 raise :class:`~ftpush.errors.NotUtf8` with the
  byte offset and line of the first bad byte. Lines skipped as too long are
  never decoded, so bad bytes inside them are not reported.

Example::

    >>> for item in iter_blocks([b"\\xef\\xbb\\xbfa\\r\\nb", b"c\\n\\x00\\n"]):
    ...     print(item)
    Block(first_line=1, lines=['a'], text='a')
    Block(first_line=2, lines=['bc'], text='bc')
    LineFault(line=3, code='nul_byte', message='the line holds a NUL byte (is the file UTF-16?)')
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ftpush.errors import NotUtf8

DEFAULT_MAX_LINE_BYTES = 1 << 20
_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


@dataclass(slots=True, frozen=True)
class Block:
    """Consecutive lines starting at 1-based line number ``first_line``.

    ``text`` is the lines joined with ``\\n``: parsers test it once per block
    (``'"' in block.text``) to skip per-line work that cannot apply.
    """

    first_line: int
    lines: list[str]
    text: str


@dataclass(slots=True, frozen=True)
class LineFault:
    """A line that cannot be parsed at all (too long, NUL, stray CR)."""

    line: int
    code: str
    message: str


def iter_blocks(
    chunks: Iterable[bytes | str], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Block | LineFault]:
    """Split raw chunks into decoded line blocks and faults (see the module doc).

    ``str`` chunks are accepted for convenience and encoded to UTF-8 first
    (lone surrogates then surface as :class:`NotUtf8`, like bad bytes would).
    """
    if max_line_bytes < 1:
        raise ValueError("max_line_bytes must be at least 1")
    limit = max_line_bytes
    pending = bytearray()  # the current, incomplete line; never longer than limit
    offset = 0  # file offset of pending[0] (or of the next byte while skipping)
    line_no = 1  # 1-based number of the line in `pending`
    skipping = False  # inside a line already reported as too long
    for raw in _raw_chunks(chunks):
        # Slicing to `limit` bytes bounds every decoded block to 2 * limit bytes and
        # means only a block's first line can be over the limit (checked below).
        for start in range(0, len(raw), limit):
            piece = raw[start : start + limit]
            if skipping:
                nl = piece.find(b"\n")
                if nl < 0:
                    offset += len(piece)
                    continue
                skipping = False
                offset += nl + 1
                line_no += 1
                piece = piece[nl + 1 :]
            last_nl = piece.rfind(b"\n")
            if last_nl < 0:
                pending += piece
                if len(pending) > limit:
                    yield _too_long(line_no, limit)
                    offset += len(pending)
                    pending.clear()
                    skipping = True
                continue
            first_nl = piece.find(b"\n")
            if len(pending) + first_nl > limit:
                yield _too_long(line_no, limit)
                offset += len(pending) + first_nl + 1
                line_no += 1
                pending.clear()
                data = piece[first_nl + 1 : last_nl]
                has_lines = first_nl != last_nl
            else:
                pending += piece[:last_nl]
                data = bytes(pending)
                has_lines = True
            if has_lines:
                yield from _decode_block(data, offset, line_no, first=offset == 0)
                line_no += data.count(b"\n") + 1
                offset += len(data) + 1
            pending.clear()
            pending += piece[last_nl + 1 :]
    if pending and not skipping:
        yield from _decode_block(bytes(pending), offset, line_no, first=offset == 0)


def _raw_chunks(chunks: Iterable[bytes | str]) -> Iterator[bytes]:
    """Non-empty byte chunks; the first is checked for a UTF-16/32 byte order mark."""
    head = b""
    iterator = iter(chunks)
    for chunk in iterator:
        head += chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else chunk
        if len(head) >= 4:
            break
    _check_foreign_bom(head)
    if head:
        yield head
    for chunk in iterator:
        if chunk:
            yield chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else chunk


def _check_foreign_bom(head: bytes) -> None:
    if head.startswith(_UTF16_32_BOMS):
        raise NotUtf8(
            "the file is not UTF-8: it starts with a UTF-16/UTF-32 byte order mark; "
            "save it as UTF-8",
            offset=0,
            line=1,
        )


def _too_long(line_no: int, limit: int) -> LineFault:
    return LineFault(line_no, "line_too_long", f"the line is longer than {limit} bytes")


def _decode_block(
    data: bytes, offset: int, line_no: int, *, first: bool
) -> Iterator[Block | LineFault]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = line_no + data.count(b"\n", 0, exc.start)
        raise NotUtf8(
            f"the file is not UTF-8: byte 0x{data[exc.start]:02x} at offset "
            f"{offset + exc.start} (line {bad_line}) cannot be decoded; save the file as UTF-8",
            offset=offset + exc.start,
            line=bad_line,
        ) from None
    if first and text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        # CRLF endings become LF in one C-speed pass; the block's last line lost its
        # "\n" to the split above, so its CR is dropped separately.
        text = text.replace("\r\n", "\n")
        if text.endswith("\r"):
            text = text[:-1]
    lines = text.split("\n")
    if "\r" not in text and "\x00" not in text:
        yield Block(line_no, lines, text)
        return
    yield from _split_faults(line_no, lines)


def _split_faults(line_no: int, lines: list[str]) -> Iterator[Block | LineFault]:
    # Slow path, only for the rare blocks that hold a NUL or a CR not ending a line.
    clean: list[str] = []
    first = line_no
    for number, line in enumerate(lines, line_no):
        if "\x00" in line:
            fault = LineFault(number, "nul_byte", "the line holds a NUL byte (is the file UTF-16?)")
        elif "\r" in line:
            fault = LineFault(
                number,
                "bare_carriage_return",
                "the line holds a carriage return that does not end it; "
                "lines must end with LF or CRLF",
            )
        else:
            clean.append(line)
            continue
        if clean:
            yield Block(first, clean, "\n".join(clean))
            clean = []
        yield fault
        first = number + 1
    if clean:
        yield Block(first, clean, "\n".join(clean))
