"""What a process needs to run tasks: the queue, its handlers, and the sweeper.

``serve`` and ``worker`` build one :class:`JobRuntime`. Tasks run in Huey's
consumer threads; each thread keeps its own event loop and :class:`Dispatcher`
so push providers' HTTP/2 connections live across tasks.

The :class:`Sweeper` is what makes a lossy queue safe (docs/decisions/0001):
every ``interval`` seconds it re-enqueues files nobody is processing and
campaigns with due messages, straight from the ledger.

Example::

    runtime = JobRuntime(settings, db)
    spool = Spool(settings, db, on_received=runtime.queue.enqueue_import)
    workers = runtime.queue.start_workers(settings.queue.workers)
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.jobs.periodic import Periodic
from ftpush.jobs.queue import Handlers, HueyQueue, Workers, make_queue
from ftpush.pipeline.dispatch import Dispatcher, ProviderResolver
from ftpush.pipeline.imports import ImportProcessor
from ftpush.pipeline.providers import StoredProviders
from ftpush.storage import Database, imports, ledger
from ftpush.storage.types import utcnow

log = logging.getLogger("ftpush.jobs")


class JobRuntime:
    """The queue wired to the pipeline, for one process."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        providers: Callable[[], ProviderResolver] | None = None,
        memory_queue: bool = False,
    ) -> None:
        self.settings = settings
        self.db = db
        self._providers = providers or self._stored_providers
        self._local = threading.local()
        self._states: list[tuple[asyncio.Runner, Dispatcher]] = []
        self._states_lock = threading.Lock()
        self.queue: HueyQueue = make_queue(
            settings,
            Handlers(process_import=self.process_import, dispatch=self.dispatch),
            memory=memory_queue,
        )

    def process_import(self, import_id: int) -> None:
        processor = ImportProcessor(
            self.settings,
            self.db,
            on_campaign_ready=self.queue.enqueue_dispatch,
            batch_size=self.settings.push.batch_size * 4,
            lease_seconds=self.settings.queue.import_lease_seconds,
        )
        processor.process(import_id)

    def _stored_providers(self) -> ProviderResolver:
        return StoredProviders(
            self.settings, self.db, SecretBox.from_keys_dir(self.settings.keys_dir)
        )

    def _thread_state(self) -> tuple[asyncio.Runner, Dispatcher]:
        state = getattr(self._local, "state", None)
        if state is None:
            runner = asyncio.Runner()
            dispatcher = Dispatcher(
                self.settings,
                self.db,
                self._providers(),
                on_retry_later=lambda cid, delay: self.queue.enqueue_dispatch(cid, delay=delay),
            )
            state = (runner, dispatcher)
            self._local.state = state
            with self._states_lock:
                self._states.append(state)
        return state

    def close(self) -> None:
        """Close every thread's providers and event loop (after the workers stopped)."""
        with self._states_lock:
            states, self._states = self._states, []
        for runner, dispatcher in states:
            closer = getattr(dispatcher.providers, "aclose", None)
            try:
                if closer is not None:
                    runner.run(closer())
            except Exception:
                log.exception("closing push providers failed")
            finally:
                runner.close()
        self._local = threading.local()

    def dispatch(self, campaign_id: int) -> None:
        runner, dispatcher = self._thread_state()
        summary = runner.run(dispatcher.run_campaign(campaign_id))
        if summary.claimed:
            log.info(
                "campaign %s: %d sent, %d retry, %d failed, %d dead tokens",
                campaign_id,
                summary.sent,
                summary.retry,
                summary.failed,
                summary.invalid_token,
            )


class Sweeper(Periodic):
    """Re-enqueues from the ledger whatever a lost task left behind (a serve service)."""

    name = "sweeper"

    def __init__(self, db: Database, queue: HueyQueue, *, interval: float = 15.0) -> None:
        super().__init__(interval)
        self._db = db
        self._queue = queue

    @property
    def endpoints(self) -> list[str]:
        return [f"re-enqueues lost work every {self.interval:g} s"]

    def sweep(self) -> tuple[list[int], list[int]]:
        """One pass: (import ids, campaign ids) enqueued again."""
        now = utcnow()
        with self._db.read() as session:
            files = imports.unfinished_imports(session, now)
            campaigns = ledger.campaigns_with_due_messages(session, now)
        for import_id in files:
            self._queue.enqueue_import(import_id)
        for campaign_id in campaigns:
            self._queue.enqueue_dispatch(campaign_id)
        return files, campaigns

    async def tick(self) -> object:
        return await asyncio.to_thread(self.sweep)


class WorkerService:
    """Consumer threads as a serve service."""

    name = "workers"

    def __init__(self, runtime: JobRuntime, count: int) -> None:
        self._runtime = runtime
        self._count = count
        self._workers: Workers | None = None

    @property
    def endpoints(self) -> list[str]:
        backend = self._runtime.settings.queue.url or "sqlite (data directory)"
        return [f"{self._count} worker threads on queue {backend.split('@')[-1]}"]

    async def start(self) -> None:
        self._workers = self._runtime.queue.start_workers(self._count)

    async def stop(self) -> None:
        workers = self._workers
        if workers is not None:
            await asyncio.to_thread(workers.stop)
            self._workers = None
            await asyncio.to_thread(self._runtime.close)
