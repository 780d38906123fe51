"""Periodic upkeep that needs no queue: the archive's retention purge.

Runs inside ``serve`` as a service: once at start, then every ``interval``
seconds. Each task is idempotent, so several ``serve`` processes may run it.

Example::

    keeper = Housekeeping(settings, interval=3600)
    await keeper.start(); ...; await keeper.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ftpush.config import Settings
from ftpush.pipeline.archive import purge_archive

log = logging.getLogger("ftpush.jobs.housekeeping")


class Housekeeping:
    name = "upkeep"

    def __init__(self, settings: Settings, *, interval: float = 3600.0) -> None:
        self._settings = settings
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def endpoints(self) -> list[str]:
        days = self._settings.intake.archive_retention_days
        return [f"archive kept {days} days, purged every {self.interval:g} s"]

    async def run_once(self) -> int:
        return await asyncio.to_thread(purge_archive, self._settings)

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="ftpush-housekeeping")

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
