"""The nightly scheduler with a controllable clock: when each app's night runs (DST on
both changes in three zones), catch-up after downtime, exactly once with two schedulers,
and taking over a night whose process died."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from ftpush.config import ExportSettings, Settings
from ftpush.crypto import SecretBox
from ftpush.jobs.nightly import CLAIM, NightlyExports, due_nights, local_to_utc, night_of
from ftpush.models import DeliveryStatus, ExportFormat, ExportTrigger, JobStatus
from ftpush.storage import Database, apps, exports, job_runs
from ftpush.storage.tables import ExportDestination, ExportRun, JobRun
from tests.integration.exports.conftest import Clock

UTC = dt.UTC
# The 2026 DST changes: Europe/Berlin 29 March and 25 October, America/New_York 8 March
# and 1 November; Europe/Istanbul keeps UTC+3 all year (no change to get wrong).
CHANGES = [
    ("Europe/Berlin", dt.date(2026, 3, 29), 23),
    ("Europe/Berlin", dt.date(2026, 10, 25), 25),
    ("America/New_York", dt.date(2026, 3, 8), 23),
    ("America/New_York", dt.date(2026, 11, 1), 25),
    ("Europe/Istanbul", dt.date(2026, 3, 29), 24),
    ("Europe/Istanbul", dt.date(2026, 10, 25), 24),
]
CONFIG = ExportSettings()


def local(moment: dt.datetime, zone: str) -> dt.datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


# -- when a night runs (pure) ------------------------------------------------------------


@pytest.mark.parametrize(("zone", "change", "hours"), CHANGES)
def test_the_moment_is_the_same_local_time_every_night_across_dst(
    zone: str, change: dt.date, hours: int
) -> None:
    for key in ("alpha", "beta", "gamma"):
        before = night_of(key, zone, change - dt.timedelta(days=1), CONFIG)
        on = night_of(key, zone, change, CONFIG)
        after = night_of(key, zone, change + dt.timedelta(days=1), CONFIG)
        walls = [local(n.starts_at, zone) for n in (before, on, after)]
        assert {w.time() for w in walls} == {walls[0].time()}  # stable per app
        for night, wall in zip((before, on, after), walls, strict=True):
            assert wall.date() == night.night
            assert dt.time(3) <= wall.time() < dt.time(4, 30)  # first half: the rest is retries
            assert local(night.deadline, zone) == dt.datetime.combine(night.night, dt.time(6))
            assert night.report_day == night.night - dt.timedelta(days=1)
        assert on.starts_at - before.starts_at == dt.timedelta(hours=hours)
        assert after.starts_at - on.starts_at == dt.timedelta(hours=24)


def test_apps_are_spread_over_the_window() -> None:
    night = dt.date(2026, 6, 1)
    walls = {local(night_of(f"app{i}", "UTC", night, CONFIG).starts_at, "UTC") for i in range(200)}
    assert len(walls) > 190
    assert min(walls).time() < dt.time(3, 20)
    assert max(walls).time() > dt.time(4, 10)


def test_a_moment_in_the_spring_gap_moves_forward_and_an_ambiguous_one_is_the_first() -> None:
    # 02:30 does not exist in Berlin on 29 March 2026: it is 03:30 CEST (01:30 UTC).
    gap = local_to_utc(dt.datetime(2026, 3, 29, 2, 30), ZoneInfo("Europe/Berlin"))
    assert gap == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # 01:30 happens twice in New York on 1 November 2026: the first (EDT, UTC-4).
    twice = local_to_utc(dt.datetime(2026, 11, 1, 1, 30), ZoneInfo("America/New_York"))
    assert twice == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # A window configured over the gap still gives every night exactly one moment.
    config = ExportSettings(window_start_hour=2, window_end_hour=4)
    nights = [
        night_of("alpha", "Europe/Berlin", dt.date(2026, 3, 28) + dt.timedelta(days=i), config)
        for i in range(3)
    ]
    assert nights[0].starts_at < nights[1].starts_at < nights[2].starts_at
    assert nights[1].deadline == dt.datetime(2026, 3, 29, 2, 0, tzinfo=UTC)  # 04:00 CEST


def test_due_nights_catch_up_but_not_before_the_schedule() -> None:
    zone = "Europe/Berlin"
    now = dt.datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    long_ago = dt.datetime(2026, 1, 1, tzinfo=UTC)
    nights = due_nights("alpha", zone, now=now, scheduled_since=long_ago, config=CONFIG)
    assert [n.night for n in nights] == [dt.date(2026, 3, d) for d in (28, 29, 30, 31)]
    config = ExportSettings(catch_up_days=0)
    nights = due_nights("alpha", zone, now=now, scheduled_since=long_ago, config=config)
    assert [n.night for n in nights] == [dt.date(2026, 3, 31)]
    since = dt.datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    nights = due_nights("alpha", zone, now=now, scheduled_since=since, config=CONFIG)
    assert [n.night for n in nights] == [dt.date(2026, 3, 30), dt.date(2026, 3, 31)]


# -- the scheduler against a database ------------------------------------------------------


class Site:
    """Apps with dropbox destinations on one database, and schedulers on a shared clock."""

    def __init__(self, settings: Settings, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.box = SecretBox.from_keys_dir(settings.keys_dir)

    def app(self, key: str, zone: str, *, since: dt.datetime) -> None:
        with self.db.transaction() as s:
            apps.create_app(s, key=key, timezone=zone)
            exports.set_destination(
                s,
                self.box,
                exports.DestinationSpec(app_key=key, reports=("events",), format=ExportFormat.CSV),
            )
        self.scheduled_since(key, since)

    def scheduled_since(self, key: str, since: dt.datetime) -> None:
        with self.db.transaction() as s:
            app = apps.get_app(s, key)
            s.execute(
                update(ExportDestination)
                .where(ExportDestination.app_id == app.id)
                .values(updated_at=since)
            )

    def scheduler(self, **export: object) -> NightlyExports:
        settings = self.settings
        if export:
            settings = settings.model_copy(
                update={"export": settings.export.model_copy(update=export)}
            )
        return NightlyExports(settings, self.db, clock=self.clock, interval=60)

    def runs(self) -> list[tuple[str, dt.date, str | None, dt.datetime]]:
        with self.db.read() as s:
            rows = s.execute(
                select(ExportRun.idempotency_key, ExportRun.window_start, ExportRun.created_at)
                .where(ExportRun.trigger == ExportTrigger.NIGHTLY)
                .order_by(ExportRun.id)
            ).all()
        return [(str(k).split(":")[1], day, k, created) for k, day, created in rows]

    def dropbox(self, key: str) -> list[str]:
        folder = self.settings.dropbox_dir / key / "reports"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def site(settings: Settings, db: Database) -> Site:
    return Site(settings, db, Clock(dt.datetime(2026, 1, 1, tzinfo=UTC)))


@pytest.mark.parametrize(("zone", "change", "hours"), CHANGES)
def test_each_night_runs_once_at_its_moment_across_dst(
    site: Site, zone: str, change: dt.date, hours: int
) -> None:
    start = local_to_utc(
        dt.datetime.combine(change - dt.timedelta(days=1), dt.time()), ZoneInfo(zone)
    )
    end = start + dt.timedelta(days=3)
    keys = ["north", "south"]
    for key in keys:
        site.app(key, zone, since=start)
    site.clock.now = start
    scheduler = site.scheduler()
    step = dt.timedelta(minutes=10)
    seen: list[tuple[str, dt.date, dt.datetime]] = []

    async def run() -> None:
        while site.clock.now < end:
            report = await scheduler.tick()
            assert report.errors == []
            for outcome in report.runs:
                assert outcome.ok
                for d in outcome.deliveries:
                    day = dt.datetime.strptime(d.file_name.split("_")[-1][:8], "%Y%m%d").date()
                    seen.append((d.file_name.split("_")[0], day, site.clock.now))
            site.clock.advance(step.total_seconds())

    asyncio.run(run())

    nights = [change - dt.timedelta(days=1), change, change + dt.timedelta(days=1)]
    for key in keys:
        ran = [(day, at) for k, day, at in seen if k == key]
        assert [day for day, _ in ran] == [n - dt.timedelta(days=1) for n in nights]
        for (_day, at), night in zip(ran, nights, strict=True):
            moment = night_of(key, zone, night, CONFIG).starts_at
            assert moment <= at < moment + step
            wall = local(at, zone)
            assert wall.date() == night
            assert dt.time(3) <= wall.time() < dt.time(4, 40)
        assert len(site.dropbox(key)) == 3
    assert len(site.runs()) == 2 * 3


def test_nights_missed_while_down_are_caught_up_oldest_first(site: Site) -> None:
    zone = "America/New_York"
    tz = ZoneInfo(zone)
    site.app("alpha", zone, since=local_to_utc(dt.datetime(2026, 3, 6), tz))
    site.clock.now = local_to_utc(dt.datetime(2026, 3, 6, 2, 0), tz)
    scheduler = site.scheduler(catch_up_days=2)
    assert asyncio.run(scheduler.tick()).runs == []  # up, before its moment; then down
    site.clock.now = local_to_utc(dt.datetime(2026, 3, 10, 9, 0), tz)  # back, after 06:00
    report = asyncio.run(scheduler.tick())
    days = [day for _, day, _, _ in site.runs()]
    assert days == [dt.date(2026, 3, 7), dt.date(2026, 3, 8), dt.date(2026, 3, 9)]
    assert len(report.runs) == 3
    # A late run gets the window's length for its retries, from now.
    with site.db.read() as s:
        until = s.scalars(select(ExportRun.retry_until)).all()
    assert set(until) == {site.clock.now + dt.timedelta(hours=3)}
    # Nothing runs twice.
    site.clock.advance(3600)
    assert asyncio.run(scheduler.tick()).runs == []


def test_no_backlog_before_the_destination_was_set_and_none_when_switched_off(site: Site) -> None:
    zone = "Europe/Istanbul"
    tz = ZoneInfo(zone)
    now = local_to_utc(dt.datetime(2026, 5, 10, 12, 0), tz)
    site.app("alpha", zone, since=now - dt.timedelta(hours=2))  # set up this morning at 10:00
    site.app("beta", zone, since=now - dt.timedelta(days=30))
    with site.db.transaction() as s:  # beta's offer is off: no nightly export
        apps.set_ftp_enabled(s, "beta", False)
    site.clock.now = now
    scheduler = site.scheduler()
    assert asyncio.run(scheduler.tick()).runs == []
    site.clock.now = local_to_utc(dt.datetime(2026, 5, 11, 5, 0), tz)
    [run] = asyncio.run(scheduler.tick()).runs
    assert site.runs()[0][:2] == ("alpha", dt.date(2026, 5, 10))
    assert run.ok


def test_two_schedulers_run_a_night_once(site: Site) -> None:
    zone = "Europe/Berlin"
    since = dt.datetime(2026, 3, 1, tzinfo=UTC)
    keys = [f"app{i}" for i in range(6)]
    for key in keys:
        site.app(key, zone, since=since)
    site.clock.now = dt.datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # two nights due per app
    schedulers = [site.scheduler(catch_up_days=1) for _ in range(2)]
    barrier = threading.Barrier(len(schedulers))
    done: list[int] = []

    def work(scheduler: NightlyExports) -> None:
        barrier.wait()
        report = asyncio.run(scheduler.tick())
        assert report.errors == []
        done.append(len(report.runs))

    threads = [threading.Thread(target=work, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(done) == len(keys) * 2
    runs = site.runs()
    assert len(runs) == len(keys) * 2
    assert len({key for _, _, key, _ in runs}) == len(runs)
    with site.db.read() as s:
        claims = s.execute(select(JobRun.status, func.count()).group_by(JobRun.status)).all()
    assert claims == [(JobStatus.DONE, len(keys) * 2)]
    # Running again finds nothing to do.
    assert [len(asyncio.run(s.tick()).runs) for s in schedulers] == [0, 0]


def test_a_night_claimed_by_a_process_that_died_is_taken_over(site: Site) -> None:
    zone = "UTC"
    site.app("alpha", zone, since=dt.datetime(2026, 3, 1, tzinfo=UTC))
    site.app("beta", zone, since=dt.datetime(2026, 3, 1, tzinfo=UTC))
    site.clock.now = dt.datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
    scheduler = site.scheduler(catch_up_days=0, claim_lease_seconds=3600)
    with site.db.transaction() as s:  # alpha: died 2 h ago; beta: still working
        for key, ago in (("alpha", 7200), ("beta", 600)):
            claimed = job_runs.claim(
                s,
                CLAIM,
                f"{key}:2026-03-09",
                owner="dead-host:1",
                now=site.clock.now - dt.timedelta(seconds=ago),
                lease=3600,
            )
            assert claimed
    [run] = asyncio.run(scheduler.tick()).runs
    assert run.ok
    assert [k for k, _, _, _ in site.runs()] == ["alpha"]
    with site.db.read() as s:
        claim = job_runs.get(s, CLAIM, "alpha:2026-03-09")
        assert claim is not None
        assert (claim.owner, claim.status) == (scheduler.owner, JobStatus.DONE)


def test_a_run_recorded_by_a_process_that_died_is_resumed(site: Site, tmp_path: Path) -> None:
    site.app("alpha", "UTC", since=dt.datetime(2026, 3, 1, tzinfo=UTC))
    site.clock.now = dt.datetime(2026, 3, 10, 5, 0, tzinfo=UTC)
    died_at = site.clock.now - dt.timedelta(hours=2)
    name = "alpha_EVENTS_20260309.csv"
    with site.db.transaction() as s:
        job_runs.claim(s, CLAIM, "alpha:2026-03-09", owner="dead:1", now=died_at, lease=3600)
        run = exports.start_run(
            s,
            "alpha",
            trigger=ExportTrigger.NIGHTLY,
            window_start=dt.date(2026, 3, 9),
            window_end=dt.date(2026, 3, 9),
            idempotency_key="nightly:alpha:2026-03-09",
        )
        assert run is not None
        exports.add_delivery(
            s, run.id, report="events", file_name=name, destination="dropbox:/reports",
            rows=1, size=6, sha256="0" * 64,
        )  # fmt: skip
        run_id = run.id
    kept = site.settings.spool_dir / "exports" / "alpha" / str(run_id) / name
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"a,b\n1\n")
    report = asyncio.run(site.scheduler(catch_up_days=0).tick())
    assert report.runs == []  # the run exists: not built again, its file resumed
    [retried] = report.retried
    assert (retried.status, retried.file_name) == (DeliveryStatus.DELIVERED, name)
    assert site.dropbox("alpha") == [name]
    assert not kept.exists()
