"""*Test connection* against real servers: success, and each failure named by its stage."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from pathlib import Path

import pytest

from ftpush.pipeline.exports import ConnectionTest
from ftpush.remote.base import RemoteTarget
from tests.integration.exports.conftest import Harness
from tests.peers.fixtures import make_read_only
from tests.peers.sshd import SshdPeer
from tests.peers.vsftpd import VsftpdPeer


def check(harness: Harness, target: RemoteTarget | None, path: str = "/") -> ConnectionTest:
    harness.point_at(target, path)
    return asyncio.run(harness.exporter().test_connection("demo"))


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def test_success_on_sftp_leaves_nothing_behind(
    harness: Harness, sshd_peer: SshdPeer, peer_dir: Path
) -> None:
    result = check(harness, sshd_peer.target(str(peer_dir)), str(peer_dir))
    assert result.ok, result
    assert result.stage is None
    assert "renamed and deleted .ftpush-probe-" in result.message
    assert list(peer_dir.iterdir()) == []


def test_success_on_ftps(harness: Harness, ftps_peer: VsftpdPeer, peer_dir: Path) -> None:
    result = check(harness, ftps_peer.target(str(peer_dir)), str(peer_dir))
    assert result.ok, result
    assert list(peer_dir.iterdir()) == []


def test_wrong_password_is_auth(harness: Harness, sshd_peer: SshdPeer, peer_dir: Path) -> None:
    if sshd_peer.user.password is None:
        pytest.skip("password login needs root to create the test user")
    target = dataclasses.replace(
        sshd_peer.target(str(peer_dir), auth="password"), password="not-the-password"
    )
    result = check(harness, target, str(peer_dir))
    assert (result.ok, result.stage) == (False, "auth")
    assert "not-the-password" not in result.message


def test_wrong_ftps_password_is_auth(
    harness: Harness, ftps_peer: VsftpdPeer, peer_dir: Path
) -> None:
    target = dataclasses.replace(ftps_peer.target(str(peer_dir)), password="not-the-password")
    assert check(harness, target, str(peer_dir)).stage == "auth"


def test_closed_port_is_tcp(harness: Harness, sshd_peer: SshdPeer) -> None:
    target = dataclasses.replace(sshd_peer.target(), port=closed_port())
    result = check(harness, target)
    assert (result.ok, result.stage) == (False, "tcp")


def test_unknown_host_is_dns(harness: Harness, sshd_peer: SshdPeer) -> None:
    target = dataclasses.replace(sshd_peer.target(), host="no-such-host.invalid")
    assert check(harness, target).stage == "dns"


def test_host_key_mismatch(harness: Harness, sshd_peer: SshdPeer) -> None:
    target = dataclasses.replace(sshd_peer.target(), host_key_fingerprint="SHA256:" + "A" * 43)
    result = check(harness, target)
    assert result.stage == "host_key"
    assert sshd_peer.host_key_fingerprint in result.message  # what was offered


def test_certificate_mismatch(harness: Harness, ftps_peer: VsftpdPeer) -> None:
    target = dataclasses.replace(ftps_peer.target(), tls_cert_fingerprint="AB" * 32)
    assert check(harness, target).stage == "host_key"


@pytest.mark.parametrize("peer", ["sshd_peer", "ftp_peer"])
def test_read_only_folder_is_permission(
    harness: Harness, request: pytest.FixtureRequest, peer_dir: Path, peer: str
) -> None:
    folder = peer_dir / "ro"
    make_read_only(folder)
    server: SshdPeer | VsftpdPeer = request.getfixturevalue(peer)
    result = check(harness, server.target(str(folder)), str(folder))
    assert (result.ok, result.stage) == (False, "permission"), result
    assert list(folder.iterdir()) == []


def test_dropbox(harness: Harness) -> None:
    result = check(harness, None)
    assert result.ok, result
    assert result.destination == "dropbox:/reports"
    assert list((harness.settings.dropbox_dir / "demo" / "reports").iterdir()) == []


def test_dropbox_symlink_is_permission(harness: Harness, tmp_path: Path) -> None:
    root = harness.settings.dropbox_dir / "demo"
    root.mkdir(parents=True)
    (root / "reports").symlink_to(tmp_path)
    assert check(harness, None).stage == "permission"
