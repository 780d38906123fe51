"""The API through a real server: uvicorn on loopback, httpx as the client.

``api`` starts :class:`ftpush.web.server.WebServer` (the same class ``ftpush serve``
runs) on a free port, on SQLite and — when ``FTPUSH_TEST_DATABASE_URL`` is set — on
PostgreSQL, with two apps (``alpha``, ``beta``) and an API key each.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ftpush.cli.serve import reprocessor, upload_receiver
from ftpush.config import Settings, load_settings
from ftpush.intake.spool import Spool
from ftpush.jobs.runtime import JobRuntime
from ftpush.push.log import LogProvider
from ftpush.storage import Database, api_keys, apps
from ftpush.web import create_app
from ftpush.web.server import WebServer
from tests.conftest import PgServer


@dataclass
class Api:
    url: str
    settings: Settings
    db: Database
    keys: dict[str, str] = field(default_factory=dict)
    runtime: JobRuntime | None = None  # its in-memory queue: run_queue()
    log: LogProvider | None = None
    spool: Spool | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, app: str | None = "alpha", **headers: str) -> httpx.Client:
        """A client with ``app``'s key (``None``: no key at all)."""
        auth = {"Authorization": f"Bearer {self.keys[app]}"} if app else {}
        client = httpx.Client(base_url=self.url, headers={**auth, **headers}, timeout=30)
        self._clients.append(client)
        return client

    def run_queue(self) -> LogProvider:
        """Run what the server queued (imports, dispatches) as a worker would."""
        assert self.runtime is not None
        assert self.log is not None
        self.runtime.queue.run_pending()
        return self.log

    def new_key(self, app: str = "alpha", name: str = "extra") -> tuple[str, str]:
        with self.db.transaction() as s:
            row, key = api_keys.create_api_key(s, app, name)
            return row.prefix, key


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem with this status (and field); returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


@contextmanager
def serving(
    backend: str, pg_server: PgServer | None, tmp_path: Path, **overrides: Any
) -> Iterator[Api]:
    """The app on uvicorn with two apps and keys, an in-memory queue and a log provider."""
    extra: dict[str, Any] = {}
    if backend == "postgresql":
        assert pg_server is not None
        extra["database"] = {"url": pg_server.migrated()}
    settings = load_settings(data_dir=tmp_path / "data", environ={}, **extra, **overrides)
    db = Database.open(settings)
    keys: dict[str, str] = {}
    with db.transaction() as s:
        for key in ("alpha", "beta"):
            apps.create_app(s, key=key, timezone="Europe/Paris")
            keys[key] = api_keys.create_api_key(s, key, "tests")[1]
    log = LogProvider(record=True)  # what the workers "send" (api.log.messages)
    runtime = JobRuntime(
        settings, db, memory_queue=True, providers=lambda: lambda app_id, platform: log
    )
    spool = Spool(settings, db, on_received=runtime.queue.enqueue_import)
    app = create_app(
        settings, db=db, queue=runtime.queue, receive_upload=upload_receiver(spool),
        reprocess=reprocessor(spool),
    )  # fmt: skip
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-server", daemon=True)
    thread.start()
    server = WebServer(app, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    world = Api(
        f"http://127.0.0.1:{server.port}", settings, db, keys, runtime=runtime, log=log,
        spool=spool,
    )  # fmt: skip
    try:
        yield world
    finally:
        for client in world._clients:
            client.close()
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        spool.close()
        runtime.close()
        db.close()


@pytest.fixture
def api(backend: str, pg_server: PgServer | None, tmp_path: Path) -> Iterator[Api]:
    with serving(backend, pg_server, tmp_path) as world:
        yield world
