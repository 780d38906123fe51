"""Pruning the report files kept for retries (``spool/exports``)."""

from __future__ import annotations

import datetime as dt
import os
import time

from ftpush.config import Settings
from ftpush.pipeline.exports import purge_spool


def test_old_run_folders_go_and_recent_ones_stay(settings: Settings) -> None:
    root = settings.spool_dir / "exports"
    old = root / "demo" / "7"
    recent = root / "demo" / "8"
    staged = root / "other" / ".staging-abc"
    for folder in (old, recent, staged):
        folder.mkdir(parents=True)
        (folder / "demo_EVENTS_20250101.csv").write_bytes(b"x")
    now = time.time()
    ten_days_ago = now - 10 * 86400
    for path in (old, old / "demo_EVENTS_20250101.csv", staged, *staged.iterdir()):
        os.utime(path, (ten_days_ago, ten_days_ago))
    # A symlink planted in the spool is never followed out of it.
    outside = settings.data_dir / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"x")
    (root / "demo" / "link").symlink_to(outside)

    removed = purge_spool(settings, older_than=dt.timedelta(days=7), now=now)

    assert removed == 2
    assert not old.exists()
    assert not staged.exists()
    assert not (root / "other").exists()  # emptied app folders go too
    assert (recent / "demo_EVENTS_20250101.csv").exists()
    assert (outside / "keep.txt").exists()


def test_no_spool_yet(settings: Settings) -> None:
    assert purge_spool(settings, older_than=dt.timedelta(days=1), now=time.time()) == 0
