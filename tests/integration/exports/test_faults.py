"""Faults at the destination, end to end through the nightly scheduler (issue 8).

A real OpenSSH ``sshd`` (and ``vsftpd`` for a full disk over FTPS) stands in for the
customer's server; each fault is made for real: nothing listening, a wrong password, a
changed host key, a folder the user may not write, a file system that is full (a
4 KiB tmpfs). The night is retried with backoff until 06:00, recorded, and then the
app's contacts are told by e-mail (aiosmtpd) and webhook (a local HTTP server) — once.
No file ever appears at its final name, and no temporary file is left behind.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ftpush.config import Settings, SmtpSettings
from ftpush.crypto import SecretBox
from ftpush.jobs.nightly import NightlyExports, night_of
from ftpush.models import DeliveryStatus, ExportFormat
from ftpush.remote.base import RemoteTarget
from ftpush.storage import Database, apps, exports, users
from ftpush.storage.tables import ExportRun
from tests.integration.exports.conftest import Clock, remote_spec
from tests.peers._common import PeerUser
from tests.peers.alert_peers import Hooks, SmtpServer
from tests.peers.fixtures import make_read_only
from tests.peers.sshd import SshdPeer
from tests.peers.vsftpd import VsftpdPeer

NIGHT = dt.date(2026, 3, 10)
CONTACTS = ["ops@customer.example", "oncall@customer.example"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tiny_fs(peers_base: Path, peer_user: PeerUser) -> Iterator[Path]:
    """A 4 KiB tmpfs the peers' user may write: a report does not fit."""
    path = Path(tempfile.mkdtemp(dir=peers_base / "data"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size=4k,mode=0755,uid={peer_user.uid}", "tmpfs", path],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield path
    subprocess.run(["umount", "-l", path], check=False)


class Night:
    """App ``demo`` (UTC) with alert contacts, its destination, and a scheduler on a clock."""

    def __init__(self, settings: Settings, db: Database, smtp: SmtpServer, hooks: Hooks) -> None:
        smtp_settings = SmtpSettings(host="127.0.0.1", port=smtp.port, starttls=False)
        self.settings = settings.model_copy(
            update={
                "smtp": smtp_settings,
                "export": settings.export.model_copy(update={"catch_up_days": 0}),
            }
        )
        self.db = db
        self.box = SecretBox.from_keys_dir(settings.keys_dir)
        self.hooks = hooks
        self.smtp = smtp
        with db.transaction() as s:
            apps.create_app(s, key="demo")
            apps.set_alert_contacts(
                s, "demo", emails=CONTACTS, webhook_url=hooks.url("/ok?token=hook-secret")
            )
            for i in range(40):
                users.register_device(s, app_key="demo", token=f"fcm-{i:04d}", external_id=str(i))
        self.moment = night_of("demo", "UTC", NIGHT, self.settings.export)
        self.clock = Clock(self.moment.starts_at - dt.timedelta(hours=1))

    def point_at(self, target: RemoteTarget, fmt: ExportFormat) -> None:
        spec = exports.DestinationSpec(
            app_key="demo",
            remote=remote_spec(target),
            path=target.path,
            reports=("installations",),
            format=fmt,
        )
        with self.db.transaction() as s:
            dest = exports.set_destination(s, self.box, spec)
            dest.updated_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # scheduled long before

    def scheduler(self) -> NightlyExports:
        return NightlyExports(self.settings, self.db, clock=self.clock, interval=60)

    def run_the_night(self) -> list[DeliveryStatus]:
        """Tick at the moment, then at each retry's time until the delivery is settled."""
        scheduler = self.scheduler()
        self.clock.now = self.moment.starts_at
        statuses = []
        report = asyncio.run(scheduler.tick())
        [run] = report.runs
        [delivery] = run.deliveries
        statuses.append(delivery.status)
        while delivery.status is DeliveryStatus.RETRYING:
            assert delivery.next_attempt_at is not None
            assert delivery.next_attempt_at <= self.moment.deadline
            self.clock.now = delivery.next_attempt_at
            [delivery] = asyncio.run(scheduler.tick()).retried
            statuses.append(delivery.status)
        self.final = delivery
        return statuses


@pytest.fixture
def night(settings: Settings, db: Database, smtp_server: SmtpServer, hooks: Hooks) -> Night:
    return Night(settings, db, smtp_server, hooks)


def sftp_fault(fault: str, sshd: SshdPeer, folder: Path, tiny: Path | None) -> RemoteTarget:
    target = sshd.target(str(folder))
    if fault == "down":
        return dataclasses.replace(target, port=closed_port())
    if fault == "wrong_password":
        if sshd.user.password is None:
            pytest.skip("password login needs root to create the test user")
        return dataclasses.replace(sshd.target(str(folder), auth="password"), password="nope-1")
    if fault == "host_key_changed":
        return dataclasses.replace(target, host_key_fingerprint="SHA256:" + "A" * 43)
    if fault == "permission_denied":
        make_read_only(folder / "ro")
        return dataclasses.replace(target, path=str(folder / "ro"))
    assert fault == "disk_full"
    assert tiny is not None
    return dataclasses.replace(target, path=str(tiny))


FAULTS = {
    "down": "tcp",
    "wrong_password": "auth",
    "host_key_changed": "host_key",
    "permission_denied": "permission",
    "disk_full": "transfer",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_is_retried_until_0600_recorded_alerted_and_leaves_no_file(
    night: Night, sshd_peer: SshdPeer, peer_dir: Path, request: pytest.FixtureRequest, fault: str
) -> None:
    tiny = request.getfixturevalue("tiny_fs") if fault == "disk_full" else None
    target = sftp_fault(fault, sshd_peer, peer_dir, tiny)
    night.point_at(target, ExportFormat.XLSX)
    secret = target.password

    statuses = night.run_the_night()

    # Retried with backoff, then failed for good by the window's end.
    assert len(statuses) >= 4
    assert statuses[-1] is DeliveryStatus.FAILED
    assert set(statuses[:-1]) == {DeliveryStatus.RETRYING}
    d = night.final
    assert d.error is not None
    assert d.error.startswith(FAULTS[fault] + ":"), d.error
    assert d.size > 4096  # an xlsx file never fits the 4 KiB file system
    if fault == "disk_full":
        assert "a full disk or a quota?" in d.error
    if secret:
        assert secret not in d.error
    # Recorded: the run failed, and its contacts were told.
    with night.db.read() as s:
        [run] = s.scalars(select(ExportRun)).all()
        assert run.status == "failed"
        assert run.alerted_at is not None
        assert run.alert_error is None
    # Never a file at the final name; no temporary file left either.
    folder = Path(target.path)
    assert list(folder.iterdir()) == []
    # The e-mail: one message to every contact, naming the file and the stage.
    [mail] = night.smtp.mailbox.envelopes
    assert sorted(mail.rcpt_tos) == sorted(CONTACTS)
    body = night.smtp.mailbox.message().get_content()
    assert d.file_name in body
    assert FAULTS[fault] + ":" in body
    # The webhook: the JSON document with the failed delivery.
    [hit] = night.hooks.hits
    doc = json.loads(hit.body)
    assert doc["event"] == "export.failed"
    assert doc["app"] == "demo"
    assert [f["file_name"] for f in doc["failed"]] == [d.file_name]
    assert doc["failed"][0]["error"] == d.error
    # Told once: later passes find nothing new.
    night.clock.now = night.moment.deadline + dt.timedelta(hours=1)
    report = asyncio.run(night.scheduler().tick())
    assert (report.runs, report.retried, report.alerted) == ([], [], [])
    assert len(night.smtp.mailbox.envelopes) == 1
    assert len(night.hooks.hits) == 1


def test_disk_full_over_ftps_then_fixed_and_retried(
    night: Night, ftps_peer: VsftpdPeer, tiny_fs: Path, peer_dir: Path
) -> None:
    night.point_at(ftps_peer.target(str(tiny_fs)), ExportFormat.XLSX)
    statuses = night.run_the_night()
    assert statuses[-1] is DeliveryStatus.FAILED
    assert night.final.error is not None
    assert night.final.error.startswith("transfer:"), night.final.error
    assert list(tiny_fs.iterdir()) == []
    assert len(night.smtp.mailbox.envelopes) == 1
    # The customer makes room (here: points us at a roomier folder); Retry delivers it.
    night.point_at(ftps_peer.target(str(peer_dir)), ExportFormat.XLSX)
    exporter = night.scheduler()._exporter  # the same one the service uses
    again = asyncio.run(exporter.retry_now("demo", night.final.delivery_id))
    assert again.status is DeliveryStatus.DELIVERED
    assert [p.name for p in peer_dir.iterdir()] == [night.final.file_name]
    assert (peer_dir / night.final.file_name).stat().st_size == night.final.size


def test_an_unreachable_alert_contact_is_recorded(
    night: Night, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    with night.db.transaction() as s:
        apps.set_alert_contacts(
            s, "demo", emails=CONTACTS, webhook_url=night.hooks.url("/fail?token=hook-secret")
        )
    target = dataclasses.replace(sshd_peer.target(str(peer_dir)), port=closed_port())
    night.point_at(target, ExportFormat.CSV)
    night.run_the_night()
    with night.db.read() as s:
        [run] = s.scalars(select(ExportRun)).all()
    assert run.alerted_at is not None
    assert run.alert_error is not None
    assert "HTTP 500" in run.alert_error
    assert "hook-secret" not in run.alert_error
    assert len(night.smtp.mailbox.envelopes) == 1  # the e-mail still went
