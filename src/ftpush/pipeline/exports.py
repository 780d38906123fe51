"""Taking finished report files to the app's export destination (SPEC §5).

A destination is the app's remote server (SFTP, FTPS, FTP) and a path there, or
its own dropbox ``reports/``. Either way a file appears under its final name whole
or not at all: on a server it goes up under a temporary name, is renamed, and its
size is checked (:func:`ftpush.remote.base.deliver`); in the dropbox it is written
under a dot-name next to the final one and moved into place with ``os.replace``,
never following a symlink.

Every file is recorded in ``export_deliveries`` under an ``export_runs`` row. A
failed attempt leaves the delivery ``retrying`` with a ``next_attempt_at``
(exponential backoff) until the attempts or the deadline run out, then
``failed``. The file waits for its next attempt in
``<data>/spool/exports/<app>/<run id>/`` and is removed once delivered.

:meth:`Exporter.test_connection` is the destination's *Test connection*: it
writes a probe file under a temporary name, renames it, checks it and deletes
it, and names the stage that failed (``dns``, ``tcp``, ``auth``, ``host_key``,
``permission``, ``transfer``, or ``config`` for settings that cannot work).

Example::

    exporter = Exporter(settings, db, SecretBox.from_keys_dir(settings.keys_dir))
    outcome = asyncio.run(exporter.deliver_run(
        "demo", [ReportFile("events", Path("/tmp/x.csv"), "demo_EVENTS_20250101.csv", 10)],
        trigger=ExportTrigger.SEND, window_start=day, window_end=day))
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.errors import InvalidInput, RemoteError
from ftpush.models import DeliveryStatus, ExportTrigger
from ftpush.remote.base import (
    DEFAULT_TIMEOUT,
    ClientFactory,
    DeliveryReceipt,
    RemoteTarget,
    deliver,
    open_client,
    probe,
    redact,
)
from ftpush.storage import Database, exports, remotes
from ftpush.storage.tables import ExportDestination, RemoteServer

REPORTS_FOLDER = "reports"
EXPORTS_SPOOL = "exports"
_STAGING = ".staging-"
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f\\/]")
_CHUNK = 1 << 20


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ReportFile:
    """A finished report file to deliver as ``file_name``."""

    report: str
    local_path: Path
    file_name: str
    rows: int


@dataclass(frozen=True)
class Backoff:
    """Wait ``first`` seconds after the first failure, doubling up to ``cap``.

    >>> [Backoff().delay(n) for n in (1, 2, 3, 7)]
    [60.0, 120.0, 240.0, 1800.0]
    """

    first: float = 60.0
    cap: float = 1800.0
    max_attempts: int = 8

    def delay(self, attempts: int) -> float:
        return float(min(self.first * 2.0 ** max(attempts - 1, 0), self.cap))


@dataclass(frozen=True)
class ConnectionTest:
    """The outcome of *Test connection*: ``stage`` names what failed, ``None`` when it worked."""

    destination: str
    ok: bool
    stage: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "ok": self.ok,
            "stage": self.stage,
            "message": self.message,
        }


@dataclass(frozen=True)
class DeliveryOutcome:
    """One file's attempt as recorded."""

    delivery_id: int
    run_id: int
    report: str
    file_name: str
    destination: str
    status: DeliveryStatus
    attempts: int
    size: int
    sha256: str
    error: str | None
    next_attempt_at: dt.datetime | None


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    deliveries: list[DeliveryOutcome]

    @property
    def ok(self) -> bool:
        return all(d.status is DeliveryStatus.DELIVERED for d in self.deliveries)


@dataclass(frozen=True)
class _Item:
    """A file to attempt: its delivery row, the kept copy, and until when to retry it."""

    delivery_id: int
    path: Path
    file_name: str
    deadline: dt.datetime | None


@dataclass(frozen=True)
class _Destination:
    """A destination loaded for one use: decrypted target or the dropbox folder."""

    label: str
    target: RemoteTarget | None
    path: str
    dropbox: Path


# --- the dropbox ------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not name or name in {".", ".."} or _BAD_NAME.search(name) or len(name.encode()) > 255:
        raise InvalidInput(f"invalid report file name {name!r}", field="file_name")
    return name


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _dropbox_error(exc: OSError, what: str) -> RemoteError:
    stage = "permission" if exc.errno in {errno.EACCES, errno.EPERM, errno.EROFS} else "transfer"
    if exc.errno == errno.ELOOP:
        return RemoteError(f"{what}: a symlink is in the way; refused", stage="permission")
    return RemoteError(f"{what}: {exc.strerror}", stage=stage)


def deliver_to_dropbox(app_root: Path, local_path: Path, file_name: str) -> DeliveryReceipt:
    """Copy ``local_path`` to ``<app_root>/reports/<file_name>``, whole or not at all.

    The copy is written as ``.<name>.<random>.part`` in the same folder (the dropbox
    hides dot-files from pickers), synced, size-checked and moved into place with
    ``os.replace``; neither the folder nor any file is reached through a symlink.
    """
    name = _check_name(file_name)
    folder = app_root / REPORTS_FOLDER
    try:
        size, digest = _size_and_sha256(local_path)
    except OSError as exc:
        raise RemoteError(f"cannot read {local_path}: {exc.strerror}", stage="transfer") from exc
    try:
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        # O_NOFOLLOW | O_DIRECTORY on a symlink says ENOTDIR on Linux, not ELOOP.
        cause = OSError(errno.ELOOP, os.strerror(errno.ELOOP)) if folder.is_symlink() else exc
        raise _dropbox_error(cause, f"dropbox folder /{REPORTS_FOLDER}") from exc
    temp = f".{name}.{secrets.token_hex(4)}.part"
    try:
        try:
            fd = os.open(
                temp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o640,
                dir_fd=dir_fd,
            )
            with os.fdopen(fd, "wb") as out, local_path.open("rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            written = os.stat(temp, dir_fd=dir_fd, follow_symlinks=False).st_size
            if written != size:
                raise RemoteError(
                    f"size check failed for {temp}: {written} bytes written, {size} expected",
                    stage="transfer",
                )
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=dir_fd)
            if isinstance(exc, OSError):
                raise _dropbox_error(exc, f"/{REPORTS_FOLDER}/{name}") from exc
            raise
        final = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_size
    finally:
        os.close(dir_fd)
    if final != size:
        raise RemoteError(
            f"size check failed for /{REPORTS_FOLDER}/{name}: {final} bytes, {size} expected",
            stage="transfer",
        )
    return DeliveryReceipt(f"/{REPORTS_FOLDER}/{name}", size, digest)


def probe_dropbox(app_root: Path, probe_dir: Path) -> str:
    """*Test connection* for the dropbox: deliver a probe file into ``reports/``, delete it."""
    probe_dir.mkdir(parents=True, exist_ok=True)
    name = f".ftpush-probe-{secrets.token_hex(4)}"
    local = probe_dir / name
    local.write_bytes(b"ftpush connection test\n")
    try:
        deliver_to_dropbox(app_root, local, name)
        try:
            os.unlink(app_root / REPORTS_FOLDER / name)
        except OSError as exc:
            raise _dropbox_error(exc, f"/{REPORTS_FOLDER}/{name}") from exc
    finally:
        local.unlink(missing_ok=True)
    return name


# --- the exporter -------------------------------------------------------------------------


def target_for(box: SecretBox, server: RemoteServer, path: str) -> RemoteTarget:
    """The decrypted login to ``server`` (for one use; never store it)."""
    creds = remotes.credentials(box, server)
    return RemoteTarget(
        protocol=server.protocol,
        host=server.host,
        port=server.port,
        username=server.username,
        password=creds.password,
        private_key=creds.private_key,
        host_key_fingerprint=server.host_key_fingerprint,
        tls_verify=server.tls_verify,
        tls_cert_fingerprint=server.tls_cert_fingerprint,
        path=path,
    )


class Exporter:
    """Delivers report files to apps' destinations and records every attempt."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        box: SecretBox,
        *,
        client_factory: ClientFactory = open_client,
        clock: Callable[[], dt.datetime] = _utcnow,
        backoff: Backoff | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._db = db
        self._box = box
        self._factory = client_factory
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._timeout = timeout

    # -- destinations

    def _destination(self, app_key: str) -> _Destination:
        """The app's destination now (credentials decrypted); raises if it has none."""
        with self._db.read() as session:
            dest, server = exports.get_destination(session, app_key)
            return self._snapshot(app_key, dest, server)

    def _snapshot(
        self, app_key: str, dest: ExportDestination, server: RemoteServer | None
    ) -> _Destination:
        label = exports.destination_label(dest, server)
        target = target_for(self._box, server, dest.path) if server is not None else None
        return _Destination(label, target, dest.path, self._settings.dropbox_dir / app_key)

    def _spool(self, app_key: str) -> Path:
        return self._settings.spool_dir / EXPORTS_SPOOL / app_key

    async def test_connection(self, app_key: str) -> ConnectionTest:
        """Write, rename, check and delete a probe file at the app's destination."""
        with self._db.read() as session:
            dest, server = exports.get_destination(session, app_key)
            label = exports.destination_label(dest, server)
            try:
                snapshot = self._snapshot(app_key, dest, server)
            except InvalidInput as exc:
                return ConnectionTest(label, False, "config", exc.message)
        try:
            if snapshot.target is None:
                name = await asyncio.to_thread(
                    probe_dropbox, snapshot.dropbox, self._spool(app_key) / ".probe"
                )
                return ConnectionTest(
                    label, True, None, f"wrote, renamed and deleted /{REPORTS_FOLDER}/{name}"
                )
            async with self._factory(snapshot.target, timeout=self._timeout) as client:
                result = await probe(client, snapshot.path)
        except RemoteError as exc:
            return ConnectionTest(label, False, exc.stage, self._redact(exc.message, snapshot))
        return ConnectionTest(
            label,
            True,
            None,
            f"wrote, renamed and deleted {result.probe_name} in {result.path} "
            f"({result.entries} entries there)",
        )

    @staticmethod
    def _redact(message: str, snapshot: _Destination) -> str:
        return redact(message, snapshot.target.secrets) if snapshot.target else message

    # -- delivering

    async def deliver_run(
        self,
        app_key: str,
        files: Sequence[ReportFile],
        *,
        trigger: ExportTrigger,
        window_start: dt.date,
        window_end: dt.date,
        idempotency_key: str | None = None,
        requested_by: str | None = None,
        deadline: dt.datetime | None = None,
    ) -> RunOutcome | None:
        """Record a run of ``files`` and deliver them; ``None`` if the key already ran.

        The files are kept in the exports spool first (the caller may delete its
        own), so a failed file can be retried later by :meth:`retry_due`;
        ``deadline`` (e.g. 06:00 app-local for a nightly run) bounds the retries.
        The run and all its deliveries are recorded in one transaction, so a run
        either exists with every file or not at all.
        """
        for f in files:
            _check_name(f.file_name)
        staging = self._spool(app_key) / f"{_STAGING}{secrets.token_hex(8)}"
        kept: list[tuple[ReportFile, Path, int, str]] = []
        try:
            for f in files:
                path = await asyncio.to_thread(_keep, f.local_path, staging / f.file_name)
                size, digest = await asyncio.to_thread(_size_and_sha256, path)
                kept.append((f, path, size, digest))
            with self._db.transaction() as session:
                dest, server = exports.get_destination(session, app_key)
                label = exports.destination_label(dest, server)
                run = exports.start_run(
                    session,
                    app_key,
                    trigger=trigger,
                    window_start=window_start,
                    window_end=window_end,
                    idempotency_key=idempotency_key,
                    requested_by=requested_by,
                    retry_until=deadline,
                )
                if run is None:
                    return None
                run_id = run.id
                spool = self._spool(app_key) / str(run_id)
                items: list[_Item] = []
                for f, _path, size, digest in kept:
                    delivery = exports.add_delivery(
                        session,
                        run_id,
                        report=f.report,
                        file_name=f.file_name,
                        destination=label,
                        rows=f.rows,
                        size=size,
                        sha256=digest,
                    )
                    items.append(_Item(delivery.id, spool / f.file_name, f.file_name, deadline))
                if kept:
                    await asyncio.to_thread(_move_folder, staging, spool)
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
        outcomes = await self._attempt(app_key, items)
        with self._db.transaction() as session:
            exports.finish_run(session, run_id, now=self._clock())
        return RunOutcome(run_id, outcomes)

    async def retry_due(
        self, app_key: str | None = None, *, deadline: dt.datetime | None = None
    ) -> list[DeliveryOutcome]:
        """Attempt again every ``retrying`` delivery whose time has come.

        Each delivery is claimed first (two processes never attempt the same file
        at once) and retried until its run's ``retry_until`` — or ``deadline``,
        when given.
        """
        now = self._clock()
        lease_until = now + dt.timedelta(seconds=self._settings.export.claim_lease_seconds)
        by_app: dict[str, list[_Item]] = {}
        with self._db.transaction() as session:
            due = exports.claim_due_deliveries(
                session, now, lease_until=lease_until, app_key=app_key
            )
            for delivery, run, app in due:
                path = self._spool(app.key) / str(run.id) / delivery.file_name
                until = deadline if deadline is not None else run.retry_until
                by_app.setdefault(app.key, []).append(
                    _Item(delivery.id, path, delivery.file_name, until)
                )
        outcomes: list[DeliveryOutcome] = []
        for key, items in by_app.items():
            outcomes += await self._attempt(key, items)
        return outcomes

    async def retry_now(self, app_key: str, delivery_id: int) -> DeliveryOutcome:
        """*Retry* one ``failed`` (or waiting) delivery of the app: one attempt, now.

        The file kept in the spool is sent again to the destination as it is now;
        if it fails, it stays ``failed`` (the contacts are told again). A file no
        longer kept (the spool is pruned after ``intake.archive_retention_days``)
        fails with a message saying to send the report again.
        """
        now = self._clock()
        lease_until = now + dt.timedelta(seconds=self._settings.export.claim_lease_seconds)
        with self._db.transaction() as session:
            delivery, run = exports.claim_for_retry(
                session, app_key, delivery_id, now=now, lease_until=lease_until
            )
            path = self._spool(app_key) / str(run.id) / delivery.file_name
            item = _Item(delivery.id, path, delivery.file_name, now)
        if not path.is_file():
            message = f"the file is no longer kept; send report {delivery.report} again"
            return self._record(item, "", ("config", message))
        [outcome] = await self._attempt(app_key, [item])
        return outcome

    async def resume(self, idempotency_key: str) -> int:
        """Make the never-attempted files of the run ``idempotency_key`` due now.

        For a run whose process died between recording it and attempting its
        files; :meth:`retry_due` then sends them. Returns how many.
        """
        with self._db.transaction() as session:
            run = exports.find_run(session, idempotency_key)
            return 0 if run is None else exports.resume_run(session, run.id, now=self._clock())

    async def _attempt(self, app_key: str, items: list[_Item]) -> list[DeliveryOutcome]:
        """One attempt at each item on one connection; every outcome is recorded."""
        errors: dict[int, tuple[str, str]] = {}
        label = ""
        snapshot: _Destination | None = None
        try:
            snapshot = self._destination(app_key)
            label = snapshot.label
            errors = await self._send(snapshot, items)
        except (RemoteError, InvalidInput) as exc:
            stage = exc.stage if isinstance(exc, RemoteError) else "config"
            message = self._redact(exc.message, snapshot) if snapshot else exc.message
            errors = {item.delivery_id: (stage, message) for item in items}
        outcomes = []
        for item in items:
            failure = errors.get(item.delivery_id)
            outcomes.append(self._record(item, label, failure))
            if failure is None:
                item.path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    item.path.parent.rmdir()  # the run's folder, once empty
        return outcomes

    async def _send(self, snapshot: _Destination, items: list[_Item]) -> dict[int, tuple[str, str]]:
        errors: dict[int, tuple[str, str]] = {}
        if snapshot.target is None:
            for item in items:
                try:
                    await asyncio.to_thread(
                        deliver_to_dropbox, snapshot.dropbox, item.path, item.file_name
                    )
                except RemoteError as exc:
                    errors[item.delivery_id] = (exc.stage, exc.message)
            return errors
        async with self._factory(snapshot.target, timeout=self._timeout) as client:
            for item in items:
                try:
                    await deliver(client, item.path, snapshot.path, item.file_name)
                except RemoteError as exc:
                    errors[item.delivery_id] = (exc.stage, self._redact(exc.message, snapshot))
        return errors

    def _record(self, item: _Item, label: str, failure: tuple[str, str] | None) -> DeliveryOutcome:
        now = self._clock()
        deadline = item.deadline
        with self._db.transaction() as session:
            delivery = exports.get_delivery(session, item.delivery_id)
            if label:
                delivery.destination = label
            error = next_at = None
            if failure is not None:
                stage, message = failure
                error = f"{stage}: {message}"
                attempts = delivery.attempts + 1
                candidate = now + dt.timedelta(seconds=self._backoff.delay(attempts))
                if attempts < self._backoff.max_attempts and (
                    deadline is None or candidate <= deadline
                ):
                    next_at = candidate
            row = exports.record_attempt(
                session, item.delivery_id, now=now, error=error, next_attempt_at=next_at
            )
            outcome = DeliveryOutcome(
                delivery_id=row.id,
                run_id=row.run_id,
                report=row.report,
                file_name=row.file_name,
                destination=row.destination,
                status=row.status,
                attempts=row.attempts,
                size=row.bytes,
                sha256=row.sha256 or "",
                error=row.error,
                next_attempt_at=row.next_attempt_at,
            )
            exports.finish_run(session, row.run_id, now=now)
        return outcome


def _move_folder(staging: Path, final: Path) -> None:
    """Give a run's staged files their run folder (``rename``: same file system)."""
    if final.exists():  # left by a database reset or a run id reused: never mix runs
        shutil.rmtree(final)
    staging.rename(final)


def purge_spool(settings: Settings, *, older_than: dt.timedelta, now: float) -> int:
    """Remove kept report files (failed for good, or staged by a process that died)
    untouched for ``older_than``; returns how many folders went. ``now`` is a Unix time.
    """
    root = settings.spool_dir / EXPORTS_SPOOL
    cutoff = now - older_than.total_seconds()
    removed = 0
    for app_dir in _subdirs(root):
        for run_dir in _subdirs(app_dir):
            try:
                newest = max(
                    [run_dir.lstat().st_mtime] + [p.lstat().st_mtime for p in run_dir.iterdir()]
                )
            except OSError:
                continue
            if newest < cutoff:
                shutil.rmtree(run_dir, ignore_errors=True)
                removed += 1
        with contextlib.suppress(OSError):
            app_dir.rmdir()  # only when empty
    return removed


def _subdirs(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def _keep(source: Path, kept: Path) -> Path:
    """Hard-link (or copy) ``source`` to ``kept`` so retries outlive the caller's file."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.unlink(missing_ok=True)
    try:
        os.link(source, kept)
    except OSError:
        shutil.copyfile(source, kept)
    return kept
