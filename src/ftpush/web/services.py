"""What the API hands work to: the task queue and the intake's file receiver.

The web layer sits beside :mod:`ftpush.intake` in the import layers (``ftpush.web |
ftpush.intake``), so it may not import the spool; the spool may not import the web
either. The process that owns both (``ftpush serve``, a test) builds the spool and gives
the app a :data:`FileReceiver` — a plain callable taking an :class:`Upload` — and the
queue its workers consume (docs/decisions/0701-api-uploads.md).

Example (the composition root, in ``ftpush.cli``)::

    runtime = JobRuntime(settings, db)
    spool = Spool(settings, db, on_received=runtime.queue.enqueue_import)
    app = create_app(settings, db=db, queue=runtime.queue,
                     receive_upload=upload_receiver(spool))   # ftpush.cli.serve

Without an injected queue, :func:`get_queue` builds one from the settings: the same
SQLite or Redis queue the workers of ``ftpush serve`` / ``ftpush worker`` consume.
Without a receiver, uploads answer 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, BinaryIO

from fastapi import Depends, FastAPI, HTTPException, Request

from ftpush.jobs.queue import TaskQueue
from ftpush.jobs.runtime import JobRuntime


@dataclass(frozen=True)
class Upload:
    """A file handed over whole through the API, for the intake's spool.

    ``folder`` is what the client asked for (``/``, ``Profile``, ``validate``,
    ``validate/Profile``, any case); the spool checks it (``InvalidInput`` field
    ``folder``). ``name`` has already been checked to be a plain file name.
    """

    app_id: int
    app_key: str
    folder: str
    name: str
    source: BinaryIO
    received_by: str | None
    remote_addr: str | None


FileReceiver = Callable[[Upload], int]
"""Takes an upload into the spool, records it and returns the import id.

Same contract as ``Spool.receive``: the file is recorded ``received``, ``duplicate`` or
``failed`` before it returns; a received file goes on the queue (``on_received``).
"""

_lock = threading.Lock()


def install(
    app: FastAPI,
    *,
    queue: TaskQueue | None = None,
    receive_upload: FileReceiver | None = None,
) -> None:
    """Give the app the queue and the upload receiver of the process that serves it."""
    app.state.queue = queue
    app.state.receive_upload = receive_upload


def get_queue(request: Request) -> TaskQueue:
    """The injected queue, else one built once from the settings (the workers' queue)."""
    state = request.app.state
    queue: TaskQueue | None = getattr(state, "queue", None)
    if queue is None:
        with _lock:
            queue = getattr(state, "queue", None)
            if queue is None:
                queue = JobRuntime(state.settings, state.db).queue
                state.queue = queue
    return queue


def get_receiver(request: Request) -> FileReceiver:
    receiver: FileReceiver | None = getattr(request.app.state, "receive_upload", None)
    if receiver is None:
        raise HTTPException(503, "uploads over HTTP are not enabled in this process")
    return receiver


Queue = Annotated[TaskQueue, Depends(get_queue)]
Receiver = Annotated[FileReceiver, Depends(get_receiver)]
