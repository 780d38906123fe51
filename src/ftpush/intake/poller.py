"""Pull mode: poll customers' servers and hand their files to the same core as uploads.

For every remote server with pull mode on (and its app's FTP offer on), each
poll lists ``<path>`` and ``<path>/Profile`` (and the ``validate`` folders).
A file is taken when its size and modification time are the same as at the
previous poll — or at once when its ``NAME.sha256`` sidecar is there, which
also gets it verified. Taking a file means: download it into the spool,
hand it over with :meth:`Spool.take` (from then on it is processed exactly
like an upload), then delete it on the remote, or move it to
``<path>/processed/`` if the app prefers. Once the file reaches a final
status its result files are uploaded to ``<path>/results/``.

If the remote delete fails after the hand-over, the next poll takes the file
again and duplicate detection stops it from being processed twice.

Example::

    poller = Poller(settings, db, spool, SecretBox.from_keys_dir(settings.keys_dir))
    summary = await poller.poll_once()    # or: await poller.start() ... await poller.stop()
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.errors import FtpushError, RemoteError
from ftpush.intake.dropbox import SIDECAR_SUFFIX, UPLOAD_FOLDERS, is_sidecar, is_temporary
from ftpush.intake.spool import Origin, Spool, read_sidecar
from ftpush.jobs.periodic import Periodic
from ftpush.models import ImportSource
from ftpush.pipeline.exports import target_for
from ftpush.pipeline.results import RESULTS_FOLDER, result_path
from ftpush.remote.base import ClientFactory, RemoteClient, RemoteEntry, RemoteTarget, deliver, join
from ftpush.remote.base import open_client as default_factory
from ftpush.storage import Database, imports, remotes
from ftpush.storage.tables import App, RemoteServer

log = logging.getLogger("ftpush.intake.poller")

PROCESSED_FOLDER = "processed"


@dataclass
class PollSummary:
    """What one poll did, for logs and tests."""

    taken: list[str] = field(default_factory=list)
    results_uploaded: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Source:
    server_id: int
    app_id: int
    app_key: str
    name: str
    path: str
    move_processed: bool
    target: RemoteTarget


class Poller(Periodic):
    """Polls every pull-mode server; runs as a ``serve`` service."""

    name = "poller"

    def __init__(
        self,
        settings: Settings,
        db: Database,
        spool: Spool,
        box: SecretBox,
        *,
        client_factory: ClientFactory = default_factory,
        interval: float | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(interval or settings.intake.poll_interval_seconds)
        self._settings = settings
        self._db = db
        self._spool = spool
        self._box = box
        self._factory = client_factory
        self._timeout = timeout
        # (server id, remote path) -> (size, mtime) at the previous poll.
        self._seen: dict[tuple[int, str], tuple[int, float]] = {}

    @property
    def endpoints(self) -> list[str]:
        return [f"pull mode: every {self.interval:g} s"]

    async def tick(self) -> object:
        return await self.poll_once()

    # --- one poll --------------------------------------------------------------

    def _sources(self) -> list[_Source]:
        with self._db.transaction() as session:
            rows = remotes.pull_sources(session)
            return [self._source(server, app) for server, app in rows]

    def _source(self, server: RemoteServer, app: App) -> _Source:
        target = target_for(self._box, server, server.import_path or "/")
        return _Source(
            server_id=server.id,
            app_id=app.id,
            app_key=app.key,
            name=server.name,
            path=server.import_path or "/",
            move_processed=server.move_processed,
            target=target,
        )

    async def poll_once(self) -> PollSummary:
        """Poll every source once; one failing server never stops the others."""
        summary = PollSummary()
        sources = await asyncio.to_thread(self._sources)
        for source in sources:
            try:
                async with self._factory(source.target, timeout=self._timeout) as client:
                    await self._poll_source(client, source, summary)
                    # Files rejected on arrival (checksum, duplicate) get their result
                    # back in this same poll.
                    await asyncio.to_thread(self._spool.wait_idle)
                    await self._send_results(client, source, summary)
            except FtpushError as exc:
                message = f"{source.app_key}/{source.name} ({source.target.url}): {exc.message}"
                log.warning("pull failed: %s", message)
                summary.errors.append(message)
        return summary

    async def _poll_source(
        self, client: RemoteClient, source: _Source, summary: PollSummary
    ) -> None:
        for folder in UPLOAD_FOLDERS:
            remote_dir = join(source.path, folder) if folder else source.path
            try:
                listing = await client.list(remote_dir)
            except RemoteError:
                if not folder:
                    raise
                continue  # optional sub-folders may not exist on the customer's side
            files = {e.name: e for e in listing if not e.is_dir}
            for entry in files.values():
                if is_temporary(entry.name) or is_sidecar(entry.name):
                    continue
                key = (source.server_id, join(remote_dir, entry.name))
                stable = self._seen.get(key) == (entry.size, entry.mtime)
                self._seen[key] = (entry.size, entry.mtime)
                sidecar = files.get(entry.name + SIDECAR_SUFFIX)
                if not (stable or sidecar):
                    continue
                try:
                    await self._take(client, source, folder, remote_dir, entry, sidecar)
                except RemoteError as exc:
                    summary.errors.append(f"{key[1]}: {exc.message}")
                    continue
                self._seen.pop(key, None)
                summary.taken.append(key[1])

    async def _take(
        self,
        client: RemoteClient,
        source: _Source,
        folder: str,
        remote_dir: str,
        entry: RemoteEntry,
        sidecar: RemoteEntry | None,
    ) -> None:
        spool_dir = self._spool.app_spool(source.app_key)
        local = spool_dir / f"pull-{uuid.uuid4().hex}.part"
        remote = join(remote_dir, entry.name)
        expected = None
        try:
            await client.download(remote, local)
            if sidecar is not None:
                sidecar_local = local.with_suffix(".sha256")
                await client.download(join(remote_dir, sidecar.name), sidecar_local)
                expected = read_sidecar(sidecar_local) or ""
                sidecar_local.unlink()
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        origin = Origin(
            app_id=source.app_id,
            app_key=source.app_key,
            source=ImportSource.PULL,
            received_by=f"pull:{source.name}",
            remote_addr=source.target.host,
            remote_server_id=source.server_id,
        )
        await asyncio.to_thread(
            self._spool.take, origin, folder, local, entry.name, expected_sha256=expected
        )
        log.info("pulled %s from %s for app %s", remote, source.target.url, source.app_key)
        await self._clean_remote(client, source, folder, remote, entry, sidecar)

    async def _clean_remote(
        self,
        client: RemoteClient,
        source: _Source,
        folder: str,
        remote: str,
        entry: RemoteEntry,
        sidecar: RemoteEntry | None,
    ) -> None:
        remote_dir = remote.rsplit("/", 1)[0] or "/"
        try:
            if source.move_processed:
                target_dir = join(source.path, PROCESSED_FOLDER)
                await client.mkdir(target_dir, exist_ok=True)
                for part in folder.split("/") if folder else []:
                    target_dir = join(target_dir, part)
                    await client.mkdir(target_dir, exist_ok=True)
                await client.rename(remote, join(target_dir, entry.name))
            else:
                await client.delete(remote, missing_ok=True)
            if sidecar is not None:
                await client.delete(join(remote_dir, sidecar.name), missing_ok=True)
        except RemoteError as exc:
            # The file is safely spooled; if it is taken again, duplicate detection stops it.
            log.error("pulled %s but could not remove it from the server: %s", remote, exc.message)

    async def _send_results(
        self, client: RemoteClient, source: _Source, summary: PollSummary
    ) -> None:
        rows = await asyncio.to_thread(self._pending_results, source.server_id)
        if not rows:
            return
        results_dir = join(source.path, RESULTS_FOLDER)
        await client.mkdir(results_dir, exist_ok=True)
        box_root = self._spool.dropbox(source.app_key).root
        for import_id, name in rows:
            local_result = result_path(box_root, name)
            if not local_result.is_file():
                continue  # not written yet; try at the next poll
            await deliver(client, local_result, results_dir, local_result.name)
            errors_csv = box_root / RESULTS_FOLDER / f"{name}.errors.csv"
            if errors_csv.is_file():
                await deliver(client, errors_csv, results_dir, errors_csv.name)
            await asyncio.to_thread(self._mark_delivered, import_id)
            summary.results_uploaded.append(join(results_dir, local_result.name))

    def _pending_results(self, server_id: int) -> list[tuple[int, str]]:
        with self._db.transaction() as session:
            return [(r.id, r.name) for r in imports.pending_result_uploads(session, server_id)]

    def _mark_delivered(self, import_id: int) -> None:
        with self._db.transaction() as session:
            imports.mark_results_delivered(session, import_id, dt.datetime.now(dt.UTC))
