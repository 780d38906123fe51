"""Where a file goes when it is done: the archive, ``failed/``, and the retention purge.

Processed (and duplicate) files leave the spool for ``archive/<app>/<import id>.data``,
kept ``intake.archive_retention_days`` for audit and reprocessing; whole-file
rejects go to the customer's ``failed/`` folder under their own name. All moves
are renames inside the data directory, so a file is always in exactly one place.

Example::

    >>> archive_file(settings, "demo", spooled_path, 42)   # doctest: +SKIP
    PosixPath('.../archive/demo/42.data')
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from ftpush.config import Settings

log = logging.getLogger("ftpush.pipeline.archive")

FAILED_FOLDER = "failed"


def archive_path(settings: Settings, app_key: str, import_id: int) -> Path:
    return settings.archive_dir / app_key / f"{import_id}.data"


def archive_file(settings: Settings, app_key: str, path: Path, import_id: int) -> Path:
    """Move a spooled file into the archive; returns its new path."""
    target = archive_path(settings, app_key, import_id)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    os.replace(path, target)
    return target


def reject_file(settings: Settings, app_key: str, path: Path, name: str) -> Path:
    """Move a whole-file reject to the customer's ``failed/`` folder as ``name``."""
    target = settings.dropbox_dir / app_key / FAILED_FOLDER / name
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    os.replace(path, target)
    return target


def purge_archive(settings: Settings, now: dt.datetime | None = None) -> int:
    """Delete archived files older than the retention period; returns how many."""
    now = now or dt.datetime.now(dt.UTC)
    cutoff = (now - dt.timedelta(days=settings.intake.archive_retention_days)).timestamp()
    removed = 0
    if not settings.archive_dir.is_dir():
        return 0
    for app_dir in settings.archive_dir.iterdir():
        if not app_dir.is_dir() or app_dir.is_symlink():
            continue
        for entry in app_dir.iterdir():
            if entry.is_file() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
    if removed:
        log.info("purged %d archived files older than %d days", removed,
                 settings.intake.archive_retention_days)  # fmt: skip
    return removed
