"""Archive, failed/ and the retention purge."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

from ftpush.config import load_settings
from ftpush.jobs.housekeeping import Housekeeping
from ftpush.pipeline.archive import archive_file, purge_archive, reject_file


def test_archive_reject_and_purge(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environ={}, intake={"archive_retention_days": 30})
    spooled = tmp_path / "spool" / "demo" / "x.data"
    spooled.parent.mkdir(parents=True)
    spooled.write_text("old")
    old = archive_file(settings, "demo", spooled, 1)
    assert old == tmp_path / "archive" / "demo" / "1.data"
    assert not spooled.exists()
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    stamp = (now - dt.timedelta(days=31)).timestamp()
    os.utime(old, (stamp, stamp))
    spooled.write_text("new")
    recent = archive_file(settings, "demo", spooled, 2)
    os.utime(recent, (now.timestamp(), now.timestamp()))
    spooled.write_text("bad")
    assert reject_file(settings, "demo", spooled, "push.csv").read_text() == "bad"
    assert purge_archive(settings, now) == 1
    assert not old.exists()
    assert recent.exists()
    assert purge_archive(load_settings(data_dir=tmp_path / "none", environ={})) == 0


def test_housekeeping_service(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environ={})

    async def run() -> None:
        keeper = Housekeeping(settings, interval=0.01)
        await keeper.start()
        await asyncio.sleep(0.05)
        await keeper.stop()
        assert "30 days" in keeper.endpoints[0]

    asyncio.run(run())
