"""The task queue: Huey behind a two-method interface that carries only ids.

The database ledger is the source of truth (docs/decisions/0001); a task is
only a pointer ("process import 42", "dispatch campaign 7"). A lost task (a
worker SIGKILLed mid-task loses it: Huey has already dequeued it) is
re-created by the sweeper from the ledger; a task run twice finds nothing
left to do. So the queue may be Huey on SQLite (the default, in the data
directory), on Redis (``queue.url = "redis://..."``) or in memory (tests).

Example::

    queue = make_queue(settings, Handlers(process_import=..., dispatch=...))
    queue.enqueue_import(42)
    workers = queue.start_workers(2)   # in serve / ftpush worker
    ...
    workers.stop()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from ftpush.config import Settings
from ftpush.errors import ConfigError

log = logging.getLogger("ftpush.jobs.queue")


@dataclass(frozen=True)
class Handlers:
    """What the tasks do; the jobs layer only wires them to the queue."""

    process_import: Callable[[int], None]
    dispatch: Callable[[int], None]


class TaskQueue(Protocol):
    def enqueue_import(self, import_id: int) -> None: ...

    def enqueue_dispatch(self, campaign_id: int, *, delay: float | None = None) -> None: ...

    def depth(self) -> int: ...


class _QuietConsumer(Consumer):  # type: ignore[misc]
    """A consumer that leaves signal handling to ``serve``/``worker``."""

    def _set_signal_handlers(self) -> None:
        return


class Workers:
    """Running consumer threads; :meth:`stop` waits for the current tasks."""

    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    def stop(self) -> None:
        self._consumer.stop(graceful=True)


class HueyQueue:
    """:class:`TaskQueue` on a Huey instance (SQLite, Redis or memory storage)."""

    def __init__(self, huey: Huey, handlers: Handlers) -> None:
        self.huey = huey
        self._handlers = handlers

        @huey.task(name="process_import")  # type: ignore[untyped-decorator]
        def process_import(import_id: int) -> None:
            handlers.process_import(import_id)

        @huey.task(name="dispatch")  # type: ignore[untyped-decorator]
        def dispatch(campaign_id: int) -> None:
            handlers.dispatch(campaign_id)

        self._process_import: Any = process_import
        self._dispatch: Any = dispatch

    def enqueue_import(self, import_id: int) -> None:
        self._process_import(import_id)

    def enqueue_dispatch(self, campaign_id: int, *, delay: float | None = None) -> None:
        if delay:
            self._dispatch.schedule(args=(campaign_id,), delay=delay)
        else:
            self._dispatch(campaign_id)

    def depth(self) -> int:
        return int(self.huey.pending_count())

    def start_workers(self, count: int) -> Workers:
        consumer = _QuietConsumer(
            self.huey,
            workers=count,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            max_delay=0.25,  # an idle worker starts a new task within a quarter second
            backoff=1.5,
            check_worker_health=True,
        )
        consumer.start()
        return Workers(consumer)

    def run_pending(self) -> int:
        """Run every queued task now in this thread (tests, ``ftpush import``)."""
        done = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            done += 1
        return done


def make_huey(settings: Settings, *, memory: bool = False) -> Huey:
    """The Huey instance the settings ask for."""
    if memory:
        return MemoryHuey("ftpush", results=False)
    url = settings.queue.url
    if not url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(
            "ftpush", filename=str(settings.data_dir / "queue.db"), results=False, timeout=15
        )
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("ftpush", url=url, results=False)
    raise ConfigError(f"queue.url must be empty (SQLite) or a redis:// URL, not {url[:20]!r}")


def make_queue(settings: Settings, handlers: Handlers, *, memory: bool = False) -> HueyQueue:
    return HueyQueue(make_huey(settings, memory=memory), handlers)
