"""`/imports`: push and profile files over HTTP, and the history of every file received.

``POST`` hands the uploaded file to the intake's spool (the same ``Spool.receive`` as
``ftpush import``; see :mod:`ftpush.web.services`): copied into the spool, hashed, checked
for UTF-8, duplicate detection, recorded with source ``api``, result files in the app's
``results/``; a received file goes on the queue exactly like an SFTP upload. The answer
(202) is the recorded import: ``received`` (queued), ``duplicate`` or ``failed``.

``POST /{id}/reprocess`` is an operator's forced reprocess (SPEC §2, decision 0902): the
kept content becomes a new import of the same name and folder that skips duplicate
detection, queued like an upload (the intake's reprocessor, injected like the receiver).

The result files are read by :mod:`ftpush.web.results` (shared with the panel): from the
app's dropbox ``results/`` folder, by names built from the import's own file name (never
from the request), and only while they still belong to that import.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Path, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ftpush.crypto import API_KEY_PREFIX
from ftpush.errors import FileTooLarge, InvalidInput
from ftpush.storage import imports
from ftpush.storage.tables import ImportFile
from ftpush.web import results
from ftpush.web.auth import AppCaller, AppSettings, Db
from ftpush.web.errors import PROBLEM_JSON, Problem
from ftpush.web.pagination import Cursor, Limit, Page, decode_cursor, next_cursor
from ftpush.web.services import Receiver, Reprocess, Reprocessing, Upload

router = APIRouter(prefix="/imports", tags=["imports"])

ImportId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The import's id.")]

# The result file's name must fit the file system's 255 bytes.
MAX_NAME_BYTES = 255 - len(results.RESULT_SUFFIX)
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\\/]")


class LineErrorOut(BaseModel):
    line: int
    external_id: str
    code: str
    message: str
    field: str | None = None


class ImportOut(BaseModel):
    id: int
    name: str
    folder: str = Field(description="`/`, `/Profile`, `/validate` or `/validate/Profile`.")
    kind: str = Field(description="`push` or `profile`.")
    dry_run: bool
    status: str = Field(
        description="`received`, `processing`, `done`, `partial`, `failed`, `duplicate`, "
        "`incomplete`."
    )
    source: str
    forced: bool = Field(
        description="An operator's reprocess: processed even though its content was seen."
    )
    size: int
    sha256: str
    received_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    lines: int
    accepted: int
    rejected: int
    progress_line: int = Field(description="Every line up to this one is processed.")
    counts: dict[str, int]
    error_code: str | None
    error_message: str | None
    campaign: str | None = Field(description="The push file's campaign (msg_id).")


class ImportDetail(ImportOut):
    result_files: list[str] = Field(
        description="Names to fetch from `/api/v1/imports/{id}/results/{name}`."
    )
    errors: list[LineErrorOut] = Field(description="The first rejected lines (at most 100).")
    errors_total: int
    errors_truncated: bool


def import_out(row: ImportFile, msg_id: str | None) -> ImportOut:
    counts = row.counts or {}
    return ImportOut(
        id=row.id,
        name=row.name,
        folder="/" + row.folder,
        kind=str(row.kind),
        dry_run=row.dry_run,
        status=str(row.status),
        source=str(row.source),
        forced=row.forced,
        size=row.size,
        sha256=row.sha256,
        received_at=row.received_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        lines=row.lines_total,
        accepted=row.accepted,
        rejected=row.rejected,
        progress_line=row.checkpoint_line,
        counts={k: v for k, v in counts.items() if type(v) is int},
        error_code=row.error_code,
        error_message=row.error_message,
        campaign=msg_id,
    )


# --- upload ---------------------------------------------------------------------------


def check_name(name: str | None) -> str:
    """The uploaded file's name, if it is a plain name the dropbox would accept."""
    if not name:
        raise InvalidInput("the uploaded file needs a file name", field="file")
    if name in {".", ".."} or _BAD_NAME.search(name):
        raise InvalidInput(
            f"file name {name!r} is not allowed: no '/', '\\', NUL or control characters",
            field="file",
        )
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise InvalidInput(f"the file name is longer than {MAX_NAME_BYTES} bytes", field="file")
    return name


def default_folder(name: str) -> str:
    """``*.txt`` files are profile files; anything else goes to the root (push files)."""
    return "Profile" if name.lower().endswith(".txt") else "/"


def _received_by(request: Request) -> str:
    """``api:<key prefix>``: which of the app's keys uploaded the file (never the key)."""
    _, _, key = request.headers.get("authorization", "").partition(" ")
    parts = key.strip().split("_", 2)
    if len(parts) == 3 and f"{parts[0]}_" == API_KEY_PREFIX and parts[1].isalnum():
        return f"api:{parts[1][:16]}"
    return "api"


@router.post(
    "",
    status_code=202,
    summary="Upload a push or profile file; it is processed like an SFTP upload",
    responses={
        413: {"description": "The file is larger than the upload limit."},
        503: {"description": "Uploads over HTTP are not enabled in this process."},
    },
)
def upload(
    caller: AppCaller,
    db: Db,
    receiver: Receiver,
    request: Request,
    response: Response,
    file: Annotated[UploadFile, File(description="The file, under its own name.")],
    folder: Annotated[
        str | None,
        Form(
            max_length=64,
            description="`/`, `Profile`, `validate` or `validate/Profile` (any case); "
            "default: `Profile` for `*.txt`, `/` otherwise.",
        ),
    ] = None,
) -> ImportOut:
    name = check_name(file.filename)
    target = default_folder(name) if folder is None else folder
    client = request.client
    try:
        import_id = receiver(
            Upload(
                app_id=caller.app_id,
                app_key=caller.app_key,
                folder=target,
                name=name,
                source=file.file,
                received_by=_received_by(request),
                remote_addr=client.host if client else None,
            )
        )
    except FileTooLarge as exc:
        raise HTTPException(413, exc.message) from None
    except InvalidInput as exc:
        if exc.field == "name":
            raise InvalidInput(exc.message, field="file") from None
        raise
    with db.read() as session:
        row = imports.get_import(session, import_id, app_id=caller.app_id)
        msg_id = imports.campaign_msg_ids(session, [row.id]).get(row.id)
        out = import_out(row, msg_id)
    response.headers["Location"] = f"/api/v1/imports/{out.id}"
    return out


# --- history --------------------------------------------------------------------------


@router.get("", summary="The app's imports, newest first")
def list_imports(
    caller: AppCaller, db: Db, limit: Limit = 50, cursor: Cursor = None
) -> Page[ImportOut]:
    with db.read() as session:
        rows = imports.list_imports(
            session, caller.app_key, limit=limit, before_id=decode_cursor(cursor)
        )
        ids = [r.id for r in rows]
        msg_ids = imports.campaign_msg_ids(session, ids)
        items = [import_out(r, msg_ids.get(r.id)) for r in rows]
    return Page[ImportOut](items=items, next_cursor=next_cursor(ids, limit))


@router.get("/{import_id}", summary="One import: status, counts, progress, errors, result files")
def get_import(
    caller: AppCaller, db: Db, settings: AppSettings, import_id: ImportId
) -> ImportDetail:
    with db.read() as session:
        row = imports.get_import(session, import_id, app_id=caller.app_id)
        msg_id = imports.campaign_msg_ids(session, [row.id]).get(row.id)
        out = import_out(row, msg_id)
    summary = results.result_summary(settings, caller.app_key, _ref(out))
    return ImportDetail(
        **out.model_dump(),
        result_files=summary.names,
        errors=[LineErrorOut(**asdict(e)) for e in summary.errors],
        errors_total=summary.errors_total,
        errors_truncated=summary.errors_truncated,
    )


def _ref(imp: ImportOut) -> results.ImportRef:
    return results.ImportRef(imp.id, imp.name, imp.rejected)


@router.post(
    "/{import_id}/reprocess",
    status_code=202,
    summary="Process a finished file again (forced: duplicate detection skipped)",
    description="The content kept in the archive (or, for a whole-file reject, in "
    "`failed/`) becomes a new import of the same name and folder, marked `forced`, queued "
    "like an upload. Answers the new import: `received` — or `duplicate` when a file of "
    "the same content is still queued or processed, `failed` when it is rejected as a whole.",
    responses={
        409: {
            "description": "The import is still queued or processed (`code` `in_progress`), "
            "or its content is no longer kept (`code` `content_not_kept`: the archive's "
            "retention, an incomplete upload, a rejected file deleted from `failed/`).",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "model": Problem,
        },
        503: {"description": "Reprocessing is not enabled in this process."},
    },
)
def reprocess_import(
    caller: AppCaller,
    db: Db,
    reprocess: Reprocessing,
    request: Request,
    response: Response,
    import_id: ImportId,
) -> ImportOut:
    client = request.client
    new_id = reprocess(
        Reprocess(
            import_id=import_id,
            app_id=caller.app_id,
            forced_by=_received_by(request),
            remote_addr=client.host if client else None,
        )
    )
    with db.read() as session:
        row = imports.get_import(session, new_id, app_id=caller.app_id)
        out = import_out(row, imports.campaign_msg_ids(session, [row.id]).get(row.id))
    response.headers["Location"] = f"/api/v1/imports/{out.id}"
    return out


# --- result files ---------------------------------------------------------------------


@router.get(
    "/{import_id}/results/{name}",
    summary="Download `<file>.result.json` or `<file>.errors.csv` of an import",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The result file.",
            "content": {"application/json": {}, "text/csv": {}},
        }
    },
)
def download_result(
    caller: AppCaller,
    db: Db,
    settings: AppSettings,
    import_id: ImportId,
    name: Annotated[str, Path(min_length=1, max_length=600)],
) -> StreamingResponse:
    with db.read() as session:
        row = imports.get_import(session, import_id, app_id=caller.app_id)
        ref = results.ImportRef(row.id, row.name, row.rejected)
    return results.download(settings, caller.app_key, ref, name)
