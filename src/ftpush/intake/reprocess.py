"""An operator's forced reprocess of a file (SPEC §2, *Duplicates*).

A file that ended ``done``, ``partial``, ``duplicate`` or ``failed`` can be processed
again on request (panel, API, ``ftpush imports reprocess``). Its content is taken from
where it was kept:

* ``archive/<app>/<import id>.data`` — every file that was processed or found to be a
  duplicate, for ``intake.archive_retention_days``;
* ``failed/<name>`` in the dropbox — a whole-file reject, as long as the customer has
  not deleted it and its SHA-256 is still the import's.

The content is handed to the spool exactly like an upload (:meth:`Spool.receive`: copied,
hashed, checked, recorded, put on the queue) as a **new** import of the same name and
folder, with ``forced`` set: it is not compared with files processed before, only with
files still in flight, so a second press while the first reprocess is queued or running
is recorded ``duplicate`` and sends nothing. The new import keeps the original's source
and pull server (its results go back where the customer looks for them) and records who
forced it in ``received_by`` (``panel:<user>``, ``api:<key prefix>``, ``cli:<user>``).

Errors: :class:`~ftpush.errors.NotFound` for an unknown import or another app's;
:class:`~ftpush.errors.Conflict` (code ``in_progress``) while the file is still queued
or processed, and (code ``content_not_kept``) when nothing of it is kept any more.

Example::

    >>> new_id = reprocess(spool, 42, app_id=1, forced_by="panel:alice")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from ftpush.errors import Conflict
from ftpush.intake.spool import Origin, Spool
from ftpush.models import ImportStatus
from ftpush.pipeline.archive import FAILED_FOLDER, archive_path
from ftpush.storage import apps, imports
from ftpush.storage.imports import REPROCESSABLE
from ftpush.storage.tables import ImportFile

IN_PROGRESS = "in_progress"
CONTENT_NOT_KEPT = "content_not_kept"

_CHUNK = 1024 * 1024


def _open_regular(path: Path) -> BinaryIO | None:
    """The file opened for reading, never through a symlink; None when it is not there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _sha256(fh: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
    fh.seek(0)
    return digest.hexdigest()


def open_kept_content(spool: Spool, app_key: str, row: ImportFile) -> BinaryIO | None:
    """The import's content, opened, if it is still kept and still the same bytes."""
    candidates = [archive_path(spool.settings, app_key, row.id)]
    if row.status is ImportStatus.FAILED:
        candidates.append(spool.settings.dropbox_dir / app_key / FAILED_FOLDER / row.name)
    for path in candidates:
        fh = _open_regular(path)
        if fh is None:
            continue
        if _sha256(fh) == row.sha256:
            return fh
        fh.close()  # the customer put other bytes under that name
    return None


def _refusal(row: ImportFile) -> Conflict | None:
    if row.status is ImportStatus.RECEIVED:
        return Conflict(f"import {row.id} is still queued; it is processed soon", code=IN_PROGRESS)
    if row.status is ImportStatus.PROCESSING:
        return Conflict(f"import {row.id} is being processed right now", code=IN_PROGRESS)
    if row.status not in REPROCESSABLE:  # incomplete: the partial upload was discarded
        return Conflict(
            f"import {row.id} is {row.status}: nothing of it was kept to process again; "
            "upload the file again",
            code=CONTENT_NOT_KEPT,
        )
    return None


def reprocess(
    spool: Spool,
    import_id: int,
    *,
    app_id: int | None,
    forced_by: str | None,
    remote_addr: str | None = None,
) -> int:
    """Record a new, forced import of ``import_id``'s kept content; returns its id.

    ``app_id`` scopes the lookup (None: any app, for the operator's CLI). The new
    import is ``received`` and queued — or ``duplicate`` when a file of the same
    content is still in flight, or ``failed`` when the content is rejected as a whole.
    """
    retention = spool.settings.intake.archive_retention_days
    with spool.db.read() as session:
        row = imports.get_import(session, import_id, app_id=app_id)
        app = apps.get_app_by_id(session, row.app_id)
    refusal = _refusal(row)
    if refusal is not None:
        raise refusal
    content = open_kept_content(spool, app.key, row)
    if content is None:
        kept = f"files are kept {retention} days after they arrive"
        if row.status is ImportStatus.FAILED:
            kept += "; a rejected file only while it is in failed/"
        raise Conflict(
            f"the content of import {row.id} ({row.name}) is no longer kept ({kept}); "
            "upload the file again",
            code=CONTENT_NOT_KEPT,
        )
    origin = Origin(
        app_id=app.id,
        app_key=app.key,
        source=row.source,
        received_by=forced_by,
        remote_addr=remote_addr,
        remote_server_id=row.remote_server_id,
    )
    with content:
        return spool.receive(
            origin, row.folder or "/", row.name, content, expected_sha256=row.sha256, forced=True
        )
