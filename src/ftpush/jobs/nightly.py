"""The nightly export: every app's reports for yesterday, once, between 03:00 and 06:00 local.

Each app with the offer on and its schedule on gets its run at a stable moment of its
own — the first half of the window ``export.window_start_hour``..``window_end_hour``
(03:00–06:00 app-local by default), offset by a hash of the app key — so a thousand apps
do not all start at 03:00, and an app's run does not wander from night to night. The
second half of the window is left for retries: failed files are retried with backoff
until the window's end (06:00), then the app's alert contacts are told.

*Exactly once.* A night is claimed (``job_runs``, name ``nightly-export``, key
``<app>:<report day>``) before its reports are built, so two processes never build the
same night; the run itself carries the idempotency key ``nightly:<app>:<report day>``.
A claim whose process died is taken over after ``export.claim_lease_seconds``; a run
recorded by that process has its unsent files made due again.

*Catch-up.* A night whose moment passed while no process ran is run when one comes
back, up to ``export.catch_up_days`` days back — never a night before the destination
was last changed (turning the schedule on does not send a backlog). A late run gets
the window's length for its retries.

*DST.* Moments are app-local wall-clock times converted with the app's zone: a time
that does not exist (clocks jump forward over it) is moved forward by the jump, a time
that happens twice (clocks go back) is its first occurrence — one run either way.

Example::

    scheduler = NightlyExports(settings, db)
    await scheduler.start(); ...; await scheduler.stop()   # a ``serve`` service
    report = await scheduler.tick()                        # or one pass, in a test
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import secrets
import socket
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ftpush.config import ExportSettings, Settings
from ftpush.crypto import SecretBox
from ftpush.jobs.exports import build_reports
from ftpush.jobs.periodic import Periodic
from ftpush.models import DeliveryStatus, ExportTrigger, ReportName
from ftpush.pipeline.alerts import Alert, Alerter
from ftpush.pipeline.exports import DeliveryOutcome, Exporter, RunOutcome
from ftpush.reports import Window
from ftpush.storage import Database, apps, exports, job_runs
from ftpush.storage.tables import App, ExportDelivery, ExportRun
from ftpush.storage.types import utcnow

log = logging.getLogger("ftpush.jobs.nightly")

CLAIM = "nightly-export"
_ALERT_LOOKBACK = dt.timedelta(days=2)  # failed runs older than this are history, not news


# --- when -----------------------------------------------------------------------------


def local_to_utc(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a naive app-local wall-clock time.

    A time in a spring-forward gap is moved forward by the gap (02:30 on a night
    that skips 02:00–03:00 is 03:30); a time that occurs twice is its first occurrence.
    """
    return wall.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)


def app_offset(app_key: str, span_seconds: int) -> int:
    """A stable number of seconds in ``[0, span_seconds)`` derived from the app key.

    >>> app_offset("demo", 5400) == app_offset("demo", 5400) < 5400
    True
    """
    digest = hashlib.sha256(b"ftpush-nightly\x00" + app_key.encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(span_seconds, 1)


@dataclass(frozen=True)
class Night:
    """One app's nightly run: on local date ``night``, for the report day before it."""

    app_key: str
    night: dt.date
    starts_at: dt.datetime  # UTC
    deadline: dt.datetime  # UTC: the window's end

    @property
    def report_day(self) -> dt.date:
        return self.night - dt.timedelta(days=1)

    @property
    def claim_key(self) -> str:
        return f"{self.app_key}:{self.report_day.isoformat()}"

    @property
    def idempotency_key(self) -> str:
        return f"nightly:{self.app_key}:{self.report_day.isoformat()}"


def night_of(app_key: str, timezone: str, night: dt.date, config: ExportSettings) -> Night:
    """When app ``app_key`` runs on local date ``night`` and until when it retries."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(night, dt.time(config.window_start_hour))
    end = dt.datetime.combine(night, dt.time()) + dt.timedelta(hours=config.window_end_hour)
    span = int((end - start).total_seconds())
    moment = start + dt.timedelta(seconds=app_offset(app_key, span // 2))
    return Night(app_key, night, local_to_utc(moment, zone), local_to_utc(end, zone))


def due_nights(
    app_key: str,
    timezone: str,
    *,
    now: dt.datetime,
    scheduled_since: dt.datetime,
    config: ExportSettings,
) -> list[Night]:
    """The app's nights whose moment has come, oldest first: today's and up to
    ``config.catch_up_days`` before it, none before ``scheduled_since``."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    nights = []
    for back in range(config.catch_up_days, -1, -1):
        night = night_of(app_key, timezone, today - dt.timedelta(days=back), config)
        if scheduled_since <= night.starts_at <= now:
            nights.append(night)
    return nights


# --- what -----------------------------------------------------------------------------


@dataclass
class TickReport:
    """What one pass of the scheduler did."""

    runs: list[RunOutcome] = field(default_factory=list)
    retried: list[DeliveryOutcome] = field(default_factory=list)
    alerted: list[int] = field(default_factory=list)  # run ids whose contacts were told
    errors: list[str] = field(default_factory=list)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class NightlyExports(Periodic):
    """The ``serve``/``worker`` service: nightly runs, retries due, alerts after failure."""

    name = "exports"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        exporter: Exporter | None = None,
        alerter: Alerter | None = None,
        interval: float | None = None,
    ) -> None:
        super().__init__(interval if interval is not None else settings.export.scheduler_seconds)
        self._settings = settings
        self._db = db
        self._clock = clock
        self._exporter = exporter or Exporter(
            settings, db, SecretBox.from_keys_dir(settings.keys_dir), clock=clock
        )
        self._alerter = alerter or Alerter(settings)
        self.owner = _owner()

    @property
    def endpoints(self) -> list[str]:
        c = self._settings.export
        return [
            f"nightly between {c.window_start_hour:02d}:00 and {c.window_end_hour:02d}:00 "
            f"app-local, checked every {self.interval:g} s"
        ]

    async def tick(self) -> TickReport:
        report = TickReport()
        for night in self.due():
            try:
                outcome = await self.run_night(night)
            except Exception as exc:  # one app's trouble must not stop the others
                log.exception("nightly export of %s for %s failed", night.app_key, night.report_day)
                report.errors.append(f"{night.claim_key}: {exc}")
                continue
            if outcome is not None:
                report.runs.append(outcome)
        report.retried = await self._exporter.retry_due()
        report.alerted = await self.alert_failed()
        return report

    def due(self) -> list[Night]:
        """Every scheduled app's nights that are due and not claimed yet."""
        now = self._clock()
        with self._db.read() as session:
            candidates = [
                night
                for app, dest in exports.scheduled_destinations(session)
                for night in due_nights(
                    app.key,
                    app.timezone,
                    now=now,
                    scheduled_since=dest.updated_at,
                    config=self._settings.export,
                )
            ]
            lease = dt.timedelta(seconds=self._settings.export.claim_lease_seconds)
            held = job_runs.held_keys(
                session, CLAIM, [n.claim_key for n in candidates], stale_before=now - lease
            )
        return [n for n in candidates if n.claim_key not in held]

    async def run_night(self, night: Night) -> RunOutcome | None:
        """Claim, build and deliver one night; ``None`` if another process has it."""
        now = self._clock()
        lease = self._settings.export.claim_lease_seconds
        with self._db.transaction() as session:
            if not job_runs.claim(
                session, CLAIM, night.claim_key, owner=self.owner, now=now, lease=lease
            ):
                return None
            app = apps.get_app(session, night.app_key)
            found = exports.find_destination(session, night.app_key)
            chosen = [ReportName(r) for r in found[0].reports] if found else []
        error: str | None = None
        try:
            outcome = await self._deliver(night, chosen or list(ReportName), now, app.key)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            with self._db.transaction() as session:
                job_runs.finish(
                    session,
                    CLAIM,
                    night.claim_key,
                    owner=self.owner,
                    now=self._clock(),
                    error=error,
                )
        return outcome

    async def _deliver(
        self, night: Night, reports: list[ReportName], now: dt.datetime, app_key: str
    ) -> RunOutcome | None:
        config = self._settings.export
        window_length = dt.timedelta(hours=config.window_end_hour - config.window_start_hour)
        retry_until = night.deadline if now < night.deadline else now + window_length
        window = Window.day(night.report_day)
        with tempfile.TemporaryDirectory(prefix="ftpush-nightly-") as tmp:
            files = await asyncio.to_thread(
                build_reports, self._db, app_key, reports, window, now, Path(tmp)
            )
            outcome = await self._exporter.deliver_run(
                app_key,
                files,
                trigger=ExportTrigger.NIGHTLY,
                window_start=night.report_day,
                window_end=night.report_day,
                idempotency_key=night.idempotency_key,
                requested_by="nightly",
                deadline=retry_until,
            )
        if outcome is None:  # taken over from a process that died after recording the run
            resumed = await self._exporter.resume(night.idempotency_key)
            log.warning("resumed %d unsent files of %s", resumed, night.idempotency_key)
        return outcome

    # -- alerts

    async def alert_failed(self) -> list[int]:
        """Tell the contacts of every run that failed for good (once per failure)."""
        now = self._clock()
        with self._db.read() as session:
            runs = exports.runs_to_alert(session, since=now - _ALERT_LOOKBACK)
        told = []
        for run, app in runs:
            with self._db.transaction() as session:
                if not exports.claim_alert(session, run.id, now=now):
                    continue
                deliveries = exports.run_deliveries(session, run.id)
            alert = failure_alert(app, run, deliveries)
            outcomes = await self._alerter.notify(app.alert_emails, app.alert_webhook_url, alert)
            problems = [f"{o.channel} {o.target}: {o.error}" for o in outcomes if not o.ok]
            if not outcomes:
                problems = ["no alert contacts are set for this app"]
            with self._db.transaction() as session:
                exports.record_alert(session, run.id, error="; ".join(problems) or None)
            if problems:
                log.warning("alert for export run %d: %s", run.id, "; ".join(problems))
            told.append(run.id)
        return told


def failure_alert(app: App, run: ExportRun, deliveries: Sequence[ExportDelivery]) -> Alert:
    """The message for a run some of whose files could not be delivered."""
    failed = [d for d in deliveries if d.status is DeliveryStatus.FAILED]
    window = (
        run.window_start.isoformat()
        if run.window_start == run.window_end
        else f"{run.window_start.isoformat()}..{run.window_end.isoformat()}"
    )
    destination = failed[0].destination if failed else ""
    lines = [
        f"{len(failed)} of {len(deliveries)} report files of app {app.key} ({app.name}) for "
        f"{window} could not be delivered to {destination}.",
        "",
    ]
    lines += [f"* {d.file_name}: {d.error} (after {d.attempts} attempts)" for d in failed]
    lines += [
        "",
        "Fix the destination (ftpush export test " + app.key + "), then retry the files "
        "(ftpush export retry " + app.key + " <delivery id>) or send the reports again.",
    ]
    return Alert(
        app_key=app.key,
        subject=f"ftpush: reports of {app.key} for {window} were not delivered",
        text="\n".join(lines),
        data={
            "event": "export.failed",
            "app": app.key,
            "run_id": run.id,
            "trigger": str(run.trigger),
            "window_start": run.window_start.isoformat(),
            "window_end": run.window_end.isoformat(),
            "failed": [
                {
                    "delivery_id": d.id,
                    "report": d.report,
                    "file_name": d.file_name,
                    "destination": d.destination,
                    "attempts": d.attempts,
                    "error": d.error,
                }
                for d in failed
            ],
            "delivered": sum(1 for d in deliveries if d.status is DeliveryStatus.DELIVERED),
        },
    )
