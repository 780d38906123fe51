"""Column-wise fast path of the profile parser: whole slices of clean lines at C speed.

:func:`convert_slice` takes a slice of data lines, splits them, transposes
them into columns and converts each column with ``map()`` over built-in
functions (``int``, ``float``, ``date.fromisoformat``, compiled regexes...),
so that no Python code runs per value. It only ever *accepts*: when anything
in the slice is unusual (a wrong field count, a value that needs care, an
error) it returns ``None`` and the per-line reference path
(``profile_txt._Layout.parse_line``) handles the slice, with its exact
errors. Every rule here must therefore give what that path gives; the tests
compare the two on random input.

Example::

    >>> import datetime as dt
    >>> from ftpush.formats._pattern import read_pattern
    >>> from ftpush.models import AttributeType as T
    >>> pattern = read_pattern("~~~extID~email~device token~age", 1, {"age": T.INTEGER}, 10)
    >>> rows = convert_slice(["1~a@b.co~~30", "2~~~"], 2, pattern, dt.UTC)
    >>> rows  # doctest: +NORMALIZE_WHITESPACE
    [ProfileRow(line=2, external_id='1', email='a@b.co', device_token=None, msisdn=UNCHANGED,
                attributes={'age': 30}),
     ProfileRow(line=3, external_id='2', email=UNCHANGED, device_token=None, msisdn=UNCHANGED,
                attributes={})]
    >>> convert_slice(["1~a@b.co~~thirty"], 2, pattern, dt.UTC) is None
    True
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, count, repeat
from operator import attrgetter, eq, is_, itemgetter, methodcaller, not_
from typing import Any

from ftpush.formats._pattern import Pattern
from ftpush.formats.base import MAX_EXTERNAL_ID_CHARS, UNCHANGED, ProfileRow
from ftpush.formats.values import _ATOM, _EMAIL, _MSISDN, ValueRejected, converter
from ftpush.models import AttributeType

Column = Sequence[str]
_UNSET = object()  # an empty field: the attribute stays unchanged
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_SETTING = {"": UNCHANGED, "null": None}
_NONE_IF_EMPTY: dict[str, None] = {"": None}
_BOOLEANS = {"true": True, "false": False}
_DATE_CHARS = b"0123456789-"
_DATETIME_HEAD_SEPARATORS = b"-:Tt "
_AT = {i: itemgetter(i) for i in (4, 7, 10, 13)}
_HEAD = itemgetter(slice(0, 16))
_INNER = itemgetter(slice(1, -1))
_FIRST_CHAR, _LAST_CHAR = itemgetter(0), itemgetter(-1)
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)
_DOMAIN = re.compile(rf"(?:(?!-){_ATOM}+\.)+(?![-\d]){_ATOM}{{2,}}")
_VISIBLE_ASCII = bytes(range(0x21, 0x7F))
# The ASCII characters of an e-mail local part other than the dot (see values._ATOM).
_LOCAL_BYTES = bytes(c for c in range(0x21, 0x7F) if chr(c) not in '@"(),.:;<>[]\\')
# Values that convert in every type, put in place of "" and "null" before a bulk
# conversion; their results are then replaced by _UNSET and None.
_PLACEHOLDER = {
    AttributeType.STRING: "x",
    AttributeType.INTEGER: "0",
    AttributeType.NUMBER: "0",
    AttributeType.BOOLEAN: "true",
    AttributeType.DATE: "2000-01-01",
    AttributeType.DATETIME: "2000-01-01T00:00Z",
}


def convert_slice(
    lines: list[str], first: int, pattern: Pattern, zone: dt.tzinfo
) -> list[ProfileRow] | None:
    """Rows of ``lines`` (line ``first`` onwards) if all are clean and valid, else ``None``."""
    if not all(lines) or set(map(str.count, lines, repeat("~"))) != {pattern.fields - 1}:
        return None
    rows = list(map(str.split, lines, repeat("~")))
    # itemgetter per column: zip(*rows) is several times slower with hundreds of rows.
    columns = [list(map(get, rows)) for get in _getters(pattern.fields)]
    ids = columns[0]
    if (
        not all(ids)
        or max(map(len, ids)) > MAX_EXTERNAL_ID_CHARS
        or '"' in "".join(ids)
        or list(map(str.strip, ids)) != ids
    ):
        return None
    if pattern.filler and (any(columns[1]) or any(columns[2])):
        return None
    emails = _identity(columns[pattern.email], _emails_valid, 254)
    tokens = _tokens(columns[pattern.device_token])
    msisdns: Iterable[Any] = repeat(UNCHANGED)
    if pattern.msisdn is not None:
        msisdns = _identity(columns[pattern.msisdn], _msisdns_valid, 16)  # type: ignore[assignment]
    if emails is None or tokens is None or msisdns is None:
        return None
    names = [a.name for a in pattern.attributes]
    values: list[list[Any]] = []
    for attribute in pattern.attributes:
        converted = _attribute(columns[attribute.index], attribute.type, zone)
        if converted is None:
            return None
        values.append(converted)
    attributes = _dicts(names, values, len(lines))
    fields = zip(count(first), ids, emails, tokens, msisdns, attributes, strict=False)
    return list(map(tuple.__new__, repeat(ProfileRow), fields))


def _getters(size: int) -> list[itemgetter[Any]]:
    while len(_GETTERS) < size:
        _GETTERS.append(itemgetter(len(_GETTERS)))
    return _GETTERS[:size]


_GETTERS: list[itemgetter[Any]] = []


def _identity(column: Column, valid: Callable[[set[str]], bool], max_len: int) -> list[Any] | None:
    """Email or msisdn column: "" unchanged, "null" removed, the rest as is and valid."""
    given = set(column)
    given.difference_update(_SETTING)
    # `valid` rejects spaces and quotes itself, as parse_email/parse_msisdn would
    # after stripping and unquoting: such values go to the per-line path.
    if given and (max(map(len, given)) > max_len or not valid(given)):
        return None
    return list(map(_SETTING.get, column, column))


def _emails_valid(emails: set[str]) -> bool:
    """Same verdict as ``values._EMAIL`` on each address, in a few C-level passes.

    Domains are few (checked with the regex); local parts are checked in bulk
    when ASCII (allowed characters, dots neither first, last nor doubled).
    """
    parts = list(map(methodcaller("rpartition", "@"), emails))
    if not all(map(_SECOND, parts)):
        return False
    domains = set(map(_THIRD, parts))
    if not all(map(_DOMAIN.fullmatch, domains)):
        return False
    locals_ = list(map(_FIRST, parts))
    joined = "\n".join(locals_)
    if not joined.isascii():
        return all(map(_EMAIL.fullmatch, emails))
    return (
        all(locals_)
        and max(map(len, locals_)) <= 64
        and not joined.encode().translate(None, _LOCAL_BYTES + b".").replace(b"\n", b"")
        and ".." not in joined
        and "\n." not in joined
        and ".\n" not in joined
        and not joined.startswith(".")
        and not joined.endswith(".")
    )


def _msisdns_valid(numbers: set[str]) -> bool:
    return all(map(_MSISDN.fullmatch, numbers))


def _tokens(column: Column) -> list[str | None] | None:
    given = set(column)
    given.discard("")
    if given:
        joined = "".join(given)
        if (
            "null" in given
            or not joined.isascii()
            or joined.encode().translate(None, _VISIBLE_ASCII)
            or '"' in joined
            or max(map(len, given)) > 4096
        ):
            return None
    return list(map(_NONE_IF_EMPTY.get, column, column))


def _attribute(column: Column, type_: AttributeType, zone: dt.tzinfo) -> list[Any] | None:
    """Converted values of one attribute column (_UNSET for "", None for "null")."""
    empty = "" in column
    null = "null" in column
    work = column
    if empty or null:
        placeholder = _PLACEHOLDER.get(type_, "[]")
        if type_ is AttributeType.STRING and '"' in "".join(column):
            placeholder = '""'
        fill = {"": placeholder, "null": placeholder}
        work = list(map(fill.get, column, column))
    bulk = _BULK.get(type_)
    if bulk is not None:
        converted = bulk(work, zone)
    else:  # arrays: JSON per value, still without going line by line
        convert = converter(type_, zone)
        try:
            converted = list(map(convert, work))
        except ValueRejected:
            return None
    if converted is None:
        return None
    if empty:
        for index in compress(count(), map(not_, column)):
            converted[index] = _UNSET
    if null:
        for index in compress(count(), map(eq, column, repeat("null"))):
            converted[index] = None
    return converted


def _dicts(names: list[str], values: list[list[Any]], size: int) -> list[dict[str, Any]]:
    if not names:
        return [{} for _ in range(size)]
    build = _DICT_BUILDERS.get(len(names))
    if build is not None:
        rows = build(*names, *values)
    else:
        rows = list(map(dict, map(zip, repeat(names), zip(*values, strict=True))))
    for name, column in zip(names, values, strict=True):
        if _UNSET in column:
            for index in compress(count(), map(is_, column, repeat(_UNSET))):
                del rows[index][name]
    return rows


# A dict display with the keys in local variables is about twice as fast as
# dict(zip(...)); one builder per common number of attributes.
_DICT_BUILDERS: dict[int, Callable[..., list[dict[str, Any]]]] = {
    1: lambda k1, c1: [{k1: v1} for v1 in c1],
    2: lambda k1, k2, c1, c2: [{k1: v1, k2: v2} for v1, v2 in zip(c1, c2, strict=True)],
    3: lambda k1, k2, k3, c1, c2, c3: [
        {k1: v1, k2: v2, k3: v3} for v1, v2, v3 in zip(c1, c2, c3, strict=True)
    ],
    4: lambda k1, k2, k3, k4, c1, c2, c3, c4: [
        {k1: v1, k2: v2, k3: v3, k4: v4} for v1, v2, v3, v4 in zip(c1, c2, c3, c4, strict=True)
    ],
    5: lambda k1, k2, k3, k4, k5, c1, c2, c3, c4, c5: [
        {k1: v1, k2: v2, k3: v3, k4: v4, k5: v5}
        for v1, v2, v3, v4, v5 in zip(c1, c2, c3, c4, c5, strict=True)
    ],
    6: lambda k1, k2, k3, k4, k5, k6, c1, c2, c3, c4, c5, c6: [
        {k1: v1, k2: v2, k3: v3, k4: v4, k5: v5, k6: v6}
        for v1, v2, v3, v4, v5, v6 in zip(c1, c2, c3, c4, c5, c6, strict=True)
    ],
}


def _strings(column: Column, zone: dt.tzinfo) -> list[Any] | None:
    joined = "\n".join(column)
    if '"' not in joined:
        return list(column)
    # All quoted, or let the per-line path sort it out.
    if min(map(len, column)) < 2 or {*map(_FIRST_CHAR, column), *map(_LAST_CHAR, column)} != {'"'}:
        return None
    inner = list(map(_INNER, column))
    joined = "\n".join(inner)
    if '"' in joined:
        if '"' in joined.replace('""', ""):
            return None
        inner = list(map(methodcaller("replace", '""', '"'), inner))
    return inner


def _integers(column: Column, zone: dt.tzinfo) -> list[Any] | None:
    joined = "".join(column)
    if "_" in joined or not joined.isascii():
        return None
    try:
        numbers = list(map(int, column))
    except ValueError:
        return None
    if min(numbers) < _INT64_MIN or max(numbers) > _INT64_MAX:
        return None
    return numbers


def _numbers(column: Column, zone: dt.tzinfo) -> list[Any] | None:
    joined = "".join(column)
    if "_" in joined or not joined.isascii():
        return None
    try:
        numbers = list(map(float, column))
    except ValueError:
        return None
    return numbers if all(map(math.isfinite, numbers)) else None


def _booleans(column: Column, zone: dt.tzinfo) -> list[Any] | None:
    try:
        return list(map(_BOOLEANS.__getitem__, map(str.lower, map(str.strip, column))))
    except KeyError:
        return None


def _dates(column: Column, zone: dt.tzinfo) -> list[Any] | None:
    joined = "".join(column)
    if (
        set(map(len, column)) != {10}
        or not joined.isascii()
        or joined.encode().translate(None, _DATE_CHARS)
        or joined.count("-") != 2 * len(column)
        or set(map(_AT[4], column)) != {"-"}
        or set(map(_AT[7], column)) != {"-"}
    ):
        return None
    try:
        return list(map(dt.date.fromisoformat, column))
    except ValueError:
        return None


def _datetimes(column: Column, zone: dt.tzinfo) -> list[Any] | None:
    if min(map(len, column)) < 16 or list(map(str.strip, column)) != list(column):
        return None
    heads = "".join(map(_HEAD, column))
    if (
        not heads.isascii()
        or len(heads.encode().translate(None, _DATETIME_HEAD_SEPARATORS)) != 12 * len(column)
        or not heads.encode().translate(None, _DATETIME_HEAD_SEPARATORS).isdigit()
        or set(map(_AT[4], column)) != {"-"}
        or set(map(_AT[7], column)) != {"-"}
        or not set(map(_AT[10], column)) <= {"T", "t", " "}
        or set(map(_AT[13], column)) != {":"}
    ):
        return None
    try:
        values = list(map(dt.datetime.fromisoformat, column))
    except ValueError:
        return None
    if {1, 9999} & set(map(attrgetter("year"), values)):
        return None  # the UTC instant may not exist: the per-value path decides
    zones = list(map(attrgetter("tzinfo"), values))
    if not any(zones):
        return list(map(methodcaller("replace", tzinfo=zone), values))
    for index in compress(count(), map(is_, zones, repeat(None))):
        values[index] = values[index].replace(tzinfo=zone)
    return values


_BULK: dict[AttributeType, Callable[[Column, dt.tzinfo], list[Any] | None]] = {
    AttributeType.STRING: _strings,
    AttributeType.INTEGER: _integers,
    AttributeType.NUMBER: _numbers,
    AttributeType.BOOLEAN: _booleans,
    AttributeType.DATE: _dates,
    AttributeType.DATETIME: _datetimes,
}
