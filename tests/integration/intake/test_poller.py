"""Pull mode against the fake customer server (the real sshd/vsftpd runs are in test_pull_real)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from ftpush.crypto import SecretBox
from ftpush.intake.poller import Poller
from ftpush.models import ImportSource, ImportStatus, RemoteProtocol
from ftpush.remote.base import RemoteClient, RemoteTarget
from ftpush.remote.fake import FakeServer
from ftpush.storage import apps, imports, remotes
from ftpush.storage.remotes import RemoteServerSpec
from tests.integration.intake.conftest import Intake

CONTENT = b"12345;Hello;https://example.com\n"


def configure(
    intake: Intake, server: FakeServer, *, move: bool = False, app: str = "alpha"
) -> None:
    target = server.target(RemoteProtocol.SFTP, "/outbox")
    box = SecretBox.from_keys_dir(intake.settings.keys_dir)
    with intake.db.transaction() as s:
        remotes.save_remote_server(
            s,
            box,
            RemoteServerSpec(
                app_key=app,
                name="pull",
                protocol=target.protocol,
                host=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                host_key_fingerprint=target.host_key_fingerprint,
                import_path="/outbox",
                import_enabled=True,
                move_processed=move,
            ),
        )


@pytest.fixture
def server(tmp_path: Path) -> FakeServer:
    fake = FakeServer(tmp_path / "remote", port=22)
    (fake.root / "outbox" / "Profile").mkdir(parents=True)
    return fake


@pytest.fixture
def poller(intake: Intake, server: FakeServer) -> Poller:
    configure(intake, server)
    box = SecretBox.from_keys_dir(intake.settings.keys_dir)
    return Poller(intake.settings, intake.db, intake.spool, box, client_factory=server.connect)


def poll(intake: Intake, poller: Poller) -> list[str]:
    summary = asyncio.run(poller.poll_once())
    intake.spool.wait_idle()
    assert summary.errors == []
    return summary.taken


def rows(intake: Intake) -> list[imports.ImportFile]:
    with intake.db.transaction() as s:
        return list(imports.list_imports(s, "alpha"))


def test_a_file_is_taken_once_it_stopped_changing(
    intake: Intake, server: FakeServer, poller: Poller
) -> None:
    remote = server.root / "outbox" / "push.csv"
    remote.write_bytes(CONTENT[:10])
    assert poll(intake, poller) == []  # first sighting
    remote.write_bytes(CONTENT)  # still growing
    os.utime(remote, (1_700_000_000, 1_700_000_000))
    assert poll(intake, poller) == []
    assert poll(intake, poller) == ["/outbox/push.csv"]
    assert not remote.exists()
    [row] = rows(intake)
    assert row.source is ImportSource.PULL
    assert row.sha256 == hashlib.sha256(CONTENT).hexdigest()
    assert row.received_by == "pull:pull"
    assert intake.received == [row.id]
    assert poll(intake, poller) == []  # nothing twice


def test_sidecar_makes_it_immediate_and_verified(
    intake: Intake, server: FakeServer, poller: Poller
) -> None:
    outbox = server.root / "outbox"
    (outbox / "good.csv").write_bytes(CONTENT)
    (outbox / "good.csv.sha256").write_text(hashlib.sha256(CONTENT).hexdigest() + "  good.csv\n")
    (outbox / "bad.csv").write_bytes(CONTENT + b"x")
    (outbox / "bad.csv.sha256").write_text("f" * 64)
    assert sorted(poll(intake, poller)) == ["/outbox/bad.csv", "/outbox/good.csv"]
    by_name = {r.name: r for r in rows(intake)}
    assert by_name["good.csv"].status is ImportStatus.RECEIVED
    assert by_name["bad.csv"].error_code == "checksum_mismatch"
    assert sorted(p.name for p in outbox.iterdir()) == ["Profile", "results"]
    # The rejected file's result went back to the customer at once.
    result = json.loads((outbox / "results" / "bad.csv.result.json").read_text())
    assert result["status"] == "failed"


def test_profile_folder_and_move_to_processed(intake: Intake, server: FakeServer) -> None:
    configure(intake, server, move=True)
    box = SecretBox.from_keys_dir(intake.settings.keys_dir)
    poller = Poller(intake.settings, intake.db, intake.spool, box, client_factory=server.connect)
    profile = server.root / "outbox" / "Profile" / "users.txt"
    profile.write_text("~~~extID~email~device token\n1~~\n")
    poll(intake, poller)
    assert poll(intake, poller) == ["/outbox/Profile/users.txt"]
    assert (server.root / "outbox" / "processed" / "Profile" / "users.txt").exists()
    assert rows(intake)[0].folder == "Profile"


def test_results_go_back_once_the_file_is_final(
    intake: Intake, server: FakeServer, poller: Poller
) -> None:
    outbox = server.root / "outbox"
    for name in ("a.csv", "b.csv"):  # same content twice: the second is a duplicate
        (outbox / name).write_bytes(CONTENT)
        (outbox / f"{name}.sha256").write_text(hashlib.sha256(CONTENT).hexdigest())
        poll(intake, poller)
    results = outbox / "results"
    assert json.loads((results / "b.csv.result.json").read_text())["status"] == "duplicate"
    assert not (results / "a.csv.result.json").exists()  # still waiting to be processed
    calls_before = len(server.calls)
    poll(intake, poller)
    assert not any(op == "upload" for op, _ in server.calls[calls_before:])  # sent once


def test_a_failed_remote_delete_never_sends_twice(
    intake: Intake, server: FakeServer, poller: Poller
) -> None:
    outbox = server.root / "outbox"
    (outbox / "push.csv").write_bytes(CONTENT)
    (outbox / "push.csv.sha256").write_text(hashlib.sha256(CONTENT).hexdigest())
    server.fail("delete", "permission", times=2)
    poll(intake, poller)
    assert (outbox / "push.csv").exists()
    poll(intake, poller)
    statuses = sorted(str(r.status) for r in rows(intake))
    assert statuses == ["duplicate", "received"]
    assert len(intake.received) == 1


def test_offer_off_stops_polling(intake: Intake, server: FakeServer, poller: Poller) -> None:
    (server.root / "outbox" / "push.csv").write_bytes(CONTENT)
    with intake.db.transaction() as s:
        apps.set_ftp_enabled(s, "alpha", False)
    poll(intake, poller)
    poll(intake, poller)
    assert rows(intake) == []
    assert server.calls == []


def test_one_failing_server_does_not_stop_the_others(
    intake: Intake, server: FakeServer, tmp_path: Path
) -> None:
    down = FakeServer(tmp_path / "down", host="down.example.test", port=22)
    configure(intake, server)
    configure(intake, down, app="beta")
    down.down = True
    servers = {server.host: server, down.host: down}

    def factory(target: RemoteTarget, *, timeout: float = 30.0) -> RemoteClient:
        return servers[target.host].connect(target, timeout=timeout)

    box = SecretBox.from_keys_dir(intake.settings.keys_dir)
    poller = Poller(intake.settings, intake.db, intake.spool, box, client_factory=factory)
    (server.root / "outbox" / "push.csv").write_bytes(CONTENT)
    (server.root / "outbox" / "push.csv.sha256").write_text(hashlib.sha256(CONTENT).hexdigest())
    summary = asyncio.run(poller.poll_once())
    intake.spool.wait_idle()
    assert summary.taken == ["/outbox/push.csv"]
    [error] = summary.errors
    assert error.startswith("beta/pull (sftp://customer@down.example.test:22/outbox)")
    assert "customer-password" not in error


def test_the_service_runs_and_stops(intake: Intake, poller: Poller, server: FakeServer) -> None:
    (server.root / "outbox" / "push.csv").write_bytes(CONTENT)

    async def run() -> None:
        poller.interval = 0.05
        await poller.start()
        for _ in range(100):
            if not (server.root / "outbox" / "push.csv").exists():
                break
            await asyncio.sleep(0.05)
        await poller.stop()

    asyncio.run(run())
    intake.spool.wait_idle()
    assert len(intake.received) == 1
    assert poller.endpoints == ["pull mode: every 0.05 s"]
