"""Processing a received file: parse, resolve, write the ledger, report, archive.

:meth:`ImportProcessor.process` is the body of the ``process_import`` task. It
is safe to run any number of times, concurrently or after a crash:

* the file is **leased** (``claim_import``); a second worker gets nothing
  while the lease holds, and takes over when it ran out;
* lines are written in batches, each batch in one transaction together with
  the **checkpoint** (the last line it covers); a resumed run re-parses the
  file (cheap), skips the lines up to the checkpoint, and the ledger's unique
  keys make any overlap a no-op;
* the dispatcher is told as soon as the first batch is committed, so the first
  pushes leave while the rest of a large file is still being read.

Push files become a campaign in the ledger; profile files (``Profile/``) are
applied to users and devices batch by batch (:mod:`ftpush.storage.profiles`).
Files in ``validate/`` (dry runs) go through the same parsing (and, for push
files, user/device resolution) and get the same result files, but change nothing.

Example::

    processor = ImportProcessor(settings, db, on_campaign_ready=queue.enqueue_dispatch)
    processor.process(42)
"""

from __future__ import annotations

import csv
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ftpush.config import Settings
from ftpush.errors import FileRejected
from ftpush.formats.base import LineError as ParsedError
from ftpush.formats.base import ProfileRow
from ftpush.formats.profile_txt import parse_profile_batches
from ftpush.formats.push_csv import PushRow, parse_push_batches
from ftpush.models import ImportKind, ImportStatus
from ftpush.pipeline.archive import archive_file, reject_file
from ftpush.pipeline.results import (
    MAX_ERRORS_IN_RESULT,
    RESULTS_FOLDER,
    LineError,
    document_for,
    write_result,
)
from ftpush.storage import Database, Session, attributes, imports, ledger, profiles
from ftpush.storage.ledger import LineInput
from ftpush.storage.profiles import ApplyCounts
from ftpush.storage.tables import App, Campaign, ImportFile
from ftpush.storage.types import utcnow

log = logging.getLogger("ftpush.pipeline.imports")

_READ_CHUNK = 1 << 20


def worker_name() -> str:
    """A lease owner name unique to this process and call site."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def read_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            yield chunk


def _reporting(chunks: Iterator[bytes], report: Callable[[int], None]) -> Iterator[bytes]:
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        report(done)


@dataclass
class _Run:
    """Counters and error sink of one processing run."""

    errors_path: Path
    accepted: int = 0
    rejected: int = 0
    first_errors: list[LineError] = field(default_factory=list)
    unknown_user: int = 0
    no_device: int = 0
    applied: ApplyCounts = field(default_factory=ApplyCounts)


class ImportProcessor:
    """Processes import files; one instance per worker is enough."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        on_campaign_ready: Callable[[int], None] | None = None,
        batch_size: int = 2000,
        lease_seconds: float = 300.0,
        owner: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_progress = on_progress  # bytes of the file read so far (progress bars)
        self.db = db
        self.on_campaign_ready = on_campaign_ready
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.owner = owner or worker_name()

    # --- entry point ---------------------------------------------------------

    def process(self, import_id: int) -> ImportStatus | None:
        """Process one file; returns its final status, or None if someone else has it."""
        with self.db.transaction() as session:
            row = imports.claim_import(session, import_id, self.owner, self.lease_seconds, utcnow())
            if row is None:
                return None
            app = session.get(App, row.app_id)
            assert app is not None
        data_path = self.settings.data_dir / (row.spool_path or "")
        run = _Run(errors_path=self.settings.spool_dir / app.key / f"{row.id}.errors.tmp")
        campaign_id = None
        try:
            if row.kind is ImportKind.PROFILE:
                self._profile_file(row, app, data_path, run)
            else:
                campaign_id = self._push_file(row, app, data_path, run)
        except FileRejected as exc:
            return self._reject(row, data_path, exc)
        return self._finish(row, app, data_path, run, campaign_id)

    # --- profile files -------------------------------------------------------

    def _profile_file(self, row: ImportFile, app: App, data_path: Path, run: _Run) -> None:
        with self.db.transaction() as session:
            declared = attributes.attribute_types(session, app.key)
        checkpoint = row.checkpoint_line
        pending: list[ProfileRow] = []
        with self._error_sink(run) as write_row:
            batches = parse_profile_batches(
                self._chunks(data_path), declared, timezone=app.timezone
            )
            for batch in batches:
                for item in batch:
                    if isinstance(item, ProfileRow):
                        run.accepted += 1
                        if item.line > checkpoint:
                            pending.append(item)
                    else:
                        self._error(run, write_row, item)
                while len(pending) >= self.batch_size:
                    self._apply(row, app, pending[: self.batch_size], run)
                    del pending[: self.batch_size]
            if pending:
                self._apply(row, app, pending, run)

    def _apply(self, row: ImportFile, app: App, rows: list[ProfileRow], run: _Run) -> None:
        with self.db.transaction() as session:
            if not row.dry_run:
                run.applied.add(profiles.apply_profile_rows(session, app.id, rows))
            self._checkpoint(session, row, rows[-1].line)

    def _checkpoint(self, session: Session, row: ImportFile, line: int) -> None:
        """Renew the lease with the last line covered; in the batch's own transaction."""
        if not imports.renew_import(
            session, row.id, self.owner, self.lease_seconds, utcnow(), checkpoint_line=line
        ):
            raise LeaseLost(f"import {row.id}: another worker took over")

    @contextmanager
    def _error_sink(self, run: _Run) -> Iterator[Callable[[list[object]], object]]:
        """``errors.csv`` being written (``line;external_id;code;message``)."""
        run.errors_path.parent.mkdir(parents=True, exist_ok=True)
        with run.errors_path.open("w", encoding="utf-8", newline="") as sink:
            writer = csv.writer(sink, delimiter=";", lineterminator="\n")
            writer.writerow(["line", "external_id", "code", "message"])
            yield writer.writerow

    def _chunks(self, data_path: Path) -> Iterator[bytes]:
        chunks = read_chunks(data_path)
        if self.on_progress is not None:
            chunks = _reporting(chunks, self.on_progress)
        return chunks

    # --- push files ----------------------------------------------------------

    def _push_file(self, row: ImportFile, app: App, data_path: Path, run: _Run) -> int | None:
        campaign_id = None
        if not row.dry_run:
            with self.db.transaction() as session:
                fresh = session.get(ImportFile, row.id)
                assert fresh is not None
                campaign_id = ledger.ensure_file_campaign(session, fresh).id
        checkpoint = row.checkpoint_line
        pending: list[LineInput] = []
        told = False
        with self._error_sink(run) as write_row:
            for batch in parse_push_batches(self._chunks(data_path)):
                for item in batch:
                    if isinstance(item, PushRow):
                        run.accepted += 1
                        if item.line > checkpoint:
                            pending.append(
                                LineInput(item.line, item.external_id, item.text, item.deeplink)
                            )
                    else:
                        self._error(run, write_row, item)
                while len(pending) >= self.batch_size:
                    self._write(row, app, campaign_id, pending[: self.batch_size], run)
                    del pending[: self.batch_size]
                    if campaign_id is not None and not told and self.on_campaign_ready:
                        self.on_campaign_ready(campaign_id)  # first pushes leave now
                        told = True
            if pending:
                self._write(row, app, campaign_id, pending, run)
        return campaign_id

    def _error(
        self, run: _Run, write_row: Callable[[list[object]], object], err: ParsedError
    ) -> None:
        run.rejected += 1
        line_error = LineError(
            line=err.line,
            external_id=err.external_id or "",
            code=err.code,
            message=err.message,
            field=err.field,
        )
        if len(run.first_errors) < MAX_ERRORS_IN_RESULT:
            run.first_errors.append(line_error)
        # SPEC §4: line, column and reason — the column leads the message.
        message = f"{err.field}: {err.message}" if err.field else err.message
        write_row([err.line, err.external_id or "", err.code, message])

    def _write(
        self,
        row: ImportFile,
        app: App,
        campaign_id: int | None,
        lines: list[LineInput],
        run: _Run,
    ) -> None:
        # Resolving users and devices and building the rows only reads: it runs outside
        # the write transaction, which then holds SQLite's lock just for the inserts
        # (the dispatcher claims and commits between our batches).
        with self.db.read() as session:
            plan = ledger.plan_lines(
                session, campaign_id or 0, app.id, lines, inbox=app.inbox_enabled
            )
        with self.db.transaction() as session:
            if campaign_id is None:  # dry run: resolve only
                run.unknown_user += plan.counts.unknown_user
                run.no_device += plan.counts.no_device
            else:
                ledger.insert_plan(session, plan)
            self._checkpoint(session, row, lines[-1].line)

    # --- endings ---------------------------------------------------------------

    def _finish(
        self, row: ImportFile, app: App, data_path: Path, run: _Run, campaign_id: int | None
    ) -> ImportStatus:
        status = ImportStatus.PARTIAL if run.rejected else ImportStatus.DONE
        with self.db.transaction() as session:
            fresh = session.get(ImportFile, row.id)
            assert fresh is not None
            counts: dict[str, int] = {
                "lines": run.accepted + run.rejected,
                "accepted": run.accepted,
                "rejected": run.rejected,
            }
            msg_id = None
            if campaign_id is not None:
                outcomes = ledger.line_outcomes(session, campaign_id)
                counts["unknown_user"] = outcomes.get("unknown_user", 0)
                counts["no_device"] = outcomes.get("no_device", 0)
                counts["messages"] = ledger.message_count(session, campaign_id)
                campaign = session.get(Campaign, campaign_id)
                assert campaign is not None
                msg_id = campaign.msg_id
            elif row.kind is ImportKind.PROFILE:
                counts["users_created"] = run.applied.users_created
                counts["devices_created"] = run.applied.devices_created
                counts["devices_moved"] = run.applied.devices_moved
            else:
                counts["unknown_user"] = run.unknown_user
                counts["no_device"] = run.no_device
            fresh.status = status
            fresh.lines_total = counts["lines"]
            fresh.accepted = run.accepted
            fresh.rejected = run.rejected
            fresh.counts = counts
            fresh.finished_at = utcnow()
            fresh.lease_owner = None
            fresh.lease_expires_at = None
            doc = document_for(fresh)
        doc.campaign_id = msg_id
        doc.errors = run.first_errors
        doc.errors_total = run.rejected
        box = self.settings.dropbox_dir / app.key
        if run.rejected:
            target = box / RESULTS_FOLDER / f"{row.name}.errors.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(run.errors_path, target)
        else:
            run.errors_path.unlink(missing_ok=True)
        write_result(box, self.settings.spool_dir / app.key, doc)
        if data_path.exists():
            archive_file(self.settings, app.key, data_path, row.id)
        if campaign_id is not None and self.on_campaign_ready:
            self.on_campaign_ready(campaign_id)
        log.info(
            "import %s (%s) %s: %d accepted, %d rejected",
            row.id,
            row.name,
            status,
            run.accepted,
            run.rejected,
        )
        return status

    def _reject(self, row: ImportFile, data_path: Path, exc: FileRejected) -> ImportStatus:
        """A whole-file reject: nothing applied, the file goes to ``failed/``."""
        with self.db.transaction() as session:
            fresh = session.get(ImportFile, row.id)
            assert fresh is not None
            app = session.get(App, fresh.app_id)
            assert app is not None
            fresh.status = ImportStatus.FAILED
            campaign = ledger.file_campaign(session, fresh.id)
            if campaign is not None:
                # Only if the file changed after intake checked it (its UTF-8 check
                # runs before anything is applied): stop whatever was not sent yet.
                cancelled = ledger.cancel_campaign(session, campaign.id)
                log.error("import %s rejected late: %d messages cancelled", fresh.id, cancelled)
            fresh.error_code = exc.code
            where = f" (line {exc.line})" if exc.line else ""
            fresh.error_message = f"{exc.message}{where}"
            fresh.finished_at = utcnow()
            fresh.lease_owner = None
            doc = document_for(fresh)
            app_key = app.key
        if data_path.exists():
            reject_file(self.settings, app_key, data_path, row.name)
        box = self.settings.dropbox_dir / app_key
        write_result(box, self.settings.spool_dir / app_key, doc)
        log.warning("import %s (%s) rejected: %s", row.id, row.name, exc.message)
        return ImportStatus.FAILED


class LeaseLost(RuntimeError):
    """Another worker took the file over; this run stops without writing more."""
