"""Charts drawn on the server as inline SVG: no script, no third-party library.

Two pure pieces, both unit-tested:

* :func:`timeline_for` chooses the buckets of a time series: a standard width (a minute
  to thirty days) that gives at most ``max_buckets`` bars, starting at a round local time
  of the app's timezone;
* :func:`bar_chart` draws grouped bars (one group per bucket, one bar per series) with
  a y axis of round numbers, labels on both axes and a legend, as an ``<svg>`` string.
  It is an image with a ``<title>`` and a ``<desc>`` (``role="img"``, labelled by both)
  for screen readers, and each bar carries its own ``<title>`` (a tooltip with its
  value); the page shows the figures as a table too. Every text is escaped, and
  colours are checked, so nothing given can become markup.

Example::

    >>> svg = bar_chart(title="Sends", description="Two buckets.", labels=["a", "b"],
    ...                 series=[Series("sent", (3, 1), "#0b5cad")], chart_id="demo")
    >>> svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    True
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 320
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 40, 64
_MAX_X_LABELS = 8
_COLOUR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

# Bucket widths, smallest first; each below a day divides a day, so buckets start at
# round local times (xx:00, xx:15...).
_WIDTHS = (
    (dt.timedelta(minutes=1), "minute"),
    (dt.timedelta(minutes=5), "5 minutes"),
    (dt.timedelta(minutes=15), "15 minutes"),
    (dt.timedelta(hours=1), "hour"),
    (dt.timedelta(hours=3), "3 hours"),
    (dt.timedelta(hours=6), "6 hours"),
    (dt.timedelta(hours=12), "12 hours"),
    (dt.timedelta(days=1), "day"),
    (dt.timedelta(days=7), "7 days"),
    (dt.timedelta(days=30), "30 days"),
)
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Series:
    """One series of a chart: its name (legend), a value per bucket, its fill colour."""

    name: str
    values: Sequence[int]
    colour: str


@dataclass(frozen=True)
class Timeline:
    """``count`` buckets of ``width`` from ``start`` (aware UTC), shown in ``zone``."""

    start: dt.datetime
    width: dt.timedelta
    count: int
    zone: str
    unit: str  # "minute", "5 minutes", ... for "per …"

    def starts(self) -> list[dt.datetime]:
        return [self.start + self.width * i for i in range(self.count)]

    def labels(self) -> list[str]:
        """Each bucket's start in the app's local time, as short as stays unambiguous."""
        zone = zoneinfo.ZoneInfo(self.zone)
        local = [s.astimezone(zone) for s in self.starts()]
        if self.width >= _DAY:
            return [t.strftime("%Y-%m-%d") for t in local]
        if len({t.date() for t in local}) == 1:
            return [t.strftime("%H:%M") for t in local]
        return [t.strftime("%m-%d %H:%M") for t in local]

    def axis_title(self) -> str:
        """The x axis: the time zone, and the day when every bucket is on the same one."""
        zone = zoneinfo.ZoneInfo(self.zone)
        days = {s.astimezone(zone).date() for s in self.starts()}
        if self.width < _DAY and len(days) == 1:
            return f"Time on {days.pop().isoformat()} ({self.zone})"
        return f"Time ({self.zone})"


def timeline_for(
    first: dt.datetime, last: dt.datetime, zone: str, *, max_buckets: int = 48
) -> Timeline:
    """Buckets covering ``[first, last]``: the smallest standard width that needs at
    most ``max_buckets`` of them, the first starting at a round local time."""
    if first.tzinfo is None or last.tzinfo is None:
        raise ValueError("aware datetimes only")
    last = max(first, last)
    tz = zoneinfo.ZoneInfo(zone)
    for width, unit in _WIDTHS:
        start = _round_down(first.astimezone(tz), width).astimezone(dt.UTC)
        count = (last - start) // width + 1
        if count <= max_buckets:
            return Timeline(start, width, count, zone, unit)
    days = math.ceil((last - first) / _DAY / max_buckets)
    width = dt.timedelta(days=days)
    start = _round_down(first.astimezone(tz), _DAY).astimezone(dt.UTC)
    return Timeline(start, width, (last - start) // width + 1, zone, f"{days} days")


def _round_down(local: dt.datetime, width: dt.timedelta) -> dt.datetime:
    """The local wall-clock time at or before ``local`` on a multiple of ``width``."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if width >= _DAY:
        return midnight
    step = int(width.total_seconds())
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    floor = seconds - seconds % step
    return local.replace(
        hour=floor // 3600, minute=floor % 3600 // 60, second=floor % 60, microsecond=0
    )


def nice_ceiling(value: int) -> tuple[int, int]:
    """A round top for a y axis at or above ``value`` and its tick step (1, 2 or 5 × 10ⁿ).

    >>> nice_ceiling(0), nice_ceiling(7), nice_ceiling(42), nice_ceiling(1000)
    ((1, 1), (8, 2), (50, 10), (1000, 200))
    """
    if value <= 0:
        return 1, 1
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 5, 10):
        step = max(1, int(factor * magnitude))
        if step * 5 >= value:
            return math.ceil(value / step) * step, step
    raise AssertionError("unreachable")  # pragma: no cover - factor 10 always fits


def bar_chart(
    *,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    chart_id: str,
    x_title: str = "",
    y_title: str = "",
) -> Markup:
    """Grouped bars: one group per label, one bar per series, as an ``<svg>`` element."""
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"not an id: {chart_id!r}")
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values, not {len(labels)}")
        if not _COLOUR.fullmatch(s.colour):
            raise ValueError(f"not a colour: {s.colour!r}")
    top, step = nice_ceiling(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    bottom = _TOP + plot_h
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]
    # y axis: gridlines and round numbers
    out.append('<g class="axis y-axis" font-size="14" fill="#5f6b73">')
    for tick in range(0, top + 1, step):
        y = bottom - plot_h * tick / top
        out.append(
            f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#d5dade" stroke-width="1"/>'
            f'<text x="{_LEFT - 6}" y="{y + 5:.1f}" text-anchor="end">{tick}</text>'
        )
    if y_title:
        out.append(
            f'<text x="16" y="{_TOP + plot_h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 16 {_TOP + plot_h / 2:.1f})">{escape(y_title)}</text>'
        )
    out.append("</g>")
    # bars
    groups = max(1, len(labels))
    group_w = plot_w / groups
    bar_w = group_w * 0.8 / max(1, len(series))
    for index, label in enumerate(labels):
        x0 = _LEFT + group_w * index + group_w * 0.1
        out.append(f'<g class="bucket" data-label="{escape(label)}">')
        for number, s in enumerate(series):
            value = s.values[index]
            height = plot_h * value / top
            out.append(
                f'<rect class="bar" data-series="{escape(s.name)}" data-value="{value}" '
                f'x="{x0 + bar_w * number:.1f}" y="{bottom - height:.1f}" '
                f'width="{bar_w:.1f}" height="{height:.1f}" fill="{s.colour}">'
                f"<title>{escape(s.name)}, {escape(label)}: {value}</title></rect>"
            )
        out.append("</g>")
    # x axis: the baseline and at most a few labels
    out.append('<g class="axis x-axis" font-size="14" fill="#5f6b73">')
    out.append(
        f'<line x1="{_LEFT}" x2="{WIDTH - _RIGHT}" y1="{bottom}" y2="{bottom}" '
        f'stroke="#5f6b73" stroke-width="1"/>'
    )
    every = math.ceil(len(labels) / _MAX_X_LABELS) if labels else 1
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = _LEFT + group_w * (index + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 20}" text-anchor="middle">{escape(label)}</text>'
        )
    if x_title:
        out.append(
            f'<text x="{_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 12}" text-anchor="middle">'
            f"{escape(x_title)}</text>"
        )
    out.append("</g>")
    # legend, top left
    out.append('<g class="legend" font-size="15" fill="#1d2327">')
    x = float(_LEFT)
    for s in series:
        out.append(
            f'<rect x="{x:.1f}" y="11" width="14" height="14" fill="{s.colour}"/>'
            f'<text x="{x + 19:.1f}" y="23">{escape(s.name)}</text>'
        )
        x += 32 + 9 * len(s.name)
    out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above is escaped
