"""Delivering report files to real servers (OpenSSH sshd, vsftpd FTPS/FTP) and the dropbox."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest

from ftpush.errors import RemoteError
from ftpush.models import DeliveryStatus
from ftpush.pipeline.exports import Backoff, deliver_to_dropbox
from ftpush.remote.base import RemoteTarget
from ftpush.remote.fake import FakeServer
from ftpush.storage import exports
from tests.integration.exports.conftest import T0, Harness
from tests.peers.fixtures import make_read_only
from tests.peers.sshd import SshdPeer
from tests.peers.vsftpd import VsftpdPeer

PEERS = ["sftp-key", "sftp-password", "ftps", "ftp"]


def peer_target(request: pytest.FixtureRequest, name: str, folder: Path) -> RemoteTarget:
    if name.startswith("sftp"):
        sshd: SshdPeer = request.getfixturevalue("sshd_peer")
        if name == "sftp-password" and sshd.user.password is None:
            pytest.skip("password login needs root to create the test user")
        return sshd.target(str(folder), auth=name.removeprefix("sftp-"))
    vsftpd: VsftpdPeer = request.getfixturevalue("ftps_peer" if name == "ftps" else "ftp_peer")
    return vsftpd.target(str(folder))


def history(h: Harness) -> list[dict[str, object]]:
    with h.db.read() as s:
        return [
            {
                "status": d.status,
                "attempts": d.attempts,
                "bytes": d.bytes,
                "sha256": d.sha256,
                "error": d.error,
                "next": d.next_attempt_at,
                "destination": d.destination,
                "run_status": str(r.status),
            }
            for d, r in exports.list_deliveries(s, "demo")
        ]


@pytest.mark.parametrize("peer", PEERS)
def test_a_report_arrives_whole_under_its_final_name(
    harness: Harness, request: pytest.FixtureRequest, peer_dir: Path, peer: str
) -> None:
    target = peer_target(request, peer, peer_dir)
    harness.point_at(target, str(peer_dir))
    report = harness.report()
    data = report.local_path.read_bytes()

    outcome = harness.send(harness.exporter())

    assert outcome.ok, outcome
    assert sorted(p.name for p in peer_dir.iterdir()) == ["demo_EVENTS_20250101.csv"]
    landed = (peer_dir / "demo_EVENTS_20250101.csv").read_bytes()
    assert landed == data
    [row] = history(harness)
    assert row["status"] is DeliveryStatus.DELIVERED
    assert (row["bytes"], row["sha256"], row["attempts"]) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
        1,
    )
    assert row["run_status"] == "done"
    assert str(row["destination"]).startswith(f"{target.protocol}://")
    # nothing is kept for retries once delivered
    assert not list((harness.settings.spool_dir / "exports" / "demo").rglob("*.csv"))


def test_several_files_of_a_run_go_over_one_connection(
    harness: Harness, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    harness.point_at(sshd_peer.target(str(peer_dir)), str(peer_dir))
    files = [harness.report(f"demo_{n}_PUSH_REPORTS_20250101.csv", n.encode() * 10) for n in "ab"]
    outcome = harness.send(harness.exporter(), *files)
    assert [d.status for d in outcome.deliveries] == [DeliveryStatus.DELIVERED] * 2
    assert (peer_dir / "demo_b_PUSH_REPORTS_20250101.csv").read_bytes() == b"b" * 10


def test_permission_denied_is_retrying_without_a_file_then_delivered(
    harness: Harness, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    folder = peer_dir / "ro"
    make_read_only(folder)
    harness.point_at(sshd_peer.target(str(folder)), str(folder))
    exporter = harness.exporter()

    outcome = harness.send(exporter)

    [d] = outcome.deliveries
    assert d.status is DeliveryStatus.RETRYING
    assert d.error is not None
    assert d.error.startswith("permission:")
    assert d.next_attempt_at == T0 + dt.timedelta(seconds=60)
    assert list(folder.iterdir()) == []
    assert history(harness)[0]["run_status"] == "running"

    # Not due yet: nothing happens.
    assert asyncio.run(exporter.retry_due()) == []
    # The operator fixes the folder; the next attempt delivers the kept file.
    os.chmod(folder, 0o777)
    harness.clock.advance(61)
    [again] = asyncio.run(exporter.retry_due())
    assert (again.status, again.attempts) == (DeliveryStatus.DELIVERED, 2)
    expected = harness.report().local_path.read_bytes()
    assert (folder / "demo_EVENTS_20250101.csv").read_bytes() == expected
    assert history(harness)[0]["run_status"] == "done"


def test_wrong_password_backs_off_then_fails_at_the_deadline(
    harness: Harness, ftps_peer: VsftpdPeer, peer_dir: Path
) -> None:
    target = dataclasses.replace(ftps_peer.target(str(peer_dir)), password="wrong-password")
    harness.point_at(target, str(peer_dir))
    exporter = harness.exporter(backoff=Backoff(first=60, cap=600, max_attempts=10))

    deadline = T0 + dt.timedelta(seconds=150)
    [d] = harness.send(exporter, deadline=deadline).deliveries
    assert (d.status, d.attempts) == (DeliveryStatus.RETRYING, 1)
    assert d.error is not None
    assert d.error.startswith("auth:")
    assert "wrong-password" not in d.error
    harness.clock.advance(60)
    [d] = asyncio.run(exporter.retry_due(deadline=deadline))
    assert (d.status, d.attempts) == (DeliveryStatus.FAILED, 2)  # 60 + 120 s is past the deadline
    assert list(peer_dir.iterdir()) == []
    assert history(harness)[0]["run_status"] == "failed"


@pytest.mark.parametrize("fault", ["rename", "disk_full", "truncated"])
def test_faults_mid_delivery_leave_no_file_at_the_final_name(
    harness: Harness, tmp_path: Path, fault: str
) -> None:
    server = FakeServer(tmp_path / "remote")
    (server.root / "in").mkdir()
    harness.point_at(server.target(path="/in"), "/in")
    if fault == "rename":
        server.fail("rename", "permission")
    elif fault == "disk_full":
        server.space_left = 100
    else:
        server.truncate_uploads(by=3)

    [d] = harness.send(harness.exporter(server.connect)).deliveries

    assert d.status is DeliveryStatus.RETRYING
    assert list((server.root / "in").iterdir()) == []


def test_retry_uses_the_destination_as_it_is_now(harness: Harness, tmp_path: Path) -> None:
    server = FakeServer(tmp_path / "remote")
    server.down = True
    harness.point_at(server.target(), "/")
    exporter = harness.exporter(server.connect)
    [d] = harness.send(exporter).deliveries
    assert d.error is not None
    assert d.error.startswith("tcp:")
    server.down = False
    harness.clock.advance(3600)
    [d] = asyncio.run(exporter.retry_due(app_key="demo"))
    assert d.status is DeliveryStatus.DELIVERED
    assert (server.root / "demo_EVENTS_20250101.csv").exists()


# -- the dropbox ------------------------------------------------------------------------


def test_dropbox_delivery(harness: Harness) -> None:
    harness.point_at(None)
    report = harness.report()
    [d] = harness.send(harness.exporter()).deliveries
    assert d.status is DeliveryStatus.DELIVERED
    assert d.destination == "dropbox:/reports"
    folder = harness.settings.dropbox_dir / "demo" / "reports"
    assert [p.name for p in folder.iterdir()] == ["demo_EVENTS_20250101.csv"]
    assert (folder / d.file_name).read_bytes() == report.local_path.read_bytes()
    assert d.sha256 == hashlib.sha256(report.local_path.read_bytes()).hexdigest()


def test_dropbox_refuses_a_symlinked_folder_and_a_symlinked_name(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_bytes(b"x" * 10)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    app = tmp_path / "app"
    app.mkdir()
    (app / "reports").symlink_to(elsewhere)
    with pytest.raises(RemoteError) as info:
        deliver_to_dropbox(app, source, "r.csv")
    assert info.value.stage == "permission"
    assert list(elsewhere.iterdir()) == []

    (app / "reports").unlink()
    (app / "reports").mkdir()
    (app / "reports" / "r.csv").symlink_to(elsewhere / "target")
    receipt = deliver_to_dropbox(app, source, "r.csv")  # the link is replaced, not followed
    assert receipt.size == 10
    assert not (app / "reports" / "r.csv").is_symlink()
    assert not (elsewhere / "target").exists()
    assert sorted(p.name for p in (app / "reports").iterdir()) == ["r.csv"]


def test_dropbox_failure_leaves_nothing_and_retries(harness: Harness) -> None:
    harness.point_at(None)
    folder = harness.settings.dropbox_dir / "demo" / "reports"
    (folder / "demo_EVENTS_20250101.csv").mkdir(parents=True)  # the final name is taken
    [d] = harness.send(harness.exporter()).deliveries
    assert d.status is DeliveryStatus.RETRYING
    assert d.error is not None
    assert d.error.startswith("transfer:")
    assert [p.name for p in folder.iterdir()] == ["demo_EVENTS_20250101.csv"]
    (folder / "demo_EVENTS_20250101.csv").rmdir()
    harness.clock.advance(60)
    [d] = asyncio.run(harness.exporter().retry_due())
    assert d.status is DeliveryStatus.DELIVERED
    assert (folder / "demo_EVENTS_20250101.csv").is_file()
