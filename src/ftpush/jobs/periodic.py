"""The loop every periodic ``serve`` service shares (sweeper, upkeep, pull-mode poller).

:class:`Periodic` runs :meth:`Periodic.tick` once at start, then every ``interval``
seconds until :meth:`Periodic.stop`; a tick that fails is logged and the next one runs
on time, and ``stop`` waits for a tick in progress.

Example::

    class Ping(Periodic):
        name = "ping"
        async def tick(self) -> None: ...

    service = Ping(interval=30)
    await service.start(); ...; await service.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("ftpush.jobs")


class Periodic:
    """Base of the periodic services; subclasses set ``name`` and define ``tick``."""

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> object:
        raise NotImplementedError

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name=f"ftpush-{self.name}")

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("%s failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
