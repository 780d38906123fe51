"""Helpers for the export tests: an app, its destination pointed at a peer, an exporter."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpush.config import Settings
from ftpush.crypto import SecretBox
from ftpush.models import ExportFormat, ExportTrigger
from ftpush.pipeline.exports import Backoff, Exporter, ReportFile, RunOutcome
from ftpush.remote.base import ClientFactory, RemoteTarget, open_client
from ftpush.storage import Database, apps, exports
from ftpush.storage.remotes import RemoteServerSpec

DAY = dt.date(2025, 1, 1)
T0 = dt.datetime(2025, 1, 2, 3, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def remote_spec(target: RemoteTarget, app_key: str = "demo") -> RemoteServerSpec:
    return RemoteServerSpec(
        app_key=app_key,
        name=exports.EXPORT_SERVER_NAME,
        protocol=target.protocol,
        host=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        private_key=target.private_key,
        host_key_fingerprint=target.host_key_fingerprint,
        tls_verify=target.tls_verify,
        tls_cert_fingerprint=target.tls_cert_fingerprint,
    )


class Harness:
    """One app ``demo`` on a fresh SQLite data directory, and an exporter for it."""

    def __init__(self, settings: Settings, db: Database, tmp: Path) -> None:
        self.settings = settings
        self.db = db
        self.box = SecretBox.from_keys_dir(settings.keys_dir)
        self.tmp = tmp
        self.clock = Clock()
        with db.transaction() as s:
            apps.create_app(s, key="demo", name="Demo")

    def point_at(self, target: RemoteTarget | None, path: str = "/") -> None:
        spec = exports.DestinationSpec(
            app_key="demo",
            remote=remote_spec(target) if target else None,
            path=path,
            format=ExportFormat.CSV,
        )
        with self.db.transaction() as s:
            exports.set_destination(s, self.box, spec)

    def exporter(
        self, factory: ClientFactory = open_client, backoff: Backoff | None = None
    ) -> Exporter:
        return Exporter(
            self.settings,
            self.db,
            self.box,
            client_factory=factory,
            clock=self.clock,
            timeout=5.0,
            backoff=backoff or Backoff(first=60, cap=600, max_attempts=4),
        )

    def report(self, name: str = "demo_EVENTS_20250101.csv", data: bytes = b"") -> ReportFile:
        path = self.tmp / "built" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data or b"external_id,event\n" + b"u1,open\n" * 1000)
        return ReportFile("events", path, name, 1000)

    def send(
        self, exporter: Exporter, *files: ReportFile, deadline: dt.datetime | None = None
    ) -> RunOutcome:
        outcome = asyncio.run(
            exporter.deliver_run(
                "demo",
                list(files) or [self.report()],
                trigger=ExportTrigger.SEND,
                window_start=DAY,
                window_end=DAY,
                deadline=deadline,
            )
        )
        assert outcome is not None
        return outcome


@pytest.fixture
def harness(settings: Settings, tmp_path: Path) -> Iterator[Harness]:
    db = Database.open(settings)
    yield Harness(settings, db, tmp_path)
    db.close()
