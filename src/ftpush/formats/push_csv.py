"""Push files (SPEC §3): ``ExternalID;Text;Deeplink`` lines, parsed and written.

:func:`parse_push` reads raw byte chunks and yields, in line order, a
:class:`PushRow` for every accepted line and a
:class:`~ftpush.formats.base.LineError` for every rejected one; it never
raises for a bad line. Whole-file problems raise
:class:`~ftpush.errors.NotUtf8` or :class:`~ftpush.errors.EmptyFile` (a
whole-file error can come after rows were yielded: callers that must apply
nothing then validate the file in a first pass). :func:`write_push_csv` (in
``push_writer``, re-exported here) is the inverse. Rules: ``docs/formats.md``.

Example::

    >>> data = b"ExternalID;Text;Deeplink\\n42;Hi; there\\\\nfriend;myapp://home\\n42;again;\\n"
    >>> rows = list(parse_push([data]))
    >>> rows[0]
    PushRow(line=2, external_id='42', text='Hi; there\\nfriend', deeplink='myapp://home')
    >>> rows[1].code, rows[1].line
    ('duplicate_external_id', 3)
    >>> "".join(write_push_csv([("42", 'a "b" c', None)]))
    '42;"a ""b"" c";\\n'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import chain, count, repeat
from operator import itemgetter
from typing import cast

from ftpush.errors import EmptyFile
from ftpush.formats import _accel
from ftpush.formats._idset import FingerprintSet, SeenIds
from ftpush.formats._lines import DEFAULT_MAX_LINE_BYTES, LineFault, iter_blocks
from ftpush.formats.base import MAX_EXTERNAL_ID_CHARS, LineError, PushRow
from ftpush.formats.deeplinks import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    LINK_HEAD,
    MAX_CHAR_BYTES,
    MAX_LINK_PREFIXES,
    PAYLOAD_OVERHEAD,
    is_deeplink,
    known_good,
    payload_bytes,
)
from ftpush.formats.push_writer import HEADER, format_push_line, is_header, write_push_csv

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "HEADER",
    "PushRow",
    "format_push_line",
    "is_deeplink",
    "parse_push",
    "parse_push_batches",
    "payload_bytes",
    "write_push_csv",
]

_ESCAPES = {"\\n": "\n", "\\\\": "\\"}
_ESCAPE = re.compile(r"\\[n\\]")
_EXTERNAL_ID = itemgetter(1)
_DEEPLINK = itemgetter(3)
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)
_NONE_IF_EMPTY: dict[str, None] = {"": None}


def parse_push(
    chunks: Iterable[bytes | str],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    check_duplicates: bool = True,
    seen: SeenIds | None = None,
    expected_lines: int = 0,
) -> Iterator[PushRow | LineError]:
    """Parse a push file given as raw chunks; yields rows and line errors in order.

    ``seen`` replaces the in-memory duplicate detector (a caller may keep
    ExternalIDs elsewhere); ``check_duplicates=False`` turns the check off;
    ``expected_lines`` (a guess, e.g. file size / 40) sizes the in-memory one.
    """
    return chain.from_iterable(
        parse_push_batches(
            chunks,
            max_line_bytes=max_line_bytes,
            max_payload_bytes=max_payload_bytes,
            check_duplicates=check_duplicates,
            seen=seen,
            expected_lines=expected_lines,
        )
    )


def parse_push_batches(
    chunks: Iterable[bytes | str],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    check_duplicates: bool = True,
    seen: SeenIds | None = None,
    expected_lines: int = 0,
) -> Iterator[list[PushRow | LineError]]:
    """:func:`parse_push`, one list per block of lines (about 1 MiB of input at most).

    Batches suit callers that store rows in batches, and are what makes
    :func:`parse_push` fast: no Python frame is resumed per line.
    """
    accel = _accel.speedups
    dedupe: SeenIds | None = None
    if check_duplicates:
        dedupe = seen if seen is not None else FingerprintSet(expected_lines)
    fits = (max_payload_bytes - PAYLOAD_OVERHEAD) // MAX_CHAR_BYTES
    short = min(MAX_EXTERNAL_ID_CHARS, fits)
    prefixes: tuple[str, ...] = ()  # deeplink heads already known valid, see LINK_HEAD
    header_possible = True
    header_seen = False
    has_data = False
    for block in iter_blocks(chunks, max_line_bytes=max_line_bytes):
        if isinstance(block, LineFault):
            header_possible = False
            has_data = True
            yield [LineError(block.line, block.code, None, block.message)]
            continue
        lines = block.lines
        if header_possible:
            header_possible, header_seen, lines = _drop_header(lines)
        quotes = '"' in block.text
        escapes = "\\" in block.text
        # Slices of a few hundred lines: rows then die young, which keeps the cyclic
        # garbage collector from walking them again and again.
        for start in range(0, len(lines), _SLICE):
            part = lines[start : start + _SLICE]
            first = block.first_line + start
            if accel is not None:
                out, rows = _accelerated(accel, part, first, fits, max_payload_bytes)
            else:
                out, rows, prefixes = _pure_python(
                    part, first, (quotes, escapes), (short, fits, max_payload_bytes), prefixes
                )
            if not out:
                continue
            has_data = True
            if dedupe is not None and rows:
                repeated = dedupe.add_many(list(map(_EXTERNAL_ID, rows)))
                if repeated:
                    _replace(out, {rows[i]: _duplicate(rows[i]) for i in repeated})
            yield out
    if not has_data:
        detail = "only a header line" if header_seen else "no lines"
        raise EmptyFile(f"the push file holds {detail}; nothing to send")


_SLICE = 256


def _drop_header(lines: list[str]) -> tuple[bool, bool, list[str]]:
    """(header still possible, header seen, lines) after looking at the first line."""
    for index, line in enumerate(lines):
        if line and not line.isspace():
            if not is_header(line):
                return False, False, lines
            lines = lines.copy()
            lines[index] = ""
            return False, True, lines
    return True, False, lines


def _pure_python(
    lines: list[str],
    first: int,
    odd: tuple[bool, bool],
    limits: tuple[int, int, int],
    prefixes: tuple[str, ...],
) -> tuple[list[PushRow | LineError], list[PushRow], tuple[str, ...]]:
    """Items of a slice, its accepted rows and the deeplink heads now known, in Python.

    ``odd``: whether the block holds quotes, backslashes; ``limits``: the line
    length that always fits, what fits in the payload, the payload limit.
    """
    quotes, escapes = odd
    short, fits, max_payload_bytes = limits
    fast = _plain_rows(lines, first, short, quotes or escapes)
    if fast is not None:
        out, clean = cast("list[PushRow | LineError]", fast), True
    else:
        out, clean = _parse_lines(lines, first, quotes, escapes, fits, max_payload_bytes)
    rows: list[PushRow] = out if clean else [r for r in out if type(r) is PushRow]  # type: ignore[assignment]
    if rows and not known_good(list(filter(None, map(_DEEPLINK, rows))), prefixes):
        rows, prefixes = _recheck_links(out, rows, prefixes, max_payload_bytes)
    return out, rows, prefixes


def _accelerated(
    accel: _accel.Speedups, lines: list[str], first: int, fits: int, max_payload_bytes: int
) -> tuple[list[PushRow | LineError], list[PushRow]]:
    """Items of a slice and its accepted rows, with the C accelerator (decision 0105).

    The accelerator builds the rows of the lines it can accept (deeplinks and
    payload checked) and gives every other line back by number; those are
    decided here by the reference path, so errors are always made in Python.
    """
    out, pending = accel.push_lines(lines, first, max_payload_bytes, PushRow)
    if not pending:
        return out, out
    for index, item in enumerate(out):
        if type(item) is int:
            out[index] = _reference_line(lines[item - first], item, fits, max_payload_bytes)
    out = [item for item in out if item is not None]
    return out, [item for item in out if type(item) is PushRow]


def _reference_line(
    line: str, number: int, fits: int, max_payload_bytes: int
) -> PushRow | LineError | None:
    """One line through the pure-Python path: :func:`_parse_lines`, then its deeplink."""
    items, _ = _parse_lines([line], number, True, True, fits, max_payload_bytes)
    if not items:  # pragma: no cover - the C code gives back no blank line
        return None
    item = items[0]
    if type(item) is PushRow and item.deeplink:
        _recheck_links(items, [item], (), max_payload_bytes)  # replaces items[0] if need be
    return items[0]


def _plain_rows(lines: list[str], first: int, short: int, odd: bool) -> list[PushRow] | None:
    """Rows of a slice made only of ordinary lines, or None to let :func:`_parse_lines` decide.

    Ordinary: not empty, at most ``short`` characters, no quote or backslash,
    two ';' or more, an ExternalID without surrounding spaces, a Text not blank.
    Such lines need no per-line decision, so the slice is split and checked with
    C-level ``map()`` calls and no Python code runs per line; this is most of
    the parser's speed. Deeplinks are checked afterwards, as for every row.
    """
    if (
        (odd and any(c in "\n".join(lines) for c in '"\\'))
        or not all(lines)
        or max(map(len, lines)) > short
    ):
        return None
    heads = list(map(str.partition, lines, repeat(";")))
    if not all(map(_SECOND, heads)):
        return None
    exts = list(map(_FIRST, heads))
    tails = list(map(str.rpartition, map(_THIRD, heads), repeat(";")))
    texts = list(map(_FIRST, tails))
    if (
        not all(exts)
        or list(map(str.strip, exts)) != exts
        or not all(map(_SECOND, tails))
        or not all(texts)
        or any(map(str.isspace, texts))
    ):
        return None
    links = list(map(_THIRD, tails))
    fields = zip(count(first), exts, texts, map(_NONE_IF_EMPTY.get, links, links), strict=False)
    return list(map(tuple.__new__, repeat(PushRow), fields))


def _parse_lines(
    lines: list[str], first: int, quotes: bool, escapes: bool, fits: int, max_payload_bytes: int
) -> tuple[list[PushRow | LineError], bool]:
    """Rows and errors of consecutive lines, and whether there was no error.

    The hot loop: a few C calls per line; anything unusual (quotes, escapes, odd
    ExternalIDs, long lines) goes to a helper. Deeplinks are checked afterwards,
    in bulk, by :func:`~ftpush.formats.deeplinks.known_good`.
    """
    out: list[PushRow | LineError] = []
    append = out.append
    clean = True
    new_row = tuple.__new__
    short = min(MAX_EXTERNAL_ID_CHARS, fits)
    for number, line in enumerate(lines, first):
        if not line:
            continue
        ext, sep, rest = line.partition(";")
        if not sep:
            if not line.isspace():
                append(LineError(number, "missing_separator", None, _NO_SEPARATOR))
                clean = False
            continue
        if quotes and rest.startswith('"'):
            text, link = _split_quoted(rest)
        else:
            text, sep, link = rest.rpartition(";")
            if not sep:
                text, link = link, ""
        if not ext.isalnum():
            ext = _clean(ext)
        if escapes and "\\" in text:
            text = _ESCAPE.sub(_unescape, text)
        # A line no longer than `short` cannot break the length limits (the fields
        # only shrink when cleaned), so one len() replaces three on most lines.
        if not ext or not text or text.isspace() or len(line) > short:
            error = _line_error(number, ext, text, link, max_payload_bytes)
            if error is not None:
                append(error)
                clean = False
                continue
        append(new_row(PushRow, (number, ext, text, link or None)))
    return out, clean


_NO_SEPARATOR = "the line has no ';': expected ExternalID;Text;Deeplink"


def _split_quoted(rest: str) -> tuple[str, str]:
    """Text and Deeplink of ``rest`` (everything after the first ';'), which starts with '"'.

    A Text in quotes ends at the first lone quote; when a ';' or the end of the
    line follows it, the Deeplink is everything after that ';' (and may then
    contain ';'). Otherwise the plain rule applies and the quotes stay unless
    they wrap the whole Text.
    """
    pos = 1
    while (close := rest.find('"', pos)) >= 0:
        if rest.startswith('"', close + 1):
            pos = close + 2
            continue
        if rest[close + 1 : close + 2] in ("", ";"):
            return rest[1:close].replace('""', '"'), rest[close + 2 :]
        break
    text, sep, link = rest.rpartition(";")
    if not sep:
        text, link = link, ""
    return _unwrap(text), link


def _clean(value: str) -> str:
    """An ExternalID or Deeplink as meant: surrounding spaces and wrapping quotes removed."""
    return _unwrap(value.strip())


def _unwrap(value: str) -> str:
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value[1:-1].replace('""', '"')
    return value


def _unescape(match: re.Match[str]) -> str:
    return _ESCAPES[match[0]]


def _line_error(
    number: int, ext: str, text: str, link: str, max_payload_bytes: int
) -> LineError | None:
    """The error of a line that failed a quick check, or None if it is fine after all."""
    if not ext:
        return LineError(number, "missing_external_id", "external_id", "the ExternalID is empty")
    if len(ext) > MAX_EXTERNAL_ID_CHARS:
        message = (
            f"the ExternalID has {len(ext)} characters; at most {MAX_EXTERNAL_ID_CHARS} are allowed"
        )
        return LineError(number, "external_id_too_long", "external_id", message, ext)
    if not text or text.isspace():
        return LineError(number, "missing_text", "text", "the Text is empty", ext)
    return _link_error(number, ext, text, _clean(link), max_payload_bytes)


def _link_error(
    number: int, ext: str, text: str, link: str, max_payload_bytes: int
) -> LineError | None:
    if link and not is_deeplink(link):
        message = (
            f"{_show(link)} is not an absolute URI with a scheme (https://host/..., myapp://...)"
        )
        return LineError(number, "invalid_deeplink", "deeplink", message, ext)
    size = payload_bytes(text, link)
    if size > max_payload_bytes:
        message = (
            f"the notification payload is {size} bytes; the limit is {max_payload_bytes} "
            "(text and deeplink as UTF-8 JSON)"
        )
        return LineError(number, "payload_too_large", "text", message, ext)
    return None


def _recheck_links(
    out: list[PushRow | LineError],
    rows: list[PushRow],
    prefixes: tuple[str, ...],
    max_payload_bytes: int,
) -> tuple[list[PushRow], tuple[str, ...]]:
    """Check deeplinks one by one; returns the rows still accepted and ``prefixes``.

    Valid link heads seen here are added to ``prefixes`` so that later slices
    take the fast check. Rejected rows are replaced by their error in ``out``;
    links that needed cleaning (spaces, wrapping quotes) by the cleaned row.
    """
    kept: list[PushRow] = []
    changes: dict[PushRow, PushRow | LineError] = {}
    for row in rows:
        raw = row.deeplink or ""
        if not raw or (raw.startswith(prefixes) and raw.isprintable() and " " not in raw):
            kept.append(row)
            continue
        link = _clean(raw)
        error = _link_error(row.line, row.external_id, row.text, link, max_payload_bytes)
        if error is not None:
            changes[row] = error
            continue
        head = LINK_HEAD.match(link)
        if head is not None and len(prefixes) < MAX_LINK_PREFIXES:
            prefixes += (head.group(),)
        if link != raw:
            cleaned = row._replace(deeplink=link or None)
            changes[row] = cleaned
            kept.append(cleaned)
        else:
            kept.append(row)
    if changes:
        _replace(out, changes)
    return kept, prefixes


def _duplicate(row: PushRow) -> LineError:
    return LineError(
        row.line,
        "duplicate_external_id",
        "external_id",
        f"ExternalID {_show(row.external_id)} is already on an earlier line of this file",
        row.external_id,
    )


def _replace(out: list[PushRow | LineError], changes: dict[PushRow, PushRow | LineError]) -> None:
    # Rows are unique by line number, so each key matches exactly one entry.
    for index, item in enumerate(out):
        if item in changes:
            out[index] = changes[item]


def _show(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")
