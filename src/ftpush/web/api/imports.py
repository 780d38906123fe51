"""`/imports`: push and profile files over HTTP, and the history of every file received.

``POST`` hands the uploaded file to the intake's spool (the same ``Spool.receive`` as
``ftpush import``; see :mod:`ftpush.web.services`): copied into the spool, hashed, checked
for UTF-8, duplicate detection, recorded with source ``api``, result files in the app's
``results/``; a received file goes on the queue exactly like an SFTP upload. The answer
(202) is the recorded import: ``received`` (queued), ``duplicate`` or ``failed``.

The result files are read from the app's dropbox ``results/`` folder, by names built from
the import's own file name (never from the request), and only while they still belong to
that import: the same name may be reused, and a later file's results replace them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, HTTPException, Path, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from ftpush.config import Settings
from ftpush.crypto import API_KEY_PREFIX
from ftpush.errors import FileTooLarge, InvalidInput, NotFound
from ftpush.pipeline.results import RESULTS_FOLDER
from ftpush.storage import imports
from ftpush.storage.tables import ImportFile
from ftpush.web.auth import AppCaller, AppSettings, Db
from ftpush.web.pagination import Cursor, Limit, Page, decode_cursor, next_cursor
from ftpush.web.services import Receiver, Upload

router = APIRouter(prefix="/imports", tags=["imports"])

ImportId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The import's id.")]

RESULT_SUFFIX = ".result.json"
ERRORS_SUFFIX = ".errors.csv"
# The result file's name must fit the file system's 255 bytes.
MAX_NAME_BYTES = 255 - len(RESULT_SUFFIX)
MAX_RESULT_JSON_BYTES = 8 * 1024 * 1024
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\\/]")
_CHUNK = 256 * 1024


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
    doc, names = _owned_results(settings, caller.app_key, out)
    errors: list[LineErrorOut] = []
    raw_errors = doc.get("errors") if doc else None
    for item in raw_errors if isinstance(raw_errors, list) else []:
        try:
            errors.append(LineErrorOut.model_validate(item))
        except ValidationError:
            continue
    total = doc.get("errors_total") if doc else None
    errors_total = total if type(total) is int else out.rejected
    return ImportDetail(
        **out.model_dump(),
        result_files=names,
        errors=errors,
        errors_total=errors_total,
        errors_truncated=errors_total > len(errors),
    )


# --- result files ---------------------------------------------------------------------


def _results_dir(settings: Settings, app_key: str) -> FsPath:
    return settings.dropbox_dir / app_key / RESULTS_FOLDER


def _open_regular(path: FsPath) -> int | None:
    """A descriptor on a regular file, never through a symlink; None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _result_document(folder: FsPath, imp: ImportOut) -> dict[str, Any] | None:
    """``<name>.result.json`` when it is there and is this import's (not a later file's)."""
    fd = _open_regular(folder / f"{imp.name}{RESULT_SUFFIX}")
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_RESULT_JSON_BYTES + 1)
    if len(raw) > MAX_RESULT_JSON_BYTES:
        return None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("import_id") != imp.id:
        return None
    return doc


def _owned_results(
    settings: Settings, app_key: str, imp: ImportOut
) -> tuple[dict[str, Any] | None, list[str]]:
    """This import's result document and the names of its result files still there."""
    folder = _results_dir(settings, app_key)
    doc = _result_document(folder, imp)
    if doc is None:
        return None, []
    names = [f"{imp.name}{RESULT_SUFFIX}"]
    errors_csv = folder / f"{imp.name}{ERRORS_SUFFIX}"
    if imp.rejected and errors_csv.is_file() and not errors_csv.is_symlink():
        names.append(errors_csv.name)
    return doc, names


def _content_disposition(name: str) -> str:
    quoted = quote(name, safe="")
    if quoted == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=utf-8''{quoted}"


def _stream(fd: int) -> Iterator[bytes]:
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


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
        imp = import_out(row, None)
    types = {
        f"{imp.name}{RESULT_SUFFIX}": "application/json",
        f"{imp.name}{ERRORS_SUFFIX}": "text/csv; charset=utf-8",
    }
    if name not in types:
        raise NotFound(f"import {imp.id} has no result file of that name")
    _, names = _owned_results(settings, caller.app_key, imp)
    fd = _open_regular(_results_dir(settings, caller.app_key) / name) if name in names else None
    if fd is None:
        raise NotFound(
            f"{name} of import {imp.id} is not there: not written yet, deleted, or replaced "
            "by a later file of the same name"
        )
    size = os.fstat(fd).st_size
    return StreamingResponse(
        _stream(fd),
        media_type=types[name],
        headers={"Content-Length": str(size), "Content-Disposition": _content_disposition(name)},
    )
