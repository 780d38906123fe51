"""Send: build reports for a window and deliver them to the app's destination, now.

The one entry point the CLI (``ftpush export send``), the API (``POST /api/v1/exports``) and
the panel's Export page share, with Retry, *Test connection* and the daily quota;
:func:`build_reports` also serves the nightly scheduler (:mod:`ftpush.jobs.nightly`).
It sits in ``jobs`` because it joins two sibling layers that may not import each other:
:mod:`ftpush.reports` builds the files, :mod:`ftpush.pipeline.exports` delivers and
records them.

Example::

    outcome = send_reports(settings, db, "demo", ["campaigns", "events"],
                           first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 26))
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, PermissionDenied
from ftpush.models import ExportFormat, ExportTrigger, ReportName
from ftpush.pipeline.exports import ConnectionTest, Exporter, ReportFile, RunOutcome
from ftpush.remote.base import DEFAULT_TIMEOUT
from ftpush.reports import Window, build
from ftpush.storage import Database, apps, exports
from ftpush.storage.types import utcnow


@dataclass(frozen=True)
class SendResult:
    run: RunOutcome
    files: int
    rows: int


@dataclass(frozen=True)
class SendQuota:
    """The app's manual sends today (its local calendar day) against the daily limit."""

    today: dt.date
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def yesterday(self) -> dt.date:
        """The default window of a Send."""
        return self.today - dt.timedelta(days=1)


def send_quota(
    settings: Settings, db: Database, app_key: str, *, clock: Callable[[], dt.datetime] = utcnow
) -> SendQuota:
    """How many manual sends the app has used today (app-local), and its limit."""
    with db.read() as session:
        zone = ZoneInfo(apps.get_app(session, app_key).timezone)
        today = clock().astimezone(zone).date()
        day_start = dt.datetime.combine(today, dt.time(), zone)
        used = exports.sends_since(session, app_key, day_start)
    return SendQuota(today, used, settings.export.sends_per_day)


def parse_reports(names: Sequence[str]) -> list[ReportName]:
    """Report names, checked; none given means every report."""
    if not names:
        return list(ReportName)
    chosen = []
    for name in names:
        try:
            chosen.append(ReportName(name.strip()))
        except ValueError:
            known = ", ".join(r.value for r in ReportName)
            raise InvalidInput(f"unknown report {name!r}: use {known}", field="reports") from None
    return list(dict.fromkeys(chosen))


def send_reports(
    settings: Settings,
    db: Database,
    app_key: str,
    reports: Sequence[str],
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    requested_by: str | None = None,
    unlimited: bool = False,
    clock: Callable[[], dt.datetime] = utcnow,
) -> SendResult:
    """Build the reports of ``first..last`` (default: yesterday, app-local) and deliver them.

    ``reports`` empty means those the destination is set to receive.

    A range may reach today (today's rows so far). ``export.sends_per_day`` manual sends
    per app per day unless ``unlimited`` (an admin).
    """
    now = clock()
    with db.read() as session:
        exports.get_destination(session, app_key)  # NotFound: no destination yet
    quota = send_quota(settings, db, app_key, clock=lambda: now)
    if not unlimited and quota.left == 0:
        raise PermissionDenied(f"app {app_key} has used its {quota.limit} manual sends today")
    window = _window(first, last, quota.today)
    chosen = parse_reports(reports or _configured(db, app_key))
    with tempfile.TemporaryDirectory(prefix="ftpush-send-") as tmp:
        files = build_reports(db, app_key, chosen, window, now, Path(tmp))
        exporter = Exporter(settings, db, SecretBox.from_keys_dir(settings.keys_dir))
        outcome = asyncio.run(
            exporter.deliver_run(
                app_key,
                files,
                trigger=ExportTrigger.SEND,
                window_start=window.first or window.last,
                window_end=window.last,
                requested_by=requested_by,
            )
        )
    assert outcome is not None  # no idempotency key: a Send always runs
    return SendResult(outcome, len(files), sum(f.rows for f in files))


def retry_delivery(settings: Settings, db: Database, app_key: str, delivery_id: int) -> int:
    """*Retry*: one attempt now at a failed (or waiting) delivery of the app; its id.

    :class:`~ftpush.errors.NotFound` if it is not the app's, :class:`~ftpush.errors.Conflict`
    if it was delivered or is being attempted right now.
    """
    exporter = Exporter(settings, db, SecretBox.from_keys_dir(settings.keys_dir))
    return asyncio.run(exporter.retry_now(app_key, delivery_id)).delivery_id


def connection_test(
    settings: Settings, db: Database, app_key: str, *, timeout: float = DEFAULT_TIMEOUT
) -> ConnectionTest:
    """*Test connection*: write, rename, check and delete a probe file at the destination."""
    exporter = Exporter(settings, db, SecretBox.from_keys_dir(settings.keys_dir), timeout=timeout)
    return asyncio.run(exporter.test_connection(app_key))


def build_reports(
    db: Database,
    app_key: str,
    reports: Sequence[ReportName],
    window: Window,
    now: dt.datetime,
    folder: Path,
) -> list[ReportFile]:
    """Write the files of ``reports`` for ``window`` into ``folder``, as the app's
    destination wants them (format, delimiter)."""
    dest_format, delimiter = _format(db, app_key)
    files: list[ReportFile] = []
    for report in reports:
        for built in build(db, report, app_key, window, now):
            path, written = built.write(folder, dest_format, delimiter=delimiter)
            files.append(ReportFile(str(report), path, path.name, written.rows))
    return files


def _window(first: dt.date | None, last: dt.date | None, today: dt.date) -> Window:
    last = last or (today - dt.timedelta(days=1) if first is None else today)
    first = first or last
    if last > today:
        raise InvalidInput("a report window cannot end after today", field="to")
    if first > last:
        raise InvalidInput("the window starts after it ends", field="from")
    return Window(first, last)


def _configured(db: Database, app_key: str) -> list[str]:
    """The reports the app's destination is set to receive (none set: every report)."""
    with db.read() as session:
        dest, _ = exports.get_destination(session, app_key)
        return list(dest.reports)


def _format(db: Database, app_key: str) -> tuple[ExportFormat, str]:
    with db.read() as session:
        dest, _ = exports.get_destination(session, app_key)
        return dest.format, dest.delimiter
