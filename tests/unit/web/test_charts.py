"""The panel's server-side SVG charts: buckets, round axes, escaping, accessibility."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from ftpush.web.panel.charts import Series, Timeline, bar_chart, nice_ceiling, timeline_for

SVG = "{http://www.w3.org/2000/svg}"
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def chart(**overrides: object) -> str:
    values: dict[str, object] = {
        "title": "Sends",
        "description": "Three buckets.",
        "labels": ["10:00", "10:01", "10:02"],
        "series": [Series("sent", (4, 0, 2), "#0072b2"), Series("failed", (1, 1, 0), "#d55e00")],
        "chart_id": "c1",
        "x_title": "Time",
        "y_title": "Messages per minute",
    }
    values.update(overrides)
    return str(bar_chart(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "last", "width", "unit", "count", "start"),
    [
        # seconds apart: one minute bucket, at the local minute
        ("2026-03-10T09:15:42+00:00", "2026-03-10T09:15:50+00:00", 60, "minute", 1,
         "2026-03-10T09:15:00+00:00"),
        # ten minutes: minute buckets, 11 of them
        ("2026-03-10T09:15:42+00:00", "2026-03-10T09:25:41+00:00", 60, "minute", 11,
         "2026-03-10T09:15:00+00:00"),
        # two hours: 5-minute buckets from a round 5 minutes
        ("2026-03-10T09:17:00+00:00", "2026-03-10T11:17:00+00:00", 300, "5 minutes", 25,
         "2026-03-10T09:15:00+00:00"),
        # three days: 3-hour buckets from a round local hour
        ("2026-03-10T09:17:00+00:00", "2026-03-13T09:17:00+00:00", 3 * 3600, "3 hours", 25,
         "2026-03-10T08:00:00+00:00"),
        # a month of clicks: daily buckets from local midnight (Paris is UTC+1 in March)
        ("2026-03-10T09:17:00+00:00", "2026-04-05T09:17:00+00:00", 86400, "day", 27,
         "2026-03-09T23:00:00+00:00"),
        # most of a year: weeks
        ("2026-01-10T09:00:00+00:00", "2026-12-10T09:00:00+00:00", 7 * 86400, "7 days", 48,
         "2026-01-09T23:00:00+00:00"),
        # two years: 30-day buckets
        ("2026-01-10T09:00:00+00:00", "2027-12-10T09:00:00+00:00", 30 * 86400, "30 days", 24,
         "2026-01-09T23:00:00+00:00"),
    ],
)  # fmt: skip
def test_timeline_for_picks_the_smallest_round_width(
    first: str, last: str, width: int, unit: str, count: int, start: str
) -> None:
    timeline = timeline_for(at(first), at(last), "Europe/Paris")
    assert timeline.width == dt.timedelta(seconds=width)
    assert (timeline.unit, timeline.count, timeline.start) == (unit, count, at(start))
    assert timeline.count <= 48
    assert timeline.start <= at(first)
    assert timeline.start + timeline.width * timeline.count > at(last)


def test_timeline_beyond_thirty_day_buckets_widens_to_whole_days() -> None:
    timeline = timeline_for(at("2020-01-01T00:00:00+00:00"), at("2026-01-01T00:00:00+00:00"), "UTC")
    assert timeline.count <= 48
    assert timeline.width % dt.timedelta(days=1) == dt.timedelta(0)
    assert timeline.unit == f"{timeline.width.days} days"


def test_timeline_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        timeline_for(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2), "UTC")


def test_labels_are_local_and_as_short_as_stays_unambiguous() -> None:
    minute = dt.timedelta(minutes=1)
    one_day = Timeline(at("2026-07-01T10:00:00+00:00"), minute, 2, "Europe/Istanbul", "minute")
    assert one_day.labels() == ["13:00", "13:01"]
    assert one_day.axis_title() == "Time on 2026-07-01 (Europe/Istanbul)"
    over_midnight = Timeline(at("2026-07-01T20:59:00+00:00"), minute, 2, "Europe/Istanbul", "")
    assert over_midnight.labels() == ["07-01 23:59", "07-02 00:00"]
    assert over_midnight.axis_title() == "Time (Europe/Istanbul)"
    days = Timeline(at("2026-07-01T21:00:00+00:00"), dt.timedelta(days=1), 2, "Europe/Istanbul", "")
    assert days.labels() == ["2026-07-02", "2026-07-03"]


@pytest.mark.parametrize(
    ("value", "top", "step"),
    [(0, 1, 1), (1, 1, 1), (5, 5, 1), (6, 6, 2), (7, 8, 2), (42, 50, 10), (99, 100, 20),
     (1000, 1000, 200), (1234567, 1500000, 500000)],
)  # fmt: skip
def test_nice_ceiling_gives_round_axes(value: int, top: int, step: int) -> None:
    assert nice_ceiling(value) == (top, step)
    assert top >= value
    assert top // step <= 5


def test_the_chart_is_well_formed_accessible_svg_with_its_values() -> None:
    svg = chart()
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Sends"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Three buckets."  # type: ignore[union-attr]
    bars = [
        (g.get("data-label"), r.get("data-series"), int(r.get("data-value") or -1))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "bucket"
        for r in g.iter(f"{SVG}rect")
    ]
    assert bars == [
        ("10:00", "sent", 4), ("10:00", "failed", 1), ("10:01", "sent", 0),
        ("10:01", "failed", 1), ("10:02", "sent", 2), ("10:02", "failed", 0),
    ]  # fmt: skip
    # Heights are proportional to the values, on an axis of round numbers (0..4).
    heights = {
        (r.get("data-series"), r.get("data-value")): float(r.get("height") or 0)
        for r in root.iter(f"{SVG}rect")
        if r.get("data-series")
    }
    assert heights[("sent", "4")] == pytest.approx(4 * heights[("failed", "1")], rel=0.01)
    assert heights[("sent", "0")] == 0
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for expected in ("0", "1", "2", "3", "4", "10:00", "10:02", "Time", "Messages per minute",
                     "sent", "failed"):  # fmt: skip
        assert expected in texts
    # Each bar says what it is (a tooltip).
    assert "sent, 10:00: 4" in svg


def test_every_text_is_escaped_and_colours_and_ids_are_checked() -> None:
    evil = '<script>alert("x")</script>&'
    svg = chart(
        title=evil, description=evil, labels=[evil, "b", "c"], x_title=evil, y_title=evil,
        series=[Series(evil, (1, 2, 3), "#abc")],
    )  # fmt: skip
    assert "<script" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == evil  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="colour"):
        chart(series=[Series("s", (1, 2, 3), 'red" onload="alert(1)')])
    with pytest.raises(ValueError, match="not an id"):
        chart(chart_id='x" onload="y')
    with pytest.raises(ValueError, match="has 2 values"):
        chart(series=[Series("s", (1, 2), "#000000")])


def test_many_buckets_get_a_few_x_labels_and_an_empty_chart_still_draws() -> None:
    labels = [f"{h:02d}:00" for h in range(48)]
    svg = chart(labels=labels, series=[Series("sent", tuple(range(48)), "#000")])
    root = ET.fromstring(svg)
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "axis x-axis")
    shown = [t.text for t in axis.iter(f"{SVG}text") if t.text != "Time"]
    assert shown == labels[::6]
    empty = ET.fromstring(chart(labels=["a"], series=[Series("sent", (0,), "#000")]))
    assert [r.get("height") for r in empty.iter(f"{SVG}rect") if r.get("data-series")] == ["0.0"]
