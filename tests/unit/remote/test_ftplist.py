"""FTP listing parsers: Unix ``ls -l``, Windows/IIS, MLSD facts, MDTM."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftpush.remote._ftplist import (
    entry_from_facts,
    parse_facts,
    parse_list_line,
    parse_mdtm,
    parse_time_val,
)
from ftpush.remote.base import RemoteEntry


def ts(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "-rw-r--r--    1 999      995          5000 Nov 26 23:54 big.bin",
            RemoteEntry("big.bin", 5000, ts(2025, 11, 26, 23, 54), False),
        ),
        (
            "drwxr-xr-x    2 1000     1000         4096 Jan 02  2019 old dir",
            RemoteEntry("old dir", 4096, ts(2019, 1, 2), True),
        ),
        (
            "-rw-r--r--+ 1 owner 12 Mar  5 07:01 acl.txt",
            RemoteEntry("acl.txt", 12, ts(2025, 3, 5, 7, 1), False),
        ),
        (
            "lrwxrwxrwx    1 0        0               7 Feb 10 10:00 link -> target",
            RemoteEntry("link", 7, ts(2025, 2, 10, 10, 0), False),
        ),
        (
            "11-26-25  11:45PM                 6 report.csv",
            RemoteEntry("report.csv", 6, ts(2025, 11, 26, 23, 45), False),
        ),
        (
            "01-02-2019  09:05AM       <DIR>          Profile",
            RemoteEntry("Profile", 0, ts(2019, 1, 2, 9, 5), True),
        ),
        (
            "03-04-99  12:10PM                 1 y2k.txt",
            RemoteEntry("y2k.txt", 1, ts(1999, 3, 4, 12, 10), False),
        ),
    ],
)
def test_list_lines(line: str, expected: RemoteEntry) -> None:
    assert parse_list_line(line + "\r\n", now_year=2025) == expected


@pytest.mark.parametrize(
    "line",
    [
        "total 12",
        "drwxr-xr-x 2 u g 4096 Nov 26 23:54 .",
        "drwxr-xr-x 2 u g 4096 Nov 26 23:54 ..",
        "-rw-r--r-- 1 u g 5 Foo 26 23:54 bad-month",
        "garbage",
        "",
    ],
)
def test_lines_that_are_not_entries(line: str) -> None:
    assert parse_list_line(line, now_year=2025) is None


def test_a_date_in_the_future_is_last_year() -> None:
    now = dt.datetime.now(dt.UTC)
    ahead = now + dt.timedelta(days=40)
    line = f"-rw-r--r-- 1 u g 5 {ahead:%b} {ahead.day:2d} 10:00 f"
    entry = parse_list_line(line)
    assert entry is not None
    assert entry.mtime < now.timestamp()
    assert dt.datetime.fromtimestamp(entry.mtime, dt.UTC).year == ahead.year - 1


@given(
    name=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_characters="/"),
        min_size=1,
        max_size=40,
    ).filter(lambda n: n not in {".", ".."} and " -> " not in n),
    size=st.integers(min_value=0, max_value=10**12),
    stamp=st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2037, 1, 1)),
    is_dir=st.booleans(),
)
def test_unix_lines_round_trip(name: str, size: int, stamp: dt.datetime, is_dir: bool) -> None:
    kind = "d" if is_dir else "-"
    line = (
        f"{kind}rw-r--r--   1 owner group {size:>8} {stamp:%b} {stamp.day:2d}  {stamp.year} {name}"
    )
    entry = parse_list_line(line, now_year=2025)
    assert entry == RemoteEntry(name, size, ts(stamp.year, stamp.month, stamp.day), is_dir)


def test_facts_and_times() -> None:
    facts, name = parse_facts("Type=file;Size=42;Modify=20250101120000.5; my file.csv\r\n")
    assert name == "my file.csv"
    assert entry_from_facts(facts, name) == RemoteEntry(
        "my file.csv", 42, ts(2025, 1, 1, 12) + 0.5, False
    )
    folder, _ = parse_facts("type=dir;modify=20250101120000; sub")
    assert entry_from_facts(folder, "sub") == RemoteEntry("sub", 0, ts(2025, 1, 1, 12), True)
    for kind in ("cdir", "pdir"):
        facts, name = parse_facts(f"type={kind}; .")
        assert entry_from_facts(facts, name) is None
    assert parse_mdtm("213 20250101120000") == ts(2025, 1, 1, 12)
    assert parse_time_val("20250101120000") == ts(2025, 1, 1, 12)
