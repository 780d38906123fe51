"""Profile files (SPEC §4): a pattern line, then ``~``-separated typed values.

:func:`parse_profile` reads raw byte chunks and yields, in line order, a
:class:`ProfileRow` for every accepted line and a
:class:`~ftpush.formats.base.LineError` for every rejected one; it never
raises for a bad line. Whole-file problems raise
:class:`~ftpush.errors.NotUtf8`, :class:`~ftpush.errors.EmptyFile`,
:class:`~ftpush.errors.BadPatternLine` or
:class:`~ftpush.errors.UnknownAttribute` (the last two before any row).
:func:`write_profile_txt` is the inverse. Exact rules: ``docs/formats.md``.

In a row, a column left empty is absent (``UNCHANGED`` for the identity
fields, no key in ``attributes``) and ``null`` is ``None`` ("remove").

Example::

    >>> from ftpush.models import AttributeType as T
    >>> data = b'~~~extID~email~device token~tier~age\\n12345~~tok1~"gold"~25\\n6~x~~~null\\n'
    >>> rows = list(parse_profile([data], {"tier": T.STRING, "age": T.INTEGER}))
    >>> rows[0].to_json()
    {'external_id': '12345', 'device_token': 'tok1', 'attributes': {'tier': 'gold', 'age': 25}}
    >>> rows[1].code, rows[1].field
    ('invalid_email', 'email')
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any, cast

from ftpush.errors import BadPatternLine, EmptyFile
from ftpush.formats import _accel
from ftpush.formats._columns import convert_slice
from ftpush.formats._lines import DEFAULT_MAX_LINE_BYTES, LineFault, iter_blocks
from ftpush.formats._pattern import Pattern, read_pattern
from ftpush.formats.base import (
    DEFAULT_MAX_COLUMNS,
    MAX_EXTERNAL_ID_CHARS,
    UNCHANGED,
    LineError,
    ProfileRow,
    Setting,
)
from ftpush.formats.values import (
    _UNREPRESENTABLE,
    AttributeValue,
    Converter,
    ValueRejected,
    converter,
    formatter,
    parse_device_token,
    parse_email,
    parse_msisdn,
    unquote,
)
from ftpush.models import AttributeType


def parse_profile(
    chunks: Iterable[bytes | str],
    attributes: Mapping[str, AttributeType],
    *,
    timezone: str | dt.tzinfo = "UTC",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> Iterator[ProfileRow | LineError]:
    """Parse a profile file given as raw chunks; yields rows and line errors in order.

    ``attributes`` are the app's declared attributes (name → type; pattern
    columns match them without case and spaces); ``timezone`` (an IANA name
    or a tzinfo) applies to datetimes written without an offset.
    """
    return chain.from_iterable(
        parse_profile_batches(
            chunks,
            attributes,
            timezone=timezone,
            max_line_bytes=max_line_bytes,
            max_columns=max_columns,
        )
    )


def parse_profile_batches(
    chunks: Iterable[bytes | str],
    attributes: Mapping[str, AttributeType],
    *,
    timezone: str | dt.tzinfo = "UTC",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
) -> Iterator[list[ProfileRow | LineError]]:
    """:func:`parse_profile`, one list per slice of a few hundred lines."""
    zone = zoneinfo.ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    accel = _accel.speedups
    layout: _Layout | None = None
    has_data = False
    for block in iter_blocks(chunks, max_line_bytes=max_line_bytes):
        if isinstance(block, LineFault):
            if layout is None:
                raise BadPatternLine(
                    f"the pattern line cannot be read: {block.message}", line=block.line
                )
            has_data = True
            yield [LineError(block.line, block.code, None, block.message)]
            continue
        lines = block.lines
        first_line = block.first_line
        if layout is None:
            found = _first_non_empty(lines)
            if found is None:
                continue
            pattern = read_pattern(lines[found], first_line + found, attributes, max_columns)
            layout = _Layout(pattern, zone, accel)
            lines = lines[found + 1 :]
            first_line += found + 1
        for start in range(0, len(lines), _SLICE):
            part = lines[start : start + _SLICE]
            if accel is not None:
                out = layout.accelerated(accel, part, first_line + start)
            else:
                out = layout.pure_python(part, first_line + start)
            if out:
                has_data = True
                yield out
    if layout is None:
        raise EmptyFile("the profile file holds no lines; it needs a pattern line and data lines")
    if not has_data:
        raise EmptyFile("the profile file holds a pattern line but no data lines")


_SLICE = 256


def _first_non_empty(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if line and not line.isspace():
            return index
    return None


class _Layout:
    """A pattern plus its converters: turns one data line into a row or an error.

    This per-line path is the reference for the column-wise fast path in
    :mod:`ftpush.formats._columns`, which must give the same results.
    """

    def __init__(
        self, pattern: Pattern, zone: dt.tzinfo, accel: _accel.Speedups | None = None
    ) -> None:
        self.pattern = pattern
        self.zone = zone
        self.separators = pattern.fields - 1
        self.converters: list[tuple[int, str, Converter]] = [
            (a.index, a.name, converter(a.type, zone)) for a in pattern.attributes
        ]
        self.spec: tuple[Any, ...] = ()
        if accel is not None:
            kinds = {
                AttributeType.STRING: accel.STRING,
                AttributeType.INTEGER: accel.INTEGER,
                AttributeType.NUMBER: accel.NUMBER,
                AttributeType.BOOLEAN: accel.BOOLEAN,
                AttributeType.DATE: accel.DATE,
            }
            attributes = tuple(
                (index, name, kinds.get(a.type, accel.OTHER), convert)
                for (index, name, convert), a in zip(
                    self.converters, pattern.attributes, strict=True
                )
            )
            self.spec = (
                pattern.fields,
                pattern.filler,
                pattern.email,
                pattern.device_token,
                -1 if pattern.msisdn is None else pattern.msisdn,
                attributes,
                ProfileRow,
                UNCHANGED,
                parse_email,
                parse_device_token,
                parse_msisdn,
            )

    def pure_python(self, lines: list[str], first: int) -> list[ProfileRow | LineError]:
        """Rows and errors of a slice: column-wise when clean, else line by line."""
        fast = convert_slice(lines, first, self.pattern, self.zone)
        if fast is not None:
            return cast("list[ProfileRow | LineError]", fast)
        return [
            item
            for number, line in enumerate(lines, first)
            if (item := self.parse_line(number, line)) is not None
        ]

    def accelerated(
        self, accel: _accel.Speedups, lines: list[str], first: int
    ) -> list[ProfileRow | LineError]:
        """Rows and errors of a slice with the C accelerator (decision 0105).

        It builds the rows of the lines it can accept and gives every other
        line back by number, decided here by :meth:`parse_line`: errors are
        always made in Python.
        """
        out, pending = accel.profile_lines(lines, first, self.spec)
        if pending:
            for index, item in enumerate(out):
                if type(item) is int:
                    out[index] = self.parse_line(item, lines[item - first])
            out = [item for item in out if item is not None]
        return cast("list[ProfileRow | LineError]", out)

    def parse_line(self, number: int, line: str) -> ProfileRow | LineError | None:
        """The row or error of one line; ``None`` for a blank line."""
        if not line or line.isspace():
            return None
        quoted = '"' in line
        if line.count("~") == self.separators:
            result = self.convert(number, line.split("~"))
            # A '~' inside quotes can hide behind a right field count, but then a
            # piece starting with '"' is malformed and fails: read again, carefully.
            if not quoted or isinstance(result, ProfileRow):
                return result
        elif not quoted:
            return self.count_error(number, line.count("~") + 1, line)
        try:
            fields = split_fields(line, self.pattern.fields)
        except _QuoteError as exc:
            field = self.pattern.column_name(exc.index)
            return LineError(number, "invalid_quoting", field, exc.message, _raw_id(line))
        if len(fields) != self.pattern.fields:
            exact = len(fields) < self.pattern.fields
            return self.count_error(number, len(fields), line, exact=exact)
        return self.convert(number, fields)

    def count_error(self, number: int, got: int, line: str, *, exact: bool = True) -> LineError:
        expected = self.pattern.fields
        # split_fields stops one field past the expected count: then only "more than" is known.
        counted = str(got) if exact else f"more than {expected}"
        message = f"expected {expected} fields as in the pattern line, got {counted}"
        if self.pattern.filler:
            message += " (the pattern has ~~~ after extID, so data lines need it too)"
        return LineError(number, "wrong_field_count", None, message, _raw_id(line))

    def convert(self, number: int, fields: list[str]) -> ProfileRow | LineError:
        pattern = self.pattern
        field: str | None = "external_id"
        ext: str | None = None
        try:
            ext = _identity(fields[0], "invalid_external_id")
            if not ext:
                raise ValueRejected("missing_external_id", "the ExternalID is empty")
            if len(ext) > MAX_EXTERNAL_ID_CHARS:
                raise ValueRejected(
                    "external_id_too_long",
                    f"the ExternalID has {len(ext)} characters; "
                    f"at most {MAX_EXTERNAL_ID_CHARS} are allowed",
                )
            if pattern.filler and (fields[1] or fields[2]):
                field = None
                raise ValueRejected(
                    "wrong_field_count",
                    "the pattern has ~~~ after extID, so the two fields after the "
                    "ExternalID must be empty",
                )
            field = "email"
            email = _setting(fields[pattern.email], parse_email)
            field = "device_token"
            given = fields[pattern.device_token]
            if given == "null":
                raise ValueRejected(
                    "invalid_device_token", "a device token cannot be removed with null"
                )
            token = parse_device_token(given) if given else None
            msisdn: Setting = UNCHANGED
            if pattern.msisdn is not None:
                field = "msisdn"
                msisdn = _setting(fields[pattern.msisdn], parse_msisdn)
            values: dict[str, AttributeValue | None] = {}
            for index, name, convert in self.converters:
                raw = fields[index]
                if raw:
                    field = name
                    values[name] = None if raw == "null" else convert(raw)
        except ValueRejected as exc:
            return LineError(number, exc.code, field, exc.message, ext or None)
        return ProfileRow(number, ext, email, token, msisdn, values)


def _identity(raw: str, code: str) -> str:
    value = raw.strip()
    return unquote(value, code) if value.startswith('"') else value


def _setting(raw: str, parse: Any) -> Setting:
    if not raw:
        return UNCHANGED
    if raw == "null":
        return None
    return str(parse(raw))


def _raw_id(line: str) -> str | None:
    return line.partition("~")[0].strip().strip('"') or None


class _QuoteError(Exception):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message


def split_fields(line: str, limit: int) -> list[str]:
    """Split ``line`` on ``~``, except inside a value that starts with a double quote.

    A quoted value runs to its closing quote (``""`` is an escaped quote) and
    must be followed by ``~`` or the end of the line. Stops after ``limit + 1``
    fields (enough to report a wrong count). Raises ``_QuoteError`` for an
    unterminated quote or text after a closing quote.

    >>> split_fields('1~"a~b"~"a ""b"" c"~x"y', 10)
    ['1', '"a~b"', '"a ""b"" c"', 'x"y']
    """
    fields: list[str] = []
    pos = 0
    size = len(line)
    while len(fields) <= limit:
        if line.startswith('"', pos):
            scan = pos + 1
            while (close := line.find('"', scan)) >= 0 and line.startswith('"', close + 1):
                scan = close + 2
            if close < 0:
                raise _QuoteError(len(fields), "a quoted value has no closing quote")
            end = close + 1
            if end < size and line[end] != "~":
                raise _QuoteError(
                    len(fields), 'text follows the closing quote; write "" for a quote inside'
                )
        else:
            end = line.find("~", pos)
            if end < 0:
                end = size
        fields.append(line[pos:end])
        if end >= size:
            break
        pos = end + 1
    return fields


def write_profile_txt(
    rows: Iterable[ProfileRow],
    attributes: Mapping[str, AttributeType] | Sequence[tuple[str, AttributeType]],
    *,
    msisdn: bool = False,
    tilde_after_ext_id: bool = False,
    newline: str = "\n",
) -> Iterator[str]:
    """Yield the lines (with ``newline``) of a profile file: pattern line, then rows.

    ``attributes`` gives the attribute columns in order. The pattern line is
    ``~~~extID~email~device token~…``, or ``extID~~~email~deviceToken~…`` with
    ``tilde_after_ext_id`` (data lines then carry ``~~~`` too). Raises
    :class:`ValueError` for a value the format cannot carry (see
    :func:`~ftpush.formats.values.format_value`).
    """
    columns = list(attributes.items()) if isinstance(attributes, Mapping) else list(attributes)
    head = ["extID~~", "email", "deviceToken"] if tilde_after_ext_id else ["~~~extID", "email"]
    if not tilde_after_ext_id:
        head.append("device token")
    if msisdn:
        head.append("msisdn")
    yield "~".join(head + [name for name, _ in columns]) + newline
    gap = "~~" if tilde_after_ext_id else ""
    formats = [(name, formatter(attr_type)) for name, attr_type in columns]
    for row in rows:
        parts = [_quote(row.external_id) + gap, _setting_text(row.email)]
        parts.append(_quote(row.device_token) if row.device_token is not None else "")
        if msisdn:
            parts.append(_setting_text(row.msisdn))
        values = row.attributes
        for name, format_value in formats:
            if name not in values:
                parts.append("")
                continue
            value = values[name]
            parts.append("null" if value is None else format_value(value))
        yield "~".join(parts) + newline


def _setting_text(value: Setting) -> str:
    if value is UNCHANGED:
        return ""
    return "null" if value is None else _quote(value)


def _quote(value: str) -> str:
    """An identity value as written: quoted when it could be misread bare."""
    if _UNREPRESENTABLE.search(value):
        raise ValueError(f"cannot write {value!r}: line breaks and NUL are not allowed")
    if not value or value == "null" or value != value.strip() or '"' in value or "~" in value:
        return '"' + value.replace('"', '""') + '"'
    return value
