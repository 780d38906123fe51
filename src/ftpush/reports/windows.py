"""Report windows: calendar days in the app's timezone, as UTC bounds.

A window is a range of whole app-local days ``first..last`` (both included). Its
UTC bounds are the instants of local midnight at its start and after its end, so
a window that spans a DST change is 23 or 25 hours long per changed day.

Example::

    >>> w = Window.day(dt.date(2026, 3, 29))
    >>> w.utc_bounds("Europe/Berlin")[0].isoformat()
    '2026-03-28T23:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ftpush.errors import InvalidInput

MONTHLY_DAYS = 30


@dataclass(frozen=True, slots=True)
class Window:
    """App-local days ``first..last``; ``first=None`` means everything up to ``last``."""

    first: dt.date | None
    last: dt.date

    def __post_init__(self) -> None:
        if self.first is not None and self.first > self.last:
            raise InvalidInput("the window starts after it ends", field="window")

    @classmethod
    def day(cls, day: dt.date) -> Window:
        return cls(day, day)

    @classmethod
    def daily(cls, now: dt.datetime, timezone: str) -> Window:
        """The previous calendar day in the app's timezone."""
        return cls.day(local_today(now, timezone) - dt.timedelta(days=1))

    @classmethod
    def monthly(cls, now: dt.datetime, timezone: str) -> Window:
        """The last 30 calendar days, ending yesterday (app-local)."""
        last = local_today(now, timezone) - dt.timedelta(days=1)
        return cls(last - dt.timedelta(days=MONTHLY_DAYS - 1), last)

    @classmethod
    def bulk(cls, now: dt.datetime, timezone: str) -> Window:
        """Everything up to the end of yesterday (app-local)."""
        return cls(None, local_today(now, timezone) - dt.timedelta(days=1))

    def utc_bounds(
        self, timezone: str, now: dt.datetime | None = None
    ) -> tuple[dt.datetime | None, dt.datetime]:
        """``[start, end)`` in UTC; ``end`` is capped at ``now`` (today's rows so far)."""
        zone = ZoneInfo(timezone)
        start = None if self.first is None else local_midnight(self.first, zone)
        end = local_midnight(self.last + dt.timedelta(days=1), zone)
        if now is not None:
            end = min(end, now.astimezone(dt.UTC))
        return start, end

    @property
    def stamp(self) -> str:
        """``YYYYMMDD`` of the window's last day, as in the file names."""
        return self.last.strftime("%Y%m%d")


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant the app-local ``day`` begins.

    ``fold=0`` picks the first midnight when midnight repeats and the moment of the
    jump when it is skipped (zones that change at 00:00), so days never overlap or gap.
    """
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def local_today(now: dt.datetime, timezone: str) -> dt.date:
    if now.tzinfo is None:
        raise ValueError("naive datetime; use an aware one")
    return now.astimezone(ZoneInfo(timezone)).date()
