"""Result files written back to the customer (SPEC §2).

For every file the system handles it writes ``results/<name>.result.json``
and, when lines were rejected, ``results/<name>.errors.csv``
(``line;external_id;code;message``). Both are written under a temporary name
outside the dropbox and renamed into place, so a customer never downloads a
half-written result.

Example::

    >>> doc = ResultDocument(file="push.csv", folder="", status=ImportStatus.INCOMPLETE,
    ...                      message="the upload did not finish")
    >>> path = write_result(Path("/srv/data/dropbox/demo"), Path("/srv/data/spool"), doc)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ftpush.models import ImportStatus
from ftpush.storage.tables import ImportFile

RESULTS_FOLDER = "results"
MAX_ERRORS_IN_RESULT = 100


@dataclass(frozen=True)
class LineError:
    line: int
    external_id: str
    code: str
    message: str
    field: str | None = None


@dataclass
class ResultDocument:
    """The content of ``<name>.result.json``."""

    file: str
    folder: str
    status: ImportStatus
    message: str
    import_id: int | None = None
    kind: str | None = None
    dry_run: bool = False
    sha256: str | None = None
    size: int | None = None
    received_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    campaign_id: str | None = None
    error_code: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[LineError] = field(default_factory=list)
    errors_total: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["folder"] = "/" + self.folder if self.folder else "/"
        for key in ("received_at", "started_at", "finished_at"):
            value = getattr(self, key)
            data[key] = value.isoformat() if value is not None else None
        data["errors"] = [asdict(e) for e in self.errors[:MAX_ERRORS_IN_RESULT]]
        data["errors_truncated"] = self.errors_total > len(data["errors"])
        return data


@contextmanager
def _atomic_file(target: Path, scratch_dir: Path) -> Iterator[BinaryIO]:
    """A file that appears at ``target`` complete, or not at all."""
    scratch_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=scratch_dir, prefix=".result-")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def result_path(dropbox_root: Path, name: str) -> Path:
    return dropbox_root / RESULTS_FOLDER / f"{name}.result.json"


def write_result(dropbox_root: Path, scratch_dir: Path, doc: ResultDocument) -> Path:
    """Write ``results/<file>.result.json`` atomically; returns its path."""
    target = result_path(dropbox_root, doc.file)
    payload = json.dumps(doc.to_json(), indent=2, ensure_ascii=False).encode() + b"\n"
    with _atomic_file(target, scratch_dir) as fh:
        fh.write(payload)
    return target


def write_errors_csv(
    dropbox_root: Path, scratch_dir: Path, name: str, errors: Iterable[LineError]
) -> Path:
    """Write ``results/<name>.errors.csv`` (every rejected line) atomically."""
    target = dropbox_root / RESULTS_FOLDER / f"{name}.errors.csv"
    with _atomic_file(target, scratch_dir) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        writer = csv.writer(text, delimiter=";", lineterminator="\n")
        writer.writerow(["line", "external_id", "code", "message"])
        for err in errors:  # streamed: a file may have millions of rejected lines
            writer.writerow([err.line, err.external_id, err.code, err.message])
        text.flush()
        text.detach()
    return target


_DEFAULT_MESSAGES = {
    ImportStatus.RECEIVED: "received; waiting to be processed",
    ImportStatus.PROCESSING: "being processed",
    ImportStatus.DONE: "every line was processed",
    ImportStatus.PARTIAL: "processed; some lines were rejected",
    ImportStatus.DUPLICATE: "same content as an earlier file; nothing was sent",
    ImportStatus.INCOMPLETE: "the upload did not finish; nothing was processed",
    ImportStatus.FAILED: "the file was rejected as a whole; nothing was applied",
}


def document_for(row: ImportFile) -> ResultDocument:
    """The result document of an import file as recorded (counts included)."""
    counts = {k: int(v) for k, v in (row.counts or {}).items() if isinstance(v, int)}
    counts.setdefault("accepted", row.accepted)
    counts.setdefault("rejected", row.rejected)
    return ResultDocument(
        file=row.name,
        folder=row.folder,
        status=row.status,
        message=row.error_message or _DEFAULT_MESSAGES[row.status],
        import_id=row.id,
        kind=str(row.kind),
        dry_run=row.dry_run,
        sha256=row.sha256,
        size=row.size,
        received_at=row.received_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error_code=row.error_code,
        counts=counts,
    )
