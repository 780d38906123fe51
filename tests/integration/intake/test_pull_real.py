"""Pull mode against a real OpenSSH sshd and a real vsftpd (FTPS), on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path

import pytest

from ftpush.crypto import SecretBox
from ftpush.intake.poller import Poller
from ftpush.remote.base import RemoteTarget
from ftpush.storage import imports, remotes
from ftpush.storage.remotes import RemoteServerSpec
from tests.integration.intake.conftest import Intake
from tests.peers._common import PeerUser

CONTENT = b"12345;Hello from the customer's server;https://example.com\n"


def configure(intake: Intake, target: RemoteTarget, *, move: bool) -> Poller:
    box = SecretBox.from_keys_dir(intake.settings.keys_dir)
    with intake.db.transaction() as s:
        remotes.save_remote_server(
            s,
            box,
            RemoteServerSpec(
                app_key="alpha",
                name="pull",
                protocol=target.protocol,
                host=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                private_key=target.private_key,
                host_key_fingerprint=target.host_key_fingerprint,
                tls_verify=target.tls_verify,
                tls_cert_fingerprint=target.tls_cert_fingerprint,
                import_path=target.path,
                import_enabled=True,
                move_processed=move,
            ),
        )
    return Poller(intake.settings, intake.db, intake.spool, box, timeout=10)


def owned(path: Path, user: PeerUser, data: bytes | None = None) -> Path:
    """Create a file or folder the peers' user owns (it must be able to delete it)."""
    if data is None:
        path.mkdir(exist_ok=True)
    else:
        path.write_bytes(data)
    os.chown(path, user.uid, user.gid)
    return path


def poll(intake: Intake, poller: Poller) -> list[str]:
    summary = asyncio.run(poller.poll_once())
    intake.spool.wait_idle()
    assert summary.errors == []
    return summary.taken


@pytest.fixture(params=["sftp", "ftps"])
def target(request: pytest.FixtureRequest, peer_dir: Path, peer_user: PeerUser) -> RemoteTarget:
    owned(peer_dir / "Profile", peer_user)
    if request.param == "sftp":
        peer = request.getfixturevalue("sshd_peer")
        return peer.target(str(peer_dir), auth="key")  # type: ignore[no-any-return]
    peer = request.getfixturevalue("ftps_peer")
    return peer.target(str(peer_dir))  # type: ignore[no-any-return]


def test_stable_files_are_pulled_and_deleted(
    intake: Intake, target: RemoteTarget, peer_dir: Path, peer_user: PeerUser
) -> None:
    poller = configure(intake, target, move=False)
    remote = owned(peer_dir / "push.csv", peer_user, CONTENT[:20])
    assert poll(intake, poller) == []  # first sighting
    with remote.open("ab") as fh:  # still growing between two polls: left alone
        fh.write(CONTENT[20:])
    assert poll(intake, poller) == []
    assert remote.exists()
    assert poll(intake, poller) == [f"{peer_dir}/push.csv"]
    assert not remote.exists()
    with intake.db.transaction() as s:
        [row] = imports.list_imports(s, "alpha")
        assert row.sha256 == hashlib.sha256(CONTENT).hexdigest()
        assert str(row.source) == "pull"
    assert len(intake.received) == 1


def test_sidecar_move_to_processed_and_results_uploaded(
    intake: Intake, target: RemoteTarget, peer_dir: Path, peer_user: PeerUser
) -> None:
    poller = configure(intake, target, move=True)
    owned(peer_dir / "Profile" / "users.txt", peer_user, b"~~~extID~email~device token\n1~~\n")
    for name in ("a.csv", "b.csv"):  # same bytes twice: b is a duplicate, final at once
        owned(peer_dir / name, peer_user, CONTENT)
        digest = hashlib.sha256(CONTENT).hexdigest()
        owned(peer_dir / f"{name}.sha256", peer_user, f"{digest}  {name}\n".encode())
    taken = poll(intake, poller)
    assert sorted(taken) == [f"{peer_dir}/a.csv", f"{peer_dir}/b.csv"]
    assert sorted(p.name for p in (peer_dir / "processed").iterdir()) == ["a.csv", "b.csv"]
    assert not (peer_dir / "a.csv.sha256").exists()
    result = json.loads((peer_dir / "results" / "b.csv.result.json").read_text())
    assert result["status"] == "duplicate"
    assert poll(intake, poller) == [f"{peer_dir}/Profile/users.txt"]
    assert (peer_dir / "processed" / "Profile" / "users.txt").exists()
