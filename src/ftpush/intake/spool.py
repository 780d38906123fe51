"""The protocol-agnostic core of intake: from a finished upload to a recorded file.

The SFTP and FTP adapters turn protocol events into calls on a
:class:`DropboxSession` (one per logged-in session) and know nothing else.
The life of an upload:

1. ``open_write`` — the client starts writing ``/push.csv``; the file grows in
   the app's dropbox folder, visible to the client.
2. ``close_write(complete=True)`` — the adapter has *proof* the upload is
   whole (SFTP CLOSE from the client, FTPS close_notify, plain FTP 226).
   :meth:`Spool.take` writes a small meta file and renames the content into
   ``spool/<app>/<id>.data`` before the adapter answers the client, so a
   client told "OK" always has its file kept, and a file is never taken
   twice. ``close_write(complete=False)`` (session died, connection cut)
   discards the partial file and writes an ``incomplete`` result.
3. :meth:`Spool.finalize` (in a background thread) hashes the content,
   applies the whole-file checks (size, sidecar checksum, file type),
   records it once (duplicate detection included) and hands the import id
   to ``on_received`` (the pipeline's queue).

Temporary names (``*.part``, ``*.tmp``, ``*.filepart``, dot-files) wait for
the rename to their final name; a ``NAME.sha256`` sidecar already present
(or required by the account) makes the file wait for it and be verified.

On start, :meth:`Spool.recover` finishes what a crash interrupted: spooled
files without a database row are recorded; final-named files left in upload
folders never got their "OK" and are reported ``incomplete``.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from ftpush import telemetry
from ftpush.config import Settings
from ftpush.errors import FileTooLarge, InvalidInput, NotFound, NotUtf8, PermissionDenied
from ftpush.intake.access import Principal
from ftpush.intake.dropbox import (
    SIDECAR_SUFFIX,
    UPLOAD_FOLDERS,
    Dropbox,
    Op,
    VPath,
    entries,
    is_sidecar,
    is_temporary,
    open_for_read,
    open_for_write,
)
from ftpush.models import ImportKind, ImportSource, ImportStatus
from ftpush.pipeline.archive import archive_file, reject_file
from ftpush.pipeline.results import ResultDocument, document_for, write_result
from ftpush.storage import Database, apps, imports
from ftpush.storage.imports import NewImport

log = logging.getLogger("ftpush.intake.spool")

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Origin:
    """Who handed a file over: an account's session, a pull, the CLI or the API."""

    app_id: int
    app_key: str
    source: ImportSource
    received_by: str | None
    remote_addr: str | None
    remote_server_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> Origin:
        return cls(
            app_id=principal.app_id,
            app_key=principal.app_key,
            source=ImportSource(principal.protocol),
            received_by=principal.username,
            remote_addr=principal.remote_addr,
        )


@dataclass(frozen=True)
class SpoolMeta:
    """What is known about a taken file before it is hashed and recorded."""

    spool_id: str
    app_id: int
    app_key: str
    name: str
    folder: str
    source: str
    received_by: str | None
    remote_addr: str | None
    expected_sha256: str | None
    received_at: str
    remote_server_id: int | None = None
    forced: bool = False  # an operator's reprocess: skips duplicate detection


def kind_of(folder: str, name: str) -> ImportKind | None:
    """Push files are ``*.csv`` in ``/`` or ``/validate``; profiles ``*.txt`` in Profile."""
    lower = name.lower()
    if folder in {"", "validate"} and lower.endswith(".csv"):
        return ImportKind.PUSH
    if folder in {"Profile", "validate/Profile"} and lower.endswith(".txt"):
        return ImportKind.PROFILE
    return None


def read_sidecar(path: Path) -> str | None:
    """The hex digest of a ``NAME.sha256`` file (``<hex>`` or ``<hex>  <name>``)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace").split()
    except OSError:
        return None
    if head and _HEX64.fullmatch(head[0]):
        return head[0].lower()
    return ""  # present but unreadable: a mismatch, reported as such


class Spool:
    """Takes complete uploads off the dropbox and records them, once."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        on_received: Callable[[int], None] | None = None,
        workers: int = 2,
    ) -> None:
        self.settings = settings
        self.db = db
        self.on_received = on_received
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spool")
        self._pending: set[Future[None]] = set()
        self._writing: collections.Counter[Path] = collections.Counter()
        self._lock = threading.Lock()
        self._dropboxes: dict[str, Dropbox] = {}

    # --- layout --------------------------------------------------------------

    def dropbox(self, app_key: str) -> Dropbox:
        box = self._dropboxes.get(app_key)
        if box is None:
            box = Dropbox(self.settings.dropbox_dir / app_key)
            box.ensure_layout()
            self._dropboxes[app_key] = box
        return box

    def app_spool(self, app_key: str) -> Path:
        path = self.settings.spool_dir / app_key
        path.mkdir(parents=True, exist_ok=True, mode=0o750)
        return path

    def session(self, principal: Principal) -> DropboxSession:
        return DropboxSession(self, principal)

    # --- uploads in progress ---------------------------------------------------

    def begin_write(self, real: Path) -> None:
        with self._lock:
            if self._writing[real]:
                raise PermissionDenied(f"{real.name} is being uploaded by another session")
            self._writing[real] += 1

    def end_write(self, real: Path) -> None:
        with self._lock:
            self._writing[real] -= 1
            if self._writing[real] <= 0:
                del self._writing[real]

    def is_being_written(self, real: Path) -> bool:
        with self._lock:
            return self._writing[real] > 0

    # --- completion ------------------------------------------------------------

    def completed(self, principal: Principal, vpath: VPath) -> str | None:
        """A file reached its final state in an upload folder; take it if it is ready.

        Returns the spool id when the file was taken, ``None`` when it waits
        (temporary name, sidecar expected).
        """
        assert vpath.name is not None
        if not vpath.is_upload_folder or is_temporary(vpath.name):
            return None
        if is_sidecar(vpath.name):
            data = vpath.real.with_name(vpath.name[: -len(SIDECAR_SUFFIX)])
            if data.is_file() and not self.is_being_written(data):
                return self.take(Origin.of(principal), vpath.folder, data, data.name)
            return None  # the sidecar came first; the data file will find it
        sidecar = vpath.real.with_name(vpath.name + SIDECAR_SUFFIX)
        if not sidecar.is_file() and principal.require_checksum:
            log.info("%s waits for its sidecar %s", vpath.virtual, sidecar.name)
            return None
        return self.take(Origin.of(principal), vpath.folder, vpath.real, vpath.name)

    def receive(
        self,
        origin: Origin,
        folder: str,
        name: str,
        source: BinaryIO,
        *,
        expected_sha256: str | None = None,
        forced: bool = False,
    ) -> int:
        """Take a file handed over whole (``ftpush import``, the API) and record it now.

        The content is copied into the spool and recorded in this thread; the
        import id is returned whatever the outcome (received, duplicate, failed).
        ``folder`` is an upload folder of SPEC §2 (any case), ``name`` a plain name.
        ``forced`` (a reprocess, :mod:`ftpush.intake.reprocess`) skips the comparison
        with files processed before.
        """
        canonical = {f.lower(): f for f in UPLOAD_FOLDERS}.get(folder.strip("/").lower())
        if canonical is None:
            raise InvalidInput(
                f"{folder!r} is not an upload folder: use one of "
                + ", ".join(repr(f or "/") for f in UPLOAD_FOLDERS),
                field="folder",
            )
        if not name or name != Path(name).name or name in (".", "..") or "\\" in name:
            raise InvalidInput(f"{name!r} is not a plain file name", field="name")
        if is_temporary(name) or is_sidecar(name):
            raise InvalidInput(f"{name!r} is a temporary or sidecar name", field="name")
        limit = self.settings.intake.max_file_bytes
        part = self.app_spool(origin.app_key) / f"in-{uuid.uuid4().hex}.part"
        try:
            with part.open("xb") as out:
                copied = 0
                while chunk := source.read(_CHUNK):
                    copied += len(chunk)
                    if copied > limit:
                        raise FileTooLarge(f"{name} is larger than the limit of {limit} bytes")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            spool_id = self.take(
                origin, canonical, part, name, expected_sha256=expected_sha256,
                background=False, forced=forced,
            )  # fmt: skip
        finally:
            part.unlink(missing_ok=True)
        import_id = self.finalize(spool_id, origin.app_key)
        assert import_id is not None
        return import_id

    def take(
        self,
        origin: Origin,
        folder: str,
        real: Path,
        name: str,
        *,
        expected_sha256: str | None = None,
        background: bool = True,
        forced: bool = False,
    ) -> str:
        """Move a complete file into the spool (fast, before the client is answered).

        ``real`` must be on the data directory's file system (the rename is the
        atomic hand-over). A ``NAME.sha256`` beside it, or ``expected_sha256``,
        is verified once the content is hashed.
        """
        sidecar = real.with_name(name + SIDECAR_SUFFIX)
        expected = read_sidecar(sidecar) if sidecar.is_file() else expected_sha256
        meta = SpoolMeta(
            spool_id=uuid.uuid4().hex,
            app_id=origin.app_id,
            app_key=origin.app_key,
            name=name,
            folder=folder,
            source=str(origin.source),
            received_by=origin.received_by,
            remote_addr=origin.remote_addr,
            expected_sha256=expected,
            received_at=dt.datetime.now(dt.UTC).isoformat(),
            remote_server_id=origin.remote_server_id,
            forced=forced,
        )
        spool = self.app_spool(origin.app_key)
        meta_path = spool / f"{meta.spool_id}.json"
        tmp = meta_path.with_suffix(".json.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(asdict(meta), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, meta_path)
        os.rename(real, spool / f"{meta.spool_id}.data")  # same file system: atomic
        if expected is not None:
            sidecar.unlink(missing_ok=True)
        _fsync_dir(spool)
        log.info("took %s/%s for app %s as %s", folder, name, meta.app_key, meta.spool_id)
        if background:
            self._submit(meta.spool_id, origin.app_key)
        return meta.spool_id

    def abandoned(self, principal: Principal | Origin, vpath: VPath, reason: str) -> None:
        """An upload ended without proof of completion: discard it and say so."""
        assert vpath.name is not None
        if is_temporary(vpath.name) or not vpath.is_upload_folder:
            vpath.real.unlink(missing_ok=True)
            return
        size, digest = _hash_file(vpath.real) if vpath.real.is_file() else (0, _EMPTY_SHA)
        vpath.real.unlink(missing_ok=True)
        origin = Origin.of(principal) if isinstance(principal, Principal) else principal
        log.warning(
            "incomplete upload %s by %s from %s: %s",
            vpath.virtual,
            origin.received_by,
            origin.remote_addr,
            reason,
        )
        self._record_final(
            origin.app_key,
            NewImport(
                app_id=origin.app_id,
                name=vpath.name,
                folder=vpath.folder,
                kind=kind_of(vpath.folder, vpath.name) or ImportKind.PUSH,
                dry_run=vpath.dry_run,
                sha256=digest,
                size=size,
                source=origin.source,
                received_by=origin.received_by,
                remote_addr=origin.remote_addr,
                spool_path=None,
                status=ImportStatus.INCOMPLETE,
                error_code="incomplete",
                error_message=f"the upload did not finish: {reason}; nothing was processed",
            ),
        )

    # --- background: hash, check, record ----------------------------------------

    def _submit(self, spool_id: str, app_key: str) -> None:
        future = self._executor.submit(self._finalize_logged, spool_id, app_key)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _finalize_logged(self, spool_id: str, app_key: str) -> None:
        try:
            self.finalize(spool_id, app_key)
        except Exception:
            # Left in the spool: recover() retries it on the next start.
            log.exception("could not record spooled file %s of %s", spool_id, app_key)

    def finalize(self, spool_id: str, app_key: str) -> int | None:
        """Hash, check and record a spooled file; returns its import id."""
        spool = self.app_spool(app_key)
        meta_path, data_path = spool / f"{spool_id}.json", spool / f"{spool_id}.data"
        meta = SpoolMeta(**json.loads(meta_path.read_text(encoding="utf-8")))
        kind = kind_of(meta.folder, meta.name)
        size, digest, not_utf8 = _scan_file(data_path, check_utf8=kind is not None)
        rel = str(data_path.relative_to(self.settings.data_dir))
        problem = self._whole_file_problem(meta, size, digest, kind)
        if problem is None and not_utf8 is not None:
            problem = (NotUtf8.code, not_utf8)
        new = NewImport(
            app_id=meta.app_id,
            name=meta.name,
            folder=meta.folder,
            kind=kind or ImportKind.PUSH,
            dry_run=meta.folder.startswith("validate"),
            sha256=digest,
            size=size,
            source=ImportSource(meta.source),
            received_by=meta.received_by,
            remote_addr=meta.remote_addr,
            remote_server_id=meta.remote_server_id,
            spool_path=rel,
            status=ImportStatus.FAILED if problem else ImportStatus.RECEIVED,
            error_code=problem[0] if problem else None,
            error_message=problem[1] if problem else None,
            forced=meta.forced,
        )
        with self.db.transaction() as session:
            recorded = imports.record_import(
                session, new, window_days=self.settings.intake.duplicate_window_days
            )
            row = recorded.import_file
            import_id, status = row.id, row.status
        if status is ImportStatus.FAILED:
            reject_file(self.settings, app_key, data_path, meta.name)
            self._write_result(app_key, document_for(row))
        elif status is ImportStatus.DUPLICATE:
            archive_file(self.settings, app_key, data_path, import_id)
            self._write_result(app_key, document_for(row))
        meta_path.unlink(missing_ok=True)
        if recorded.created:
            telemetry.FILES_RECEIVED.labels(source=meta.source).inc()
        if status is ImportStatus.RECEIVED and recorded.created and self.on_received:
            self.on_received(import_id)
        return import_id

    def _whole_file_problem(
        self, meta: SpoolMeta, size: int, digest: str, kind: ImportKind | None
    ) -> tuple[str, str] | None:
        """(code, message) when the file must be rejected before it is even parsed."""
        limit = self.settings.intake.max_file_bytes
        if size > limit:
            return "too_large", f"the file is {size} bytes; the limit is {limit}"
        if meta.expected_sha256 is not None and meta.expected_sha256 != digest:
            said = meta.expected_sha256 or "(unreadable)"
            return (
                "checksum_mismatch",
                f"the content's SHA-256 is {digest}; the sidecar says {said}",
            )
        if kind is None:
            return (
                "unsupported_file",
                "only *.csv push files (in / and /validate) and *.txt profile files "
                "(in /Profile and /validate/Profile) are processed",
            )
        return None

    def _write_result(self, app_key: str, doc: ResultDocument) -> None:
        write_result(self.dropbox(app_key).root, self.app_spool(app_key), doc)

    def _record_final(self, app_key: str, new: NewImport) -> None:
        with self.db.transaction() as session:
            row = imports.record_import(session, new).import_file
            doc = document_for(row)
        self._write_result(app_key, doc)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every taken file is recorded (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    # --- start-up recovery -------------------------------------------------------

    def recover(self) -> None:
        """Finish what a crash interrupted (see the module docstring)."""
        with self.db.transaction() as session:
            known = {a.key: a for a in apps.list_apps(session)}
        for app_key in known:
            spool = self.app_spool(app_key)
            for meta_path in sorted(spool.glob("*.json")):
                spool_id = meta_path.stem
                if (spool / f"{spool_id}.data").exists():
                    self._submit(spool_id, app_key)
                else:  # the rename never happened: the file is still in the dropbox
                    meta_path.unlink()
            for tmp in spool.glob("*.json.tmp"):
                tmp.unlink()
        self.wait_idle()
        for app_key, app in known.items():
            self._recover_leftovers(app_key, app.id)

    def _recover_leftovers(self, app_key: str, app_id: int) -> None:
        box = self.dropbox(app_key)
        # Which protocol wrote a leftover file is not known after a restart.
        origin = Origin(app_id, app_key, ImportSource.UPLOAD, None, None)
        for folder in UPLOAD_FOLDERS:
            for path in box.folder_path(folder).iterdir():
                if not path.is_file() or path.is_symlink():
                    continue
                if is_temporary(path.name) or is_sidecar(path.name):
                    continue
                if path.with_name(path.name + SIDECAR_SUFFIX).is_file():
                    self.take(origin, folder, path, path.name)
                    continue
                vpath = VPath(folder, path.name, path)
                self.abandoned(origin, vpath, "the server stopped before the upload finished")
        self.wait_idle()


_EMPTY_SHA = hashlib.sha256(b"").hexdigest()


def _hash_file(path: Path) -> tuple[int, str]:
    size, digest, _ = _scan_file(path, check_utf8=False)
    return size, digest


_FOREIGN_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _scan_file(path: Path, *, check_utf8: bool) -> tuple[int, str, str | None]:
    """(size, SHA-256, why the content is not UTF-8 or None) in one read of the file.

    The parsers stream, so bytes that are not UTF-8 at the end of a large file
    would surface after rows were applied (docs/decisions/0104). Checking here,
    in the read that hashes the file anyway, rejects such a file before any of
    it is acted on; UTF-8 decoding runs at memory speed next to SHA-256.
    """
    digest = hashlib.sha256()
    size = newlines = 0
    carry = b""
    problem: str | None = None
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            if check_utf8 and problem is None:
                buf = carry + chunk if carry else chunk
                try:
                    buf.decode("utf-8")
                    carry = b""
                except UnicodeDecodeError as exc:
                    if exc.end == len(buf) and exc.reason == "unexpected end of data":
                        carry = buf[exc.start :]  # a character cut by the chunk boundary
                    else:
                        offset = size - len(carry) + exc.start
                        line = newlines + buf.count(b"\n", 0, exc.start) + 1
                        problem = _not_utf8(buf[exc.start], offset, line, buf)
                newlines += chunk.count(b"\n")
            size += len(chunk)
    if check_utf8 and problem is None and carry:
        problem = _not_utf8(carry[0], size - len(carry), newlines + 1, carry)
    return size, digest.hexdigest(), problem


def _not_utf8(byte: int, offset: int, line: int, buf: bytes) -> str:
    if offset == 0 and buf.startswith(_FOREIGN_BOMS):
        return (
            "the file is not UTF-8: it starts with a UTF-16/UTF-32 byte order mark; "
            "save it as UTF-8"
        )
    return (
        f"the file is not UTF-8: byte 0x{byte:02x} at offset {offset} (line {line}) "
        "cannot be decoded; save the file as UTF-8; nothing of it was applied"
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DropboxSession:
    """File operations of one logged-in session; what the protocol adapters call.

    Every method resolves the client's path, checks the dropbox rules and
    acts on the real file system; errors come from :mod:`ftpush.errors`
    (``NotFound``, ``PermissionDenied``, ``InvalidInput``, ``FileTooLarge``).
    """

    def __init__(self, spool: Spool, principal: Principal) -> None:
        self.spool = spool
        self.principal = principal
        self.box = spool.dropbox(principal.app_key)
        self.max_bytes = spool.settings.intake.max_file_bytes

    def resolve(self, path: str, op: Op, cwd: str = "/") -> VPath:
        vpath = self.box.resolve(path, cwd)
        Dropbox.check(op, vpath)
        return vpath

    def stat(self, path: str, cwd: str = "/") -> os.stat_result:
        vpath = self.resolve(path, Op.STAT, cwd)
        try:
            st = os.lstat(vpath.real)
        except FileNotFoundError:
            raise NotFound(f"no such file: {vpath.virtual}") from None
        if not (os.path.isdir(vpath.real) or os.path.isfile(vpath.real)) or os.path.islink(
            vpath.real
        ):
            raise NotFound(f"no such file: {vpath.virtual}")
        return st

    def open_write(self, path: str, cwd: str = "/") -> tuple[VPath, int]:
        """Start an upload; the caller must end it with :meth:`close_write`."""
        vpath = self.resolve(path, Op.WRITE, cwd)
        self.spool.begin_write(vpath.real)
        try:
            return vpath, open_for_write(vpath.real)
        except BaseException:
            self.spool.end_write(vpath.real)
            raise

    def check_extent(self, end_offset: int) -> None:
        """Refuse a write that would make the file larger than the limit."""
        if end_offset > self.max_bytes:
            raise FileTooLarge(f"files are limited to {self.max_bytes} bytes")

    def close_write(self, vpath: VPath, *, complete: bool, reason: str = "") -> str | None:
        """End an upload: take it when complete, discard it otherwise."""
        try:
            if complete:
                return self.spool.completed(self.principal, vpath)
            self.spool.abandoned(self.principal, vpath, reason or "connection lost")
            return None
        finally:
            self.spool.end_write(vpath.real)

    def open_read(self, path: str, cwd: str = "/") -> int:
        vpath = self.resolve(path, Op.READ, cwd)
        try:
            return open_for_read(vpath.real)
        except FileNotFoundError:
            raise NotFound(f"no such file: {vpath.virtual}") from None

    def delete(self, path: str, cwd: str = "/") -> None:
        vpath = self.resolve(path, Op.DELETE, cwd)
        if self.spool.is_being_written(vpath.real):
            raise PermissionDenied(f"{vpath.virtual} is being uploaded")
        if os.path.islink(vpath.real) or not vpath.real.is_file():
            raise NotFound(f"no such file: {vpath.virtual}")
        vpath.real.unlink()

    def rename(self, old: str, new: str, cwd: str = "/") -> str | None:
        """Rename within the upload folders; a final name completes the upload."""
        src = self.resolve(old, Op.RENAME, cwd)
        dst = self.resolve(new, Op.WRITE, cwd)
        if self.spool.is_being_written(src.real) or self.spool.is_being_written(dst.real):
            raise PermissionDenied("the file is being uploaded")
        if os.path.islink(src.real) or not src.real.is_file():
            raise NotFound(f"no such file: {src.virtual}")
        if dst.real.exists():
            raise PermissionDenied(f"{dst.virtual} already exists")
        os.rename(src.real, dst.real)
        return self.spool.completed(self.principal, dst)

    def listdir(self, path: str, cwd: str = "/") -> list[tuple[str, os.stat_result]]:
        vpath = self.resolve(path, Op.LIST, cwd)
        if not vpath.is_folder:
            return [(vpath.name or "", self.stat(path, cwd))]
        return [(e.name, e.stat(follow_symlinks=False)) for e in entries(vpath.real)]
