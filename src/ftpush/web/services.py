"""What the API hands work to: the task queue, the intake's file receiver and its reprocess.

The web layer sits beside :mod:`ftpush.intake` in the import layers (``ftpush.web |
ftpush.intake``), so it may not import the spool; the spool may not import the web
either. The process that owns both (``ftpush serve``, a test) builds the spool and gives
the app a :data:`FileReceiver` — a plain callable taking an :class:`Upload` —, a
:data:`Reprocessor` (an operator's forced reprocess of kept content, decision 0902) and
the queue its workers consume (docs/decisions/0701-api-uploads.md).

Example (the composition root, in ``ftpush.cli``)::

    runtime = JobRuntime(settings, db)
    spool = Spool(settings, db, on_received=runtime.queue.enqueue_import)
    app = create_app(settings, db=db, queue=runtime.queue,
                     receive_upload=upload_receiver(spool),
                     reprocess=reprocessor(spool))             # ftpush.cli.serve

Without an injected queue, :func:`get_queue` builds one from the settings: the same
SQLite or Redis queue the workers of ``ftpush serve`` / ``ftpush worker`` consume.
Without a receiver, uploads answer 503; without a reprocessor, so do reprocesses.
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


@dataclass(frozen=True)
class Reprocess:
    """An order to process an import's kept content again (``ftpush.intake.reprocess``).

    ``app_id`` scopes the import (another app's is ``NotFound``); ``forced_by`` says
    who asked (``panel:<user>``, ``api:<key prefix>``).
    """

    import_id: int
    app_id: int
    forced_by: str
    remote_addr: str | None


Reprocessor = Callable[[Reprocess], int]
"""Records a new, forced import of the kept content and returns its id.

Raises ``NotFound`` (no such import, or another app's) and ``Conflict`` (still in
flight, or the content is no longer kept).
"""

_lock = threading.Lock()


def install(
    app: FastAPI,
    *,
    queue: TaskQueue | None = None,
    receive_upload: FileReceiver | None = None,
    reprocess: Reprocessor | None = None,
) -> None:
    """Give the app the queue, upload receiver and reprocessor of the serving process."""
    app.state.queue = queue
    app.state.receive_upload = receive_upload
    app.state.reprocess = reprocess


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


def reprocessor(request: Request) -> Reprocessor | None:
    """The injected reprocessor, or None in a process that has no spool."""
    found: Reprocessor | None = getattr(request.app.state, "reprocess", None)
    return found


def get_reprocessor(request: Request) -> Reprocessor:
    found = reprocessor(request)
    if found is None:
        raise HTTPException(503, "reprocessing is not enabled in this process")
    return found


Queue = Annotated[TaskQueue, Depends(get_queue)]
Receiver = Annotated[FileReceiver, Depends(get_receiver)]
Reprocessing = Annotated[Reprocessor, Depends(get_reprocessor)]
