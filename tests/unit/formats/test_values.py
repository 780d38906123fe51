"""Typed values of profile files: one table per type, plus identity fields."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from ftpush.formats.values import (
    ValueRejected,
    converter,
    format_value,
    parse_device_token,
    parse_email,
    parse_msisdn,
    to_json_value,
)
from ftpush.models import AttributeType as T

IST = zoneinfo.ZoneInfo("Europe/Istanbul")
NY = zoneinfo.ZoneInfo("America/New_York")
REJECT = object()

CASES = [
    (T.STRING, '"gold"', "gold"),
    (T.STRING, '"say ""hi"" now"', 'say "hi" now'),
    (T.STRING, '""', ""),
    (T.STRING, '"a~b"', "a~b"),
    (T.STRING, '"null"', "null"),
    (T.STRING, "plain words", "plain words"),
    (T.STRING, " kept as is ", " kept as is "),
    (T.STRING, 'in"side', 'in"side'),
    (T.STRING, '"', REJECT),
    (T.STRING, '"open', REJECT),
    (T.STRING, '"a"b"', REJECT),
    (T.INTEGER, "25", 25),
    (T.INTEGER, "-3", -3),
    (T.INTEGER, "+7", 7),
    (T.INTEGER, " 42 ", 42),
    (T.INTEGER, '"25"', 25),
    (T.INTEGER, "9223372036854775807", 2**63 - 1),
    (T.INTEGER, "-9223372036854775808", -(2**63)),
    (T.INTEGER, "9223372036854775808", REJECT),
    (T.INTEGER, "4.5", REJECT),
    (T.INTEGER, "1_000", REJECT),
    (T.INTEGER, "٣", REJECT),
    (T.INTEGER, "1e3", REJECT),
    (T.INTEGER, "9" * 5000, REJECT),
    (T.INTEGER, "twelve", REJECT),
    (T.NUMBER, "4.5", 4.5),
    (T.NUMBER, "-3", -3.0),
    (T.NUMBER, "1e6", 1e6),
    (T.NUMBER, ".5", 0.5),
    (T.NUMBER, '"2.5"', 2.5),
    (T.NUMBER, "nan", REJECT),
    (T.NUMBER, "inf", REJECT),
    (T.NUMBER, "1e999", REJECT),
    (T.NUMBER, "1,5", REJECT),
    (T.NUMBER, "1_0", REJECT),
    (T.BOOLEAN, "true", True),
    (T.BOOLEAN, "false", False),
    (T.BOOLEAN, "TRUE", True),
    (T.BOOLEAN, " False ", False),
    (T.BOOLEAN, '"true"', True),
    (T.BOOLEAN, "yes", REJECT),
    (T.BOOLEAN, "1", REJECT),
    (T.DATE, "2024-02-29", dt.date(2024, 2, 29)),
    (T.DATE, " 2024-01-31 ", dt.date(2024, 1, 31)),
    (T.DATE, "2023-02-29", REJECT),
    (T.DATE, "20240101", REJECT),
    (T.DATE, "2024-W01-1", REJECT),
    (T.DATE, "2024-1-01", REJECT),
    (T.DATE, "2024-01-01T10:00", REJECT),
    (T.DATETIME, "2024-05-01T10:00:00Z", dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)),
    (T.DATETIME, "2024-05-01T10:00:00+03:00", dt.datetime(2024, 5, 1, 7, tzinfo=dt.UTC)),
    (T.DATETIME, "2024-05-01 10:00", dt.datetime(2024, 5, 1, 10, tzinfo=IST)),
    (T.DATETIME, "2024-05-01T10:00:00.250", dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=IST)),
    (T.DATETIME, "2024-05-01", REJECT),
    (T.DATETIME, "2024-05-01T25:00", REJECT),
    (T.DATETIME, "yesterday", REJECT),
    (T.DATETIME, "0001-01-01T00:00:00+01:00", REJECT),
    (T.STRING_ARRAY, '["a","b~c"]', ["a", "b~c"]),
    (T.STRING_ARRAY, "[]", []),
    (T.STRING_ARRAY, '"[""a""]"', ["a"]),
    (T.STRING_ARRAY, "[1]", REJECT),
    (T.STRING_ARRAY, '["a", null]', REJECT),
    (T.STRING_ARRAY, "a,b", REJECT),
    (T.STRING_ARRAY, "[" * 100_000, REJECT),
    (T.INTEGER_ARRAY, "[1, -2]", [1, -2]),
    (T.INTEGER_ARRAY, "[1.5]", REJECT),
    (T.INTEGER_ARRAY, "[true]", REJECT),
    (T.INTEGER_ARRAY, "[" + "9" * 5000 + "]", REJECT),
    (T.NUMBER_ARRAY, "[1, 2.5]", [1.0, 2.5]),
    (T.NUMBER_ARRAY, "[NaN]", REJECT),
    (T.NUMBER_ARRAY, "[1e999]", REJECT),
    (T.BOOLEAN_ARRAY, "[true,false]", [True, False]),
    (T.BOOLEAN_ARRAY, "[1]", REJECT),
    (T.DATE_ARRAY, '["2024-01-01"]', [dt.date(2024, 1, 1)]),
    (T.DATE_ARRAY, '["2024-13-01"]', REJECT),
    (T.DATETIME_ARRAY, '["2024-01-01T00:00Z"]', [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)]),
]


@pytest.mark.parametrize(("type_", "text", "expected"), CASES)
def test_converter(type_: T, text: str, expected: object) -> None:
    convert = converter(type_, IST)
    if expected is REJECT:
        with pytest.raises(ValueRejected) as caught:
            convert(text)
        assert caught.value.code.startswith("invalid_")
    else:
        value = convert(text)
        assert value == expected
        assert type(value) is type(expected)


def test_naive_datetime_in_a_dst_gap_and_fold() -> None:
    convert = converter(T.DATETIME, NY)
    gap = convert("2024-03-10T02:30")  # does not exist in New York
    fold = convert("2024-11-03T01:30")  # exists twice: the first one is taken
    assert isinstance(gap, dt.datetime)
    assert isinstance(fold, dt.datetime)
    assert gap.utcoffset() == dt.timedelta(hours=-5)
    assert fold.utcoffset() == dt.timedelta(hours=-4)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("jane@example.com", True),
        ("first.last+tag@sub.example.org", True),
        ("ünïcode@exämple.com", True),
        (" jane@example.com ", True),
        ('"jane@example.com"', True),
        ("jane", False),
        ("jane@example", False),
        ("jane@@example.com", False),
        (".jane@example.com", False),
        ("jane.@example.com", False),
        ("ja..ne@example.com", False),
        ("ja ne@example.com", False),
        ("jane@-example.com", False),
        ("jane@example.c", False),
        ("jane@example.123", False),
        ("x" * 65 + "@example.com", False),
        ("x@" + "y" * 250 + ".com", False),
    ],
)
def test_email(text: str, ok: bool) -> None:
    if ok:
        assert parse_email(text) == text.strip().strip('"')
    else:
        with pytest.raises(ValueRejected, match="e-mail"):
            parse_email(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+905551234567", "+905551234567"),
        ("+90 (555) 123-45-67", "+905551234567"),
        ("+1.415.555.0100", "+14155550100"),
        ("905551234567", None),
        ("+0123456", None),
        ("+1234", None),
        ("+1234567890123456", None),
        ("+90 555 abc", None),
    ],
)
def test_msisdn(text: str, expected: str | None) -> None:
    if expected is not None:
        assert parse_msisdn(text) == expected
    else:
        with pytest.raises(ValueRejected, match=r"E\.164"):
            parse_msisdn(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 64, True),
        ("dXNlcjpBUEE5MWJH:APA91b-x_y", True),
        ("token123", True),
        ("tok en", False),
        ("tök", False),
        ("x" * 4097, False),
    ],
)
def test_device_token(text: str, ok: bool) -> None:
    if ok:
        assert parse_device_token(text) == text
    else:
        with pytest.raises(ValueRejected, match="device token"):
            parse_device_token(text)


@pytest.mark.parametrize(
    ("type_", "value", "text"),
    [
        (T.STRING, 'a "b" ~ c', '"a ""b"" ~ c"'),
        (T.INTEGER, -3, "-3"),
        (T.NUMBER, 4.5, "4.5"),
        (T.NUMBER, 2, "2.0"),
        (T.BOOLEAN, True, "true"),
        (T.DATE, dt.date(2024, 5, 1), "2024-05-01"),
        (T.DATETIME, dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC), "2024-05-01T10:00:00+00:00"),
        (T.STRING_ARRAY, ["a", "ü"], '["a","ü"]'),
        (T.DATE_ARRAY, [dt.date(2024, 5, 1)], '["2024-05-01"]'),
    ],
)
def test_format_value(type_: T, value: object, text: str) -> None:
    assert format_value(type_, value) == text  # type: ignore[arg-type]
    assert converter(type_, dt.UTC)(text) == value


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        (T.STRING, "line\nbreak"),
        (T.STRING, 5),
        (T.INTEGER, True),
        (T.INTEGER, 2**63),
        (T.NUMBER, float("nan")),
        (T.DATE, dt.datetime(2024, 1, 1)),
        (T.STRING_ARRAY, "not a list"),
        (T.INTEGER_ARRAY, [1.5]),
    ],
)
def test_format_value_refuses(type_: T, value: object) -> None:
    with pytest.raises(ValueError, match=r"cannot write|needs a list"):
        format_value(type_, value)  # type: ignore[arg-type]


def test_to_json_value() -> None:
    assert to_json_value([dt.date(2024, 1, 2)]) == ["2024-01-02"]
    assert to_json_value(None) is None
