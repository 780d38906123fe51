"""The queue on every backend it supports: SQLite (default), Redis, memory."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ftpush.config import load_settings
from ftpush.errors import ConfigError
from ftpush.jobs.queue import Handlers, HueyQueue, make_queue

REDIS_URL = os.environ.get("FTPUSH_TEST_REDIS_URL")


def _queue(kind: str, tmp_path: Path, handlers: Handlers) -> HueyQueue:
    if kind == "redis":
        if not REDIS_URL:
            pytest.skip("FTPUSH_TEST_REDIS_URL is not set")
        settings = load_settings(data_dir=tmp_path, environ={}, queue={"url": REDIS_URL})
        queue = make_queue(settings, handlers)
        queue.huey.flush()
        return queue
    settings = load_settings(data_dir=tmp_path, environ={})
    return make_queue(settings, handlers, memory=kind == "memory")


@pytest.mark.parametrize("kind", ["sqlite", "memory", "redis"])
def test_tasks_carry_ids_to_the_handlers(kind: str, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def dispatch(campaign_id: int) -> None:
        seen.append(("dispatch", campaign_id))
        if len(seen) == 3:
            done.set()

    handlers = Handlers(process_import=lambda i: seen.append(("import", i)), dispatch=dispatch)
    queue = _queue(kind, tmp_path, handlers)
    queue.enqueue_import(42)
    queue.enqueue_dispatch(7)
    queue.enqueue_dispatch(8, delay=0.2)
    assert queue.depth() == 3  # a delayed task waits in the queue until a worker schedules it
    workers = queue.start_workers(2)
    try:
        assert done.wait(15)
    finally:
        workers.stop()
    assert sorted(seen) == [("dispatch", 7), ("dispatch", 8), ("import", 42)]
    assert queue.depth() == 0


def test_run_pending_executes_in_this_thread(tmp_path: Path) -> None:
    seen: list[int] = []
    queue = _queue("memory", tmp_path, Handlers(process_import=seen.append, dispatch=seen.append))
    queue.enqueue_import(1)
    queue.enqueue_dispatch(2)
    assert queue.run_pending() == 2
    assert seen == [1, 2]


def test_a_failing_task_does_not_stop_the_workers(tmp_path: Path) -> None:
    seen: list[int] = []

    def flaky(import_id: int) -> None:
        if import_id == 1:
            raise RuntimeError("boom")
        seen.append(import_id)

    queue = _queue("sqlite", tmp_path, Handlers(process_import=flaky, dispatch=seen.append))
    queue.enqueue_import(1)
    queue.enqueue_import(2)
    workers = queue.start_workers(1)
    try:
        deadline = time.monotonic() + 15
        while seen != [2] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        workers.stop()
    assert seen == [2]


def test_unknown_queue_urls_are_refused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, environ={}, queue={"url": "amqp://x"})
    with pytest.raises(ConfigError, match="redis://"):
        make_queue(settings, Handlers(process_import=print, dispatch=print))
