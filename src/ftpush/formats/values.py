"""Typed values of profile files (SPEC §4): text field in, Python value out, and back.

:func:`converter` gives, for a declared :class:`~ftpush.models.AttributeType`,
a function from the raw field text to its value; it raises
:class:`ValueRejected` (``code`` + ``message``) on a bad value and is the
only place that knows the textual rules:

============  ================================================  ====================
type          accepted text                                     Python value
============  ================================================  ====================
string        ``"a ""b"" c"`` or unquoted text without ``~``  ``str``
integer       ``25``, ``-3``, ``+7`` (signed 64-bit range)      ``int``
number        ``4.5``, ``-3``, ``1e6`` (finite)                 ``float``
boolean       ``true`` / ``false`` (any case)                   ``bool``
date          ``YYYY-MM-DD``                                    ``datetime.date``
datetime      ISO 8601 ``YYYY-MM-DDTHH:MM[:SS[.f]]`` + offset,  aware
              ``Z`` or nothing (= the app's timezone)           ``datetime.datetime``
``T[]``       a JSON array of ``T``: ``["a","b"]``, ``[1,2]``,  ``list``
              dates and datetimes as JSON strings; quoted
              like a string when it holds a ``~``
============  ================================================  ====================

Numbers, booleans, dates and datetimes ignore surrounding spaces and may be
wrapped in double quotes (some exporters quote everything); digits must be
ASCII. Empty ("leave unchanged") and ``null`` ("remove") are decided by the
parser before a converter is called.

Example::

    >>> import zoneinfo
    >>> converter(AttributeType.DATETIME, zoneinfo.ZoneInfo("Europe/Istanbul"))("2024-05-01T10:00")
    datetime.datetime(2024, 5, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo(key='Europe/Istanbul'))
    >>> format_value(AttributeType.STRING, 'say "hi" now')
    '"say ""hi"" now"'
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeAlias

from ftpush.models import AttributeType

Scalar: TypeAlias = str | int | float | bool | dt.date | dt.datetime
AttributeValue: TypeAlias = Scalar | list[Scalar]
Converter: TypeAlias = Callable[[str], AttributeValue]

_INT64 = range(-(1 << 63), 1 << 63)
_BOOLEANS = {"true": True, "false": False}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DATETIME_HEAD = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", re.ASCII)
_UNREPRESENTABLE = re.compile(r"[\n\r\x00]")


class ValueRejected(ValueError):
    """A field value does not match its type; never escapes a parser."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def unquote(text: str, code: str = "invalid_string") -> str:
    """``"a ""b"" c"`` → ``a "b" c``; text not starting with a quote is returned as is."""
    if not text.startswith('"'):
        return text
    if len(text) < 2 or not text.endswith('"'):
        raise ValueRejected(code, "a quoted value must end with a double quote")
    inner = text[1:-1]
    if '"' in inner:
        if '"' in inner.replace('""', ""):
            raise ValueRejected(code, 'a quote inside a quoted value must be doubled ("")')
        inner = inner.replace('""', '"')
    return inner


def parse_string(text: str) -> str:
    return unquote(text)


def parse_integer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or "_" in text or not text.isascii():
        raise ValueRejected("invalid_integer", f"{_show(text)} is not an integer")
    if value not in _INT64:
        raise ValueRejected("invalid_integer", f"{_show(text)} is outside the 64-bit range")
    return value


def parse_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or "_" in text or not text.isascii():
        raise ValueRejected("invalid_number", f"{_show(text)} is not a finite number")
    return value


def parse_boolean(text: str) -> bool:
    value = _BOOLEANS.get(text.strip().lower())
    if value is None:
        raise ValueRejected("invalid_boolean", f"{_show(text)} is not true or false")
    return value


def parse_date(text: str) -> dt.date:
    stripped = text.strip()
    if _DATE.fullmatch(stripped):
        try:
            return dt.date.fromisoformat(stripped)
        except ValueError:
            pass
    raise ValueRejected("invalid_date", f"{_show(text)} is not a date (YYYY-MM-DD)")


def datetime_parser(zone: dt.tzinfo) -> Callable[[str], dt.datetime]:
    """A datetime parser that puts offset-less values in ``zone`` (the app's timezone).

    An ambiguous local time (DST fold) takes its first occurrence and a
    non-existent one (DST gap) the offset in force before the gap (PEP 495).
    """

    def parse_datetime(text: str) -> dt.datetime:
        stripped = text.strip()
        if _DATETIME_HEAD.match(stripped):
            try:
                value = dt.datetime.fromisoformat(stripped)
                if value.tzinfo is None:
                    value = value.replace(tzinfo=zone)
                if value.year in (1, 9999):  # the UTC instant must exist too
                    value.astimezone(dt.UTC)
            except (ValueError, OverflowError):
                pass
            else:
                return value
        raise ValueRejected(
            "invalid_datetime",
            f"{_show(text)} is not an ISO 8601 datetime (YYYY-MM-DDTHH:MM[:SS][+HH:MM|Z])",
        )

    return parse_datetime


def converter(type_: AttributeType, zone: dt.tzinfo) -> Converter:
    """The text → value function for ``type_``; see the module table."""
    if type_.is_array:
        return _array_parser(type_, zone)
    if type_ is AttributeType.STRING:
        return parse_string
    return _lenient_quotes(_SCALARS.get(type_) or datetime_parser(zone))


_SCALARS: dict[AttributeType, Callable[[str], Scalar]] = {
    AttributeType.INTEGER: parse_integer,
    AttributeType.NUMBER: parse_number,
    AttributeType.BOOLEAN: parse_boolean,
    AttributeType.DATE: parse_date,
}


def _lenient_quotes(parse: Callable[[str], AttributeValue]) -> Converter:
    # Quoted numbers/booleans/dates are accepted; trying the bare text first keeps
    # the common case at one call.
    def convert(text: str) -> AttributeValue:
        try:
            return parse(text)
        except ValueRejected:
            if len(text) > 1 and text.startswith('"'):
                return parse(unquote(text))
            raise

    return convert


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


_JSON = json.JSONDecoder(parse_constant=_no_constant)


def _array_parser(type_: AttributeType, zone: dt.tzinfo) -> Converter:
    element = _json_element(type_.scalar, zone)
    example = _ARRAY_EXAMPLES[type_.scalar]

    def parse_array(text: str) -> AttributeValue:
        stripped = text.strip()
        try:
            items = _JSON.decode(stripped)
        except (ValueError, RecursionError):
            items = None
        if not isinstance(items, list):
            if len(text) > 1 and text.startswith('"'):
                return parse_array(unquote(text))
            raise ValueRejected(
                "invalid_array", f"{_show(text)} is not a JSON array of {type_.scalar} ({example})"
            )
        try:
            return [element(item) for item in items]
        except ValueRejected as exc:
            raise ValueRejected("invalid_array", f"an element: {exc.message}") from None

    return parse_array


_ARRAY_EXAMPLES = {
    AttributeType.STRING: '["a","b"]',
    AttributeType.INTEGER: "[1,2]",
    AttributeType.NUMBER: "[1.5,2]",
    AttributeType.BOOLEAN: "[true,false]",
    AttributeType.DATE: '["2024-05-01"]',
    AttributeType.DATETIME: '["2024-05-01T10:00:00Z"]',
}


def _json_element(scalar: AttributeType, zone: dt.tzinfo) -> Callable[[Any], Scalar]:
    parse_dt = datetime_parser(zone)

    def element(item: Any) -> Scalar:
        kind = type(item)
        if scalar is AttributeType.STRING and kind is str:
            return str(item)
        if scalar is AttributeType.INTEGER and kind is int and item in _INT64:
            return int(item)
        if scalar is AttributeType.NUMBER and kind in (int, float):
            try:
                number = float(item)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
        if scalar is AttributeType.BOOLEAN and kind is bool:
            return bool(item)
        if scalar is AttributeType.DATE and kind is str:
            return parse_date(item)
        if scalar is AttributeType.DATETIME and kind is str:
            return parse_dt(item)
        raise ValueRejected("invalid_array", f"{_show(json.dumps(item))} is not a {scalar}")

    return element


def format_value(type_: AttributeType, value: AttributeValue) -> str:
    """The field text of ``value`` (the inverse of :func:`converter`), for writers.

    Raises :class:`ValueError` for a value the format cannot carry (a string
    with a line break or NUL, a non-finite number, a value of another type).
    """
    return formatter(type_)(value)


def formatter(type_: AttributeType) -> Callable[[AttributeValue], str]:
    """:func:`format_value` for one type, looked up once (writers call it per column)."""
    return _FORMATTERS[type_]


def _format_string(value: Any) -> str:
    if type(value) is not str or _UNREPRESENTABLE.search(value):
        raise ValueError(f"cannot write {value!r} as a string value (line break or NUL)")
    return '"' + value.replace('"', '""') + '"'


def _scalar_formatter(type_: AttributeType) -> Callable[[Any], str]:
    def format_scalar(value: Any) -> str:
        scalar = _json_scalar(type_, value)
        if scalar is True or scalar is False:
            return "true" if scalar else "false"
        return scalar if isinstance(scalar, str) else repr(scalar)

    return format_scalar


def _array_formatter(type_: AttributeType) -> Callable[[Any], str]:
    scalar = type_.scalar

    def format_array(value: Any) -> str:
        if not isinstance(value, list):
            raise ValueError(f"{type_} needs a list, got {value!r}")
        items = [_json_scalar(scalar, item) for item in value]
        text = json.dumps(items, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        # A "~" inside a JSON string would split the field: quote it like a string.
        return '"' + text.replace('"', '""') + '"' if "~" in text else text

    return format_array


def _json_scalar(type_: AttributeType, value: Any) -> Scalar:
    kind = type(value)
    ok = (
        (type_ is AttributeType.STRING and kind is str)
        or (type_ is AttributeType.INTEGER and kind is int and value in _INT64)
        or (type_ is AttributeType.NUMBER and kind in (int, float) and math.isfinite(value))
        or (type_ is AttributeType.BOOLEAN and kind is bool)
        or (type_ is AttributeType.DATE and kind is dt.date)
        or (type_ is AttributeType.DATETIME and kind is dt.datetime)
    )
    if not ok:
        raise ValueError(f"cannot write {value!r} as a {type_} value")
    if isinstance(value, dt.date):
        return value.isoformat()
    if type_ is AttributeType.NUMBER:
        return float(value)
    return value  # type: ignore[no-any-return]


_FORMATTERS: dict[AttributeType, Callable[[Any], str]] = {
    t: _array_formatter(t) if t.is_array else _scalar_formatter(t) for t in AttributeType
}
_FORMATTERS[AttributeType.STRING] = _format_string


# Pragmatic, offline e-mail check: a dot-separated local part of at most 64
# characters, "@", a dotted domain whose labels do not start with "-" and whose
# last label does not start with a digit; no spaces, quotes, controls or
# separators. Internationalised (non-ASCII) addresses pass; deliverability is
# not checked. No nested quantifiers over the same characters: linear time.
_ATOM = r"[^\s@\"(),.:;<>\[\]\\\x00-\x1f\x7f]"
_EMAIL = re.compile(
    rf"(?=[^@]{{1,64}}@){_ATOM}+(?:\.{_ATOM}+)*@(?:(?!-){_ATOM}+\.)+(?![-\d]){_ATOM}{{2,}}"
)
_MSISDN = re.compile(r"\+[1-9]\d{5,14}", re.ASCII)
_MSISDN_SEPARATORS = str.maketrans("", "", " -.()")
_DEVICE_TOKEN = re.compile(r"[!-~]{1,4096}", re.ASCII)


def parse_email(text: str) -> str:
    """A plausible e-mail address (surrounding spaces removed), or :class:`ValueRejected`."""
    email = unquote(text.strip(), "invalid_email")
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValueRejected("invalid_email", f"{_show(email)} is not a valid e-mail address")
    return email


def parse_msisdn(text: str) -> str:
    """An E.164 number such as ``+905551234567``; spaces, ``-``, ``.``, ``()`` are dropped."""
    number = unquote(text.strip(), "invalid_msisdn").translate(_MSISDN_SEPARATORS)
    if not _MSISDN.fullmatch(number):
        raise ValueRejected(
            "invalid_msisdn", f"{_show(text)} is not an E.164 number (+ and 6 to 15 digits)"
        )
    return number


def parse_device_token(text: str) -> str:
    """A push token: 1-4096 printable ASCII characters without spaces."""
    token = unquote(text.strip(), "invalid_device_token")
    if not _DEVICE_TOKEN.fullmatch(token):
        raise ValueRejected(
            "invalid_device_token",
            f"{_show(token)} is not a device token (1-4096 printable ASCII, no spaces)",
        )
    return token


def to_json_value(value: AttributeValue | None) -> Any:
    """A JSON-ready form: dates and datetimes as ISO 8601 strings."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    return value


def _show(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
