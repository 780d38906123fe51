"""Periodic upkeep that needs no queue: the archive's retention purge, and report files
kept for retries (``spool/exports``) once as old as the archive's retention.

Runs inside ``serve`` as a service: once at start, then every ``interval``
seconds. Each task is idempotent, so several ``serve`` processes may run it.

Example::

    keeper = Housekeeping(settings, interval=3600)
    await keeper.start(); ...; await keeper.stop()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from ftpush.config import Settings
from ftpush.jobs.periodic import Periodic
from ftpush.pipeline.archive import purge_archive
from ftpush.pipeline.exports import purge_spool

log = logging.getLogger("ftpush.jobs.housekeeping")


class Housekeeping(Periodic):
    name = "upkeep"

    def __init__(self, settings: Settings, *, interval: float = 3600.0) -> None:
        super().__init__(interval)
        self._settings = settings

    @property
    def endpoints(self) -> list[str]:
        days = self._settings.intake.archive_retention_days
        return [f"archive kept {days} days, purged every {self.interval:g} s"]

    async def run_once(self) -> int:
        purged = await asyncio.to_thread(purge_archive, self._settings)
        keep = dt.timedelta(days=self._settings.intake.archive_retention_days)
        return purged + await asyncio.to_thread(
            purge_spool, self._settings, older_than=keep, now=time.time()
        )

    async def tick(self) -> object:
        return await self.run_once()
