"""Pure parsers for FTP directory listings and timestamps (no I/O).

``MLSD``/``MLST`` (RFC 3659) are exact and preferred; many servers (vsftpd
among them) only answer ``LIST``, whose Unix ``ls -l`` or Windows/IIS format
is parsed here. ``LIST`` times are in the server's time zone with minute (or,
for old files, day) precision; they are read as UTC, which is what most FTP
servers send and is good enough for "has this file changed since last poll".

Example::

    >>> parse_list_line("-rw-r--r--  1 u g  6 Nov 26 23:45 a b.txt", now_year=2025)
    RemoteEntry(name='a b.txt', size=6, mtime=1764200700.0, is_dir=False)
    >>> parse_mdtm("213 20250101120000")
    1735732800.0
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from ftpush.remote.base import RemoteEntry

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_UNIX = re.compile(
    r"^(?P<type>[-dlbcps])[-rwxsStTl+.@]{9,10}\s+\d+\s+\S+\s+(?:\S+\s+)?"
    r"(?P<size>\d+)\s+(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
    r"(?:(?P<hh>\d{1,2}):(?P<mm>\d{2})|(?P<year>\d{4}))\s(?P<name>.+)$"
)
_DOS = re.compile(
    r"^(?P<mon>\d{2})-(?P<day>\d{2})-(?P<year>\d{2,4})\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})"
    r"(?P<ampm>[AP]M)?\s+(?:(?P<dir><DIR>)|(?P<size>\d+))\s+(?P<name>.+)$",
    re.IGNORECASE,
)


def _epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


def parse_list_line(line: str, *, now_year: int | None = None) -> RemoteEntry | None:
    """One ``LIST`` line as an entry, or ``None`` (totals, ``.``/``..``, unknown formats)."""
    now = dt.datetime.now(dt.UTC)
    year_now = now_year or now.year
    match = _UNIX.match(line.rstrip("\r\n"))
    if match:
        name = match["name"]
        if match["type"] == "l":
            name = name.split(" -> ", 1)[0]
        month = _MONTHS.get(match["mon"].lower())
        if month is None:
            return None
        day = int(match["day"])
        if match["year"]:
            mtime = _epoch(int(match["year"]), month, day)
        else:
            hour, minute = int(match["hh"]), int(match["mm"])
            mtime = _epoch(year_now, month, day, hour, minute)
            # ls shows no year for the last six months: a date "in the future" is last year's.
            if now_year is None and mtime > now.timestamp() + 86400:
                mtime = _epoch(year_now - 1, month, day, hour, minute)
        entry = RemoteEntry(name, int(match["size"]), mtime, match["type"] == "d")
    else:
        match = _DOS.match(line.rstrip("\r\n"))
        if not match:
            return None
        year = int(match["year"])
        year += 2000 if year < 70 else 1900 if year < 100 else 0
        hour = int(match["hh"]) % 12 if match["ampm"] else int(match["hh"])
        if (match["ampm"] or "").upper() == "PM":
            hour += 12
        mtime = _epoch(year, int(match["mon"]), int(match["day"]), hour, int(match["mm"]))
        is_dir = match["dir"] is not None
        entry = RemoteEntry(match["name"], 0 if is_dir else int(match["size"]), mtime, is_dir)
    return None if entry.name in {".", ".."} else entry


def parse_time_val(value: str) -> float:
    """Seconds since the epoch of an RFC 3659 ``YYYYMMDDHHMMSS[.sss]`` (UTC) value."""
    whole, _, fraction = value.strip().partition(".")
    stamp = dt.datetime.strptime(whole[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return stamp.timestamp() + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


def parse_mdtm(reply: str) -> float:
    """The time of an ``MDTM`` reply such as ``213 20250101120000``."""
    return parse_time_val(reply.rsplit(maxsplit=1)[-1])


def parse_facts(text: str) -> tuple[dict[str, str], str]:
    """``type=file;size=6;modify=...; name`` → (facts with lower-case keys, name)."""
    facts_text, _, name = text.strip("\r\n").lstrip(" ").partition(" ")
    facts = {}
    for fact in facts_text.split(";"):
        key, sep, value = fact.partition("=")
        if sep:
            facts[key.lower()] = value
    return facts, name


def entry_from_facts(facts: dict[str, str], name: str) -> RemoteEntry | None:
    """An entry from MLSD/MLST facts; ``None`` for ``cdir``/``pdir`` and unknown types."""
    kind = facts.get("type", "").lower()
    if kind not in {"file", "dir"} and not kind.startswith("os.unix=slink"):
        return None
    mtime = parse_time_val(facts["modify"]) if "modify" in facts else 0.0
    size = int(facts.get("size", facts.get("sizd", "0")) or 0)
    return RemoteEntry(name, 0 if kind == "dir" else size, mtime, kind == "dir")
