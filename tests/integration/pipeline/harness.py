"""A gateway world for crash tests and the pipeline bench: many users, real workers, a peer.

:class:`World` owns a data directory with one app whose iOS and Android pushes go to
the Node push peer (APNs and FCM), a population seeded straight into the database,
and ``ftpush worker`` processes it can SIGKILL and restart.

Example::

    with running_push_peer() as peer:
        world = World(tmp_path, peer)
        world.seed(100_000, devices_per_user=2)
        world.drop_push_file(100_000)
        worker = world.start_worker()
        ...
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from ftpush.config import Settings, load_settings
from ftpush.crypto import SecretBox
from ftpush.formats.push_writer import write_push_csv
from ftpush.intake.spool import Origin, Spool
from ftpush.jobs.runtime import JobRuntime
from ftpush.models import ImportSource, MessageStatus, Platform
from ftpush.pipeline.providers import configure_provider
from ftpush.storage import Database, apps, imports, ledger
from ftpush.storage.tables import Campaign, Device, Message, User
from tests.peers.push_peer import PushPeer

FTPUSH = str(Path(sys.executable).parent / "ftpush")
APP = "demo"


def wait_until(check: Callable[[], Any], timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


@dataclass
class World:
    """A data directory wired to a push peer; ``env`` is what the workers run with."""

    root: Path
    peer: PushPeer
    overrides: Mapping[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data_dir = self.root / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FTPUSH_")}
        self.env |= {
            "FTPUSH_DATA_DIR": str(self.data_dir),
            "FTPUSH_PUSH__CA_FILE": self.peer.ca_file,
            "FTPUSH_PUSH__LEASE_SECONDS": "5",
            "FTPUSH_QUEUE__SWEEP_SECONDS": "1",
            "FTPUSH_QUEUE__IMPORT_LEASE_SECONDS": "5",
            "FTPUSH_LOG_LEVEL": "warning",
            **self.overrides,
        }
        environ = {k: v for k, v in self.env.items() if k.startswith("FTPUSH_")}
        environ.pop("FTPUSH_DATA_DIR")
        self.settings: Settings = load_settings(data_dir=self.data_dir, environ=environ)
        self.db = Database.open(self.settings)
        with self.db.transaction() as s:
            self.app_id = apps.create_app(s, key=APP).id
        box = SecretBox.from_keys_dir(self.settings.keys_dir)
        configure_provider(self.db, box, APP, "ios", "apns", self.peer.apns_settings())
        configure_provider(self.db, box, APP, "android", "fcm", self.peer.fcm_settings())

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        self.db.close()

    # --- population and files -----------------------------------------------------

    def seed(self, users: int, devices_per_user: int = 2) -> None:
        """Users ``u0..`` with alternately iOS and Android devices, inserted in bulk."""
        step = 20_000
        with self.db.transaction() as s:
            for start in range(0, users, step):
                ids = range(start, min(users, start + step))
                s.execute(insert(User), [{"app_id": self.app_id, "external_id": f"u{i}"}
                                         for i in ids])  # fmt: skip
            user_ids: dict[str, int] = dict(s.execute(select(User.external_id, User.id)).all())
            for start in range(0, users, step):
                rows = []
                for i in range(start, min(users, start + step)):
                    for d in range(devices_per_user):
                        ios = d % 2 == 0
                        rows.append({
                            "app_id": self.app_id, "user_id": user_ids[f"u{i}"],
                            "token": f"{i:032x}{d:032x}" if ios else f"fcm-{i}-{d}",
                            "platform": Platform.IOS if ios else Platform.ANDROID,
                        })  # fmt: skip
                s.execute(insert(Device), rows)

    def push_file(self, lines: int, name: str = "push.csv") -> Path:
        path = self.root / name
        rows = ((f"u{i}", f"Hello u{i}; your offer #{i} is ready", None) for i in range(lines))
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.writelines(write_push_csv(rows, header=True))
        return path

    def drop(self, path: Path, folder: str = "", app: str = APP) -> int:
        """Hand the file over as an upload would; the import task goes on the queue."""
        runtime = JobRuntime(self.settings, self.db)
        spool = Spool(self.settings, self.db, on_received=runtime.queue.enqueue_import)
        with self.db.transaction() as s:
            app_id = apps.get_app(s, app).id
        try:
            with path.open("rb") as fh:
                origin = Origin(app_id, app, ImportSource.CLI, "test", None)
                return spool.receive(origin, folder, path.name, fh)
        finally:
            spool.close()

    def checkpoint(self, import_id: int) -> int:
        with self.db.read() as s:
            return imports.get_import(s, import_id).checkpoint_line

    def import_status(self, import_id: int) -> str:
        with self.db.read() as s:
            return str(imports.get_import(s, import_id).status)

    def profiles(self, app: str) -> dict[str, Any]:
        """Every user of the app with identity, attributes and device tokens."""
        with self.db.read() as s:
            app_id = apps.get_app(s, app).id
            found: dict[str, Any] = {
                u.external_id: [u.email, u.msisdn, u.attributes, []]
                for u in s.scalars(select(User).where(User.app_id == app_id))
            }
            owners = s.execute(
                select(Device.token, User.external_id)
                .join(User, User.id == Device.user_id)
                .where(Device.app_id == app_id)
                .order_by(Device.token)
            )
            for token, ext in owners:
                found[ext][3].append(token)
        return found

    # --- workers ------------------------------------------------------------------------

    def start_worker(
        self, *, threads: int = 2, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.root / f"worker-{len(self.workers)}.log").open("ab")
        proc = subprocess.Popen(
            [FTPUSH, "worker", "--threads", str(threads)],
            env={**self.env, **(env or {})}, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        self.workers.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    # --- what happened ------------------------------------------------------------------

    def campaign(self) -> Campaign | None:
        with self.db.read() as s:
            campaign = s.scalar(select(Campaign).where(Campaign.app_id == self.app_id))
            if campaign is not None:
                s.expunge(campaign)
            return campaign

    def figures(self) -> dict[str, int]:
        campaign = self.campaign()
        if campaign is None:
            return {}
        with self.db.read() as s:
            return ledger.campaign_figures(s, campaign.id)

    def sent_keys(self) -> int:
        with self.db.read() as s:
            return len(s.scalars(select(Message.id).where(Message.status == MessageStatus.SENT))
                       .all())  # fmt: skip
