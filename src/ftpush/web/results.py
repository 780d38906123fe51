"""An import's result files, read for the API and the panel alike.

The result files are read from the app's dropbox ``results/`` folder, by names built
from the import's own file name (never from the request), and only while they still
belong to that import: the same name may be reused, and a later file's results replace
them (``<name>.result.json`` carries the ``import_id`` it is about). Files are opened
without following symlinks and streamed.

* :func:`result_summary` — the result files still there and the first rejected lines
  (``GET /api/v1/imports/{id}``, the panel's import page);
* :func:`download` — one of them as a streamed attachment (both download routes).

Example::

    >>> summary = result_summary(settings, "alpha", ImportRef(7, "push.csv", rejected=2))
    ... # doctest: +SKIP
    >>> summary.names
    ['push.csv.result.json', 'push.csv.errors.csv']
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.responses import StreamingResponse

from ftpush.config import Settings
from ftpush.errors import NotFound
from ftpush.pipeline.results import RESULTS_FOLDER

RESULT_SUFFIX = ".result.json"
ERRORS_SUFFIX = ".errors.csv"
MAX_RESULT_JSON_BYTES = 8 * 1024 * 1024
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ImportRef:
    """What locating an import's result files needs to know about it."""

    import_id: int
    name: str
    rejected: int = 0


@dataclass(frozen=True)
class ResultError:
    """One rejected line as the result document lists it."""

    line: int
    external_id: str
    code: str
    message: str
    field: str | None = None

    @classmethod
    def parse(cls, item: object) -> ResultError | None:
        """The item if it has the expected shape (the document is a file on disk)."""
        if not isinstance(item, dict):
            return None
        line, field_ = item.get("line"), item.get("field")
        texts = [item.get(k) for k in ("external_id", "code", "message")]
        if type(line) is not int or not all(isinstance(t, str) for t in texts):
            return None
        if field_ is not None and not isinstance(field_, str):
            return None
        external_id, code, message = (str(t) for t in texts)
        return cls(line, external_id, code, message, field_)


@dataclass(frozen=True)
class ResultSummary:
    """The import's result files still there, and the first rejected lines."""

    names: list[str] = field(default_factory=list)
    errors: list[ResultError] = field(default_factory=list)
    errors_total: int = 0

    @property
    def errors_truncated(self) -> bool:
        return self.errors_total > len(self.errors)


def results_dir(settings: Settings, app_key: str) -> Path:
    return settings.dropbox_dir / app_key / RESULTS_FOLDER


def open_regular(path: Path) -> int | None:
    """A descriptor on a regular file, never through a symlink; None when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _result_document(folder: Path, ref: ImportRef) -> dict[str, Any] | None:
    """``<name>.result.json`` when it is there and is this import's (not a later file's)."""
    fd = open_regular(folder / f"{ref.name}{RESULT_SUFFIX}")
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
    if not isinstance(doc, dict) or doc.get("import_id") != ref.import_id:
        return None
    return doc


def _owned(
    settings: Settings, app_key: str, ref: ImportRef
) -> tuple[dict[str, Any] | None, list[str]]:
    folder = results_dir(settings, app_key)
    doc = _result_document(folder, ref)
    if doc is None:
        return None, []
    names = [f"{ref.name}{RESULT_SUFFIX}"]
    errors_csv = folder / f"{ref.name}{ERRORS_SUFFIX}"
    if ref.rejected and errors_csv.is_file() and not errors_csv.is_symlink():
        names.append(errors_csv.name)
    return doc, names


def result_summary(settings: Settings, app_key: str, ref: ImportRef) -> ResultSummary:
    """This import's result files still there, and the errors its result document lists."""
    doc, names = _owned(settings, app_key, ref)
    raw = doc.get("errors") if doc else None
    parsed = (ResultError.parse(item) for item in (raw if isinstance(raw, list) else []))
    errors = [e for e in parsed if e is not None]
    total = doc.get("errors_total") if doc else None
    return ResultSummary(names, errors, total if type(total) is int else ref.rejected)


def content_disposition(name: str) -> str:
    quoted = quote(name, safe="")
    if quoted == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=utf-8''{quoted}"


def _stream(fd: int) -> Iterator[bytes]:
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def download(settings: Settings, app_key: str, ref: ImportRef, name: str) -> StreamingResponse:
    """``name`` (the import's result or errors file) streamed; ``NotFound`` otherwise."""
    types = {
        f"{ref.name}{RESULT_SUFFIX}": "application/json",
        f"{ref.name}{ERRORS_SUFFIX}": "text/csv; charset=utf-8",
    }
    if name not in types:
        raise NotFound(f"import {ref.import_id} has no result file of that name")
    _, names = _owned(settings, app_key, ref)
    fd = open_regular(results_dir(settings, app_key) / name) if name in names else None
    if fd is None:
        raise NotFound(
            f"{name} of import {ref.import_id} is not there: not written yet, deleted, or "
            "replaced by a later file of the same name"
        )
    size = os.fstat(fd).st_size
    return StreamingResponse(
        _stream(fd),
        media_type=types[name],
        headers={"Content-Length": str(size), "Content-Disposition": content_disposition(name)},
    )
