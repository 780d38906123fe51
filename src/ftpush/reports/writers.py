"""Streaming report writers: xlsx (XlsxWriter, constant memory) and csv.

Both take a header and an iterable of rows, write them in order to ``path``
without buffering the sheet, and return :class:`Written` (rows, bytes, SHA-256 of
the file on disk).

Formula injection: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return would be run as a formula by a spreadsheet that opens the
file, so it is written with a leading single quote (``'=1+1``), as OWASP
recommends. Numbers are written as numbers and never escaped.

Example::

    >>> write_csv(path, ["A", "B"], [(1, "=x")], delimiter=";")  # doctest: +SKIP
    Written(rows=1, bytes=13, sha256='...')
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter

from ftpush.errors import InvalidInput

DELIMITERS = (",", ";", "|", "~", "^", "\t")
FORMULA_STARTS = frozenset("=+-@\t\r")
XLSX_MAX_TEXT = 32767  # characters in one xlsx cell
SHEET_NAME = "Report"

Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Written:
    rows: int  # data rows, the header not counted
    bytes: int
    sha256: str


def escape(value: str) -> str:
    """``value`` made inert for spreadsheets (a leading quote when it could be a formula)."""
    if value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def check_delimiter(delimiter: str) -> str:
    if delimiter not in DELIMITERS:
        allowed = " ".join(repr(d) for d in DELIMITERS)
        raise InvalidInput(f"delimiter {delimiter!r} is not one of {allowed}", field="delimiter")
    return delimiter


def _safe_row(row: Sequence[Any]) -> list[Any]:
    return [escape(v) if isinstance(v, str) else v for v in row]


def write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]], *, delimiter: str = ","
) -> Written:
    """Write UTF-8 csv (RFC 4180 quoting, CRLF line ends) and describe the file."""
    check_delimiter(delimiter)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(_safe_row(header))
        danger = FORMULA_STARTS
        writerow = writer.writerow
        for row in rows:
            writerow(["'" + v if v.__class__ is str and v and v[0] in danger else v for v in row])
            count += 1
    return _describe(path, count)


def write_xlsx(path: Path, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Written:
    """Write one sheet row by row (``constant_memory``: no row is kept once written).

    Text longer than an xlsx cell holds (32,767 characters) is cut to that length.
    """
    workbook = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    count = 0
    try:
        sheet = workbook.add_worksheet(SHEET_NAME)
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, _safe_row(header), bold)
        danger = FORMULA_STARTS
        write_row = sheet.write_row
        for row in rows:
            count += 1
            write_row(
                count,
                0,
                [
                    ("'" + v if v and v[0] in danger else v)[:XLSX_MAX_TEXT]
                    if v.__class__ is str
                    else v
                    for v in row
                ],
            )
    finally:
        workbook.close()
    return _describe(path, count)


def _describe(path: Path, rows: int) -> Written:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return Written(rows, size, digest.hexdigest())
