"""The xlsx and csv writers: round trips, escaping, delimiters, file descriptions."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import openpyxl
import pytest

from ftpush.errors import InvalidInput
from ftpush.reports import DELIMITERS, Window, escape, write_csv, write_xlsx

HEADER = ["External ID", "Text", "Count"]
ROWS = [("u1", "hello", 1), ("u2", "=1+1", 2), ("u3", None, 3)]


def _read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_escape_formula_starts() -> None:
    for start in "=+-@\t\r":
        assert escape(start + "x") == "'" + start + "x"
    assert escape("") == ""
    assert escape("plain") == "plain"
    assert escape("a=b") == "a=b"


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_csv_round_trip_every_delimiter(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "r.csv"
    written = write_csv(path, HEADER, ROWS, delimiter=delimiter)
    assert written.rows == 3
    assert written.bytes == path.stat().st_size
    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert _read_csv(path, delimiter) == [
        HEADER,
        ["u1", "hello", "1"],
        ["u2", "'=1+1", "2"],
        ["u3", "", "3"],
    ]


@pytest.mark.parametrize("delimiter", [":", "", ",,", "\n", '"', "a"])
def test_csv_rejects_other_delimiters(tmp_path: Path, delimiter: str) -> None:
    with pytest.raises(InvalidInput) as info:
        write_csv(tmp_path / "r.csv", HEADER, ROWS, delimiter=delimiter)
    assert info.value.field == "delimiter"


def test_csv_hostile_values_round_trip(tmp_path: Path) -> None:
    hostile = [
        "line\nbreak",
        "cr\r\nlf",
        'quote " inside',
        "comma, semicolon; pipe| tilde~ caret^ tab\there",
        "nul\x00byte",
        "x" * 100_000,  # below csv.reader's default 128 KiB field limit
        "ünïcødé ☃ 🚀",
        "",
    ]
    for delimiter in DELIMITERS:
        path = tmp_path / "h.csv"
        write_csv(path, ["Value"], [(v,) for v in hostile], delimiter=delimiter)
        assert [r[0] for r in _read_csv(path, delimiter)[1:]] == hostile


def test_csv_formula_injection(tmp_path: Path) -> None:
    values = ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "\tx", "\rx", "ok"]
    path = tmp_path / "f.csv"
    write_csv(path, ["Value", "Number"], [(v, -5) for v in values])
    rows = _read_csv(path)[1:]
    assert [r[0] for r in rows] == ["'" + v for v in values[:-1]] + ["ok"]
    assert {r[1] for r in rows} == {"-5"}  # numbers are not text: never escaped


def test_xlsx_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    rows = [*ROWS, ("u4", "-2 °C", 2.5), ("u5", "x" * 40_000, 0)]
    written = write_xlsx(path, HEADER, rows)
    assert written.rows == 5
    assert written.bytes == path.stat().st_size
    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    book = openpyxl.load_workbook(path, read_only=True)
    got = [list(r) for r in book.active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    book.close()
    assert got[:5] == [
        HEADER,
        ["u1", "hello", 1],
        ["u2", "'=1+1", 2],
        ["u3", None, 3],
        ["u4", "'-2 °C", 2.5],
    ]
    assert got[5][1] == "x" * 32767


def test_xlsx_stores_text_not_formulas(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    write_xlsx(path, ["A"], [("http://example.com",), ("0123",)])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    assert sheet["A2"].value == "http://example.com"
    assert sheet["A2"].hyperlink is None
    assert sheet["A3"].value == "0123"  # text stays text
    assert sheet["A3"].data_type == "s"


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", dt.date(2026, 3, 29), 23),
        ("Europe/Berlin", dt.date(2026, 10, 25), 25),
        ("America/New_York", dt.date(2026, 3, 8), 23),
        ("America/New_York", dt.date(2026, 11, 1), 25),
        ("Europe/Istanbul", dt.date(2026, 3, 29), 24),
        ("Europe/Istanbul", dt.date(2026, 10, 25), 24),
        ("UTC", dt.date(2026, 3, 29), 24),
    ],
)
def test_window_length_across_dst(zone: str, day: dt.date, hours: int) -> None:
    start, end = Window.day(day).utc_bounds(zone)
    assert start is not None
    assert end - start == dt.timedelta(hours=hours)


def test_window_bounds_and_kinds() -> None:
    start, end = Window.day(dt.date(2026, 3, 29)).utc_bounds("Europe/Berlin")
    assert start == dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 3, 29, 22, tzinfo=dt.UTC)
    start, end = Window.day(dt.date(2026, 11, 1)).utc_bounds("America/New_York")
    assert start == dt.datetime(2026, 11, 1, 4, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 2, 5, tzinfo=dt.UTC)
    start, end = Window.day(dt.date(2026, 6, 1)).utc_bounds("Europe/Istanbul")
    assert start == dt.datetime(2026, 5, 31, 21, tzinfo=dt.UTC)
    # 00:30 UTC on 30 March is 02:30 in Berlin: yesterday there is the 29th.
    now = dt.datetime(2026, 3, 30, 0, 30, tzinfo=dt.UTC)
    assert Window.daily(now, "Europe/Berlin") == Window.day(dt.date(2026, 3, 29))
    assert Window.daily(now, "America/New_York") == Window.day(dt.date(2026, 3, 28))
    monthly = Window.monthly(now, "Europe/Berlin")
    assert (monthly.first, monthly.last) == (dt.date(2026, 2, 28), dt.date(2026, 3, 29))
    bulk = Window.bulk(now, "Europe/Berlin")
    assert bulk.first is None
    assert bulk.utc_bounds("Europe/Berlin")[0] is None
    # Today's window is capped at now.
    today = Window.day(dt.date(2026, 3, 30))
    assert today.utc_bounds("Europe/Berlin", now)[1] == now
    assert Window.day(dt.date(2026, 3, 29)).stamp == "20260329"
    with pytest.raises(InvalidInput):
        Window(dt.date(2026, 3, 2), dt.date(2026, 3, 1))
