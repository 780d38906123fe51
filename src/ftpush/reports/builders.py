"""One builder per report of SPEC §5.

A builder takes the database, the app key, a :class:`~ftpush.reports.windows.Window`
of app-local days and ``now``, and yields :class:`ReportFile` objects: a file name
stem, a header of human-readable column names (docs/reports.md) and lazy rows.
Rows are read only when iterated, in batches from a read session, so a report of
any size streams from the database into a writer.

Every timestamp is written in the app's timezone with its UTC offset
(``2026-03-29T01:30:00+01:00``).

Example::

    >>> files = build(db, ReportName.CAMPAIGNS, "demo", Window.day(day), now)  # doctest: +SKIP
    >>> for report in files:  # doctest: +SKIP
    ...     path, written = report.write(out_dir, ExportFormat.CSV, delimiter=";")
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ftpush.models import CampaignType, ExportFormat, InboxStatus, Platform, ReportName
from ftpush.reports.windows import Window
from ftpush.reports.writers import Cell, Written, write_csv, write_xlsx
from ftpush.storage import Database, report_queries
from ftpush.storage.report_queries import AppInfo, CampaignFigures

RowTuple = tuple[Cell, ...]

CAMPAIGN_HEADER = (
    "Message ID", "Type", "Name", "Text", "Created at", "Started at", "Finished at",
    "Targeted", "Sent", "Failed", "Clicked", "Conversion rate",
    "iOS targeted", "iOS sent", "iOS failed", "iOS clicked",
    "Android targeted", "Android sent", "Android failed", "Android clicked",
    "Inbox read", "Inbox unread", "Inbox deleted",
)  # fmt: skip
RECIPIENT_HEADER = (
    "External ID", "Platform", "Device token", "Status", "Error reason", "Sent at", "Clicked at",
)  # fmt: skip
EVENT_HEADER = ("External ID", "Device token", "Event", "Time", "Parameters")
INSTALLATION_HEADER = (
    "External ID", "Platform", "Device token", "App version", "OS version",
    "Installed at", "Last seen at", "Push permission", "Token state",
)  # fmt: skip
APP_TRACKING_HEADER = ("External ID", "Device token", "Tracked app", "Installed", "Seen at")

APP_TRACKING_EVENT = "app_tracking"


class LazyRows:
    """Rows produced by calling ``source`` each time they are iterated."""

    def __init__(self, source: Callable[[], Iterator[RowTuple]]) -> None:
        self._source = source

    def __iter__(self) -> Iterator[RowTuple]:
        return self._source()


@dataclass(frozen=True)
class ReportFile:
    report: ReportName
    stem: str  # the file name without its extension
    header: tuple[str, ...]
    rows: Iterable[RowTuple]

    def file_name(self, fmt: ExportFormat) -> str:
        return f"{self.stem}.{ExportFormat(fmt).value}"

    def write(
        self, directory: Path, fmt: ExportFormat, *, delimiter: str = ","
    ) -> tuple[Path, Written]:
        """Write the report into ``directory`` under its final name."""
        path = directory / self.file_name(fmt)
        if ExportFormat(fmt) is ExportFormat.XLSX:
            return path, write_xlsx(path, self.header, self.rows)
        return path, write_csv(path, self.header, self.rows, delimiter=delimiter)


# --- cell formatting ----------------------------------------------------------------


def local_time(value: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 in the app's timezone, with its offset; seconds precision."""
    if value is None:
        return None
    return value.astimezone(zone).isoformat(timespec="seconds")


def yes_no(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return "yes"
    if text in ("false", "0", "no", "n"):
        return "no"
    return str(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- builders -------------------------------------------------------------------------


def _app(db: Database, app_key: str) -> AppInfo:
    with db.read() as session:
        return report_queries.app_info(session, app_key)


def _campaign_row(c: CampaignFigures, zone: ZoneInfo) -> RowTuple:
    ios = c.by_platform[Platform.IOS.value]
    android = c.by_platform[Platform.ANDROID.value]
    sent, clicked = c.total(1), c.total(3)
    rate = round(clicked / sent, 4) if sent else 0.0
    return (
        c.msg_id, c.type, c.name, c.text,
        local_time(c.created_at, zone), local_time(c.started_at, zone),
        local_time(c.finished_at, zone),
        c.total(0), sent, c.total(2), clicked, rate,
        *ios, *android,
        c.inbox[InboxStatus.READ.value], c.inbox[InboxStatus.UNREAD.value],
        c.inbox[InboxStatus.DELETED.value],
    )  # fmt: skip


def _campaign_report(
    report: ReportName,
    infix: str,
    type_: CampaignType | None,
    db: Database,
    app_key: str,
    window: Window,
    now: dt.datetime,
) -> Iterator[ReportFile]:
    app = _app(db, app_key)
    zone = ZoneInfo(app.timezone)
    start, end = window.utc_bounds(app.timezone, now)

    def rows() -> Iterator[RowTuple]:
        with db.read() as session:
            for part in report_queries.campaign_figures(session, app.id, start, end, type_=type_):
                for c in part:
                    yield _campaign_row(c, zone)

    yield ReportFile(
        report, f"{app.key}_{infix}PUSH_REPORTS_{window.stamp}", CAMPAIGN_HEADER, LazyRows(rows)
    )


def campaigns(db: Database, app_key: str, window: Window, now: dt.datetime) -> Iterator[ReportFile]:
    """Every campaign of the window: ``{appkey}_PUSH_REPORTS_{YYYYMMDD}``."""
    return _campaign_report(ReportName.CAMPAIGNS, "", None, db, app_key, window, now)


def automated_campaigns(
    db: Database, app_key: str, window: Window, now: dt.datetime
) -> Iterator[ReportFile]:
    """``{appkey}_AUTOMATED_PUSH_REPORTS_{YYYYMMDD}``."""
    return _campaign_report(
        ReportName.AUTOMATED_CAMPAIGNS, "AUTOMATED_", CampaignType.AUTOMATED,
        db, app_key, window, now,
    )  # fmt: skip


def transactional_campaigns(
    db: Database, app_key: str, window: Window, now: dt.datetime
) -> Iterator[ReportFile]:
    """``{appkey}_TRANSACTIONAL_PUSH_REPORTS_{YYYYMMDD}``."""
    return _campaign_report(
        ReportName.TRANSACTIONAL_CAMPAIGNS, "TRANSACTIONAL_", CampaignType.TRANSACTIONAL,
        db, app_key, window, now,
    )  # fmt: skip


def campaign_recipients(
    db: Database, app_key: str, window: Window, now: dt.datetime
) -> Iterator[ReportFile]:
    """One file per campaign of the window: ``{appkey}_{msgID}_PUSH_REPORTS_{YYYYMMDD}``."""
    app = _app(db, app_key)
    zone = ZoneInfo(app.timezone)
    start, end = window.utc_bounds(app.timezone, now)
    with db.read() as session:
        refs = report_queries.campaigns_in_window(session, app.id, start, end)
    for ref in refs:
        yield ReportFile(
            ReportName.CAMPAIGN_RECIPIENTS,
            f"{app.key}_{ref.msg_id}_PUSH_REPORTS_{window.stamp}",
            RECIPIENT_HEADER,
            LazyRows(_recipient_source(db, ref.id, zone)),
        )


def _recipient_source(
    db: Database, campaign_id: int, zone: ZoneInfo
) -> Callable[[], Iterator[RowTuple]]:
    def rows() -> Iterator[RowTuple]:
        with db.read() as session:
            for part in report_queries.recipient_rows(session, campaign_id):
                for ext, platform, token, status, reason, sent, clicked in part:
                    yield (
                        ext, _text(platform), token, _text(status), reason,
                        local_time(sent, zone), local_time(clicked, zone),
                    )  # fmt: skip

    return rows


def recipient_rows_for(db: Database, campaign_id: int, timezone: str) -> Iterable[RowTuple]:
    """The rows of one campaign's recipients report (for a campaign picked by id)."""
    return LazyRows(_recipient_source(db, campaign_id, ZoneInfo(timezone)))


def _params(value: Any) -> str:
    return json.dumps(value or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def events(db: Database, app_key: str, window: Window, now: dt.datetime) -> Iterator[ReportFile]:
    """Every event of the window: ``{appkey}_EVENTS_{YYYYMMDD}``."""
    app = _app(db, app_key)
    zone = ZoneInfo(app.timezone)
    start, end = window.utc_bounds(app.timezone, now)

    def rows() -> Iterator[RowTuple]:
        with db.read() as session:
            for part in report_queries.event_rows(session, app.id, start, end):
                for ext, token, name, occurred, params in part:
                    yield ext, token, name, local_time(occurred, zone), _params(params)

    yield ReportFile(
        ReportName.EVENTS, f"{app.key}_EVENTS_{window.stamp}", EVENT_HEADER, LazyRows(rows)
    )


def installations(
    db: Database, app_key: str, window: Window, now: dt.datetime
) -> Iterator[ReportFile]:
    """Devices installed or changed in the window (all devices for a ``bulk`` window):
    ``{appkey}_INSTALLATIONS_{YYYYMMDD}``."""
    app = _app(db, app_key)
    zone = ZoneInfo(app.timezone)
    start, end = window.utc_bounds(app.timezone, now)

    def rows() -> Iterator[RowTuple]:
        with db.read() as session:
            for part in report_queries.installation_rows(session, app.id, start, end):
                for ext, platform, token, app_v, os_v, inst, seen, perm, state in part:
                    yield (
                        ext, _text(platform), token, app_v, os_v,
                        local_time(inst, zone), local_time(seen, zone),
                        yes_no(perm), _text(state),
                    )  # fmt: skip

    yield ReportFile(
        ReportName.INSTALLATIONS,
        f"{app.key}_INSTALLATIONS_{window.stamp}",
        INSTALLATION_HEADER,
        LazyRows(rows),
    )


def app_tracking(
    db: Database, app_key: str, window: Window, now: dt.datetime
) -> Iterator[ReportFile]:
    """``app_tracking`` events (params ``tracked_app``, ``installed``):
    ``{appkey}_APP_TRACKING_{YYYYMMDD}``."""
    app = _app(db, app_key)
    zone = ZoneInfo(app.timezone)
    start, end = window.utc_bounds(app.timezone, now)

    def rows() -> Iterator[RowTuple]:
        with db.read() as session:
            for part in report_queries.event_rows(
                session, app.id, start, end, names=[APP_TRACKING_EVENT]
            ):
                for ext, token, _name, occurred, raw in part:
                    params = raw if isinstance(raw, dict) else {}
                    yield (
                        ext, token, _text(params.get("tracked_app")),
                        yes_no(params.get("installed")), local_time(occurred, zone),
                    )  # fmt: skip

    yield ReportFile(
        ReportName.APP_TRACKING,
        f"{app.key}_APP_TRACKING_{window.stamp}",
        APP_TRACKING_HEADER,
        LazyRows(rows),
    )


Builder = Callable[[Database, str, Window, dt.datetime], Iterator[ReportFile]]

BUILDERS: dict[ReportName, Builder] = {
    ReportName.CAMPAIGNS: campaigns,
    ReportName.CAMPAIGN_RECIPIENTS: campaign_recipients,
    ReportName.AUTOMATED_CAMPAIGNS: automated_campaigns,
    ReportName.TRANSACTIONAL_CAMPAIGNS: transactional_campaigns,
    ReportName.EVENTS: events,
    ReportName.INSTALLATIONS: installations,
    ReportName.APP_TRACKING: app_tracking,
}


def build(
    db: Database, report: ReportName | str, app_key: str, window: Window, now: dt.datetime
) -> Iterator[ReportFile]:
    """The files of one report for one app and window."""
    return BUILDERS[ReportName(report)](db, app_key, window, now)


def headers() -> dict[ReportName, Sequence[str]]:
    """Each report's header (docs/reports.md documents them; a test keeps them in step)."""
    return {
        ReportName.CAMPAIGNS: CAMPAIGN_HEADER,
        ReportName.CAMPAIGN_RECIPIENTS: RECIPIENT_HEADER,
        ReportName.AUTOMATED_CAMPAIGNS: CAMPAIGN_HEADER,
        ReportName.TRANSACTIONAL_CAMPAIGNS: CAMPAIGN_HEADER,
        ReportName.EVENTS: EVENT_HEADER,
        ReportName.INSTALLATIONS: INSTALLATION_HEADER,
        ReportName.APP_TRACKING: APP_TRACKING_HEADER,
    }
