from __future__ import annotations

import pytest

from ftpush.errors import InvalidInput
from ftpush.models import (
    AttributeType,
    normalize_column_name,
    parse_attribute_type,
    parse_cidr,
    validate_app_key,
    validate_attribute_name,
    validate_timezone,
    validate_username,
)


@pytest.mark.parametrize("key", ["demo", "a1", "shop-2", "0x", "a" * 63])
def test_valid_app_keys(key: str) -> None:
    assert validate_app_key(key) == key


@pytest.mark.parametrize("key", ["", "a", "Demo", "-x", "a_b", "a b", "a" * 64, "../x", "é1"])
def test_invalid_app_keys(key: str) -> None:
    with pytest.raises(InvalidInput, match="invalid app key") as info:
        validate_app_key(key)
    assert info.value.field == "key"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Istanbul", "America/New_York"])
def test_valid_timezones(tz: str) -> None:
    assert validate_timezone(tz) == tz


@pytest.mark.parametrize("tz", ["", "Mars/Base", "../../etc/passwd", "/etc/localtime", "+03:00"])
def test_invalid_timezones(tz: str) -> None:
    with pytest.raises(InvalidInput, match="unknown timezone"):
        validate_timezone(tz)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.7", "192.0.2.7/32"),
        (" 2001:db8::/32 ", "2001:db8::/32"),
        ("::1", "::1/128"),
        ("0.0.0.0/0", "0.0.0.0/0"),
    ],
)
def test_cidrs_are_normalised(text: str, expected: str) -> None:
    assert parse_cidr(text) == expected


@pytest.mark.parametrize("text", ["10.0.0.1/8", "300.1.1.1", "10.0.0.0/33", "", "host.example"])
def test_invalid_cidrs(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid CIDR"):
        parse_cidr(text)


def test_usernames() -> None:
    assert validate_username("acme.ftp_1") == "acme.ftp_1"
    for bad in ["", ".hidden", "a/b", "a b", "x" * 65, "root\x00"]:
        with pytest.raises(InvalidInput):
            validate_username(bad)


def test_attribute_names_and_types() -> None:
    assert validate_attribute_name("membershipTier") == "membershipTier"
    with pytest.raises(InvalidInput, match="identity column"):
        validate_attribute_name("deviceToken")
    with pytest.raises(InvalidInput):
        validate_attribute_name("1st")
    assert parse_attribute_type(" Integer[] ") is AttributeType.INTEGER_ARRAY
    assert AttributeType.DATE_ARRAY.is_array
    assert AttributeType.DATE_ARRAY.scalar is AttributeType.DATE
    assert not AttributeType.BOOLEAN.is_array
    with pytest.raises(InvalidInput, match="unknown attribute type"):
        parse_attribute_type("float")


def test_column_names_compare_without_case_and_spaces() -> None:
    assert normalize_column_name("device Token") == normalize_column_name("DeviceToken")
