"""What only one protocol has: SFTP host-key pinning, FTPS certificate checks and TLS, timeouts.

Against the real peers: OpenSSH ``sshd`` (both ``internal-sftp`` and the
``sftp-server`` binary) and ``vsftpd`` (explicit TLS required, and plain).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpush.errors import RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote.base import RemoteTarget, deliver, open_client
from ftpush.remote.ftp import FtpClient
from tests.peers.sshd import SshdPeer, sftp_binary
from tests.peers.vsftpd import VsftpdPeer


def connect_error(target: RemoteTarget, timeout: float = 5) -> RemoteError:
    async def main() -> None:
        async with open_client(target, timeout=timeout):
            pass

    with pytest.raises(RemoteError) as info:
        asyncio.run(main())
    return info.value


def deliver_once(target: RemoteTarget, folder: Path, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_bytes(b"a;b\n1;2\n")

    async def main() -> None:
        async with open_client(target, timeout=10) as client:
            await deliver(client, tmp_path / "r.csv", str(folder), "r.csv")

    asyncio.run(main())
    assert (folder / "r.csv").read_bytes() == b"a;b\n1;2\n"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


# -- SFTP ---------------------------------------------------------------------------------


def test_sftp_refuses_an_unpinned_host_and_shows_the_offered_key(sshd_peer: SshdPeer) -> None:
    err = connect_error(dataclasses.replace(sshd_peer.target(), host_key_fingerprint=None))
    assert err.stage == "host_key"
    assert "not pinned" in err.message
    assert sshd_peer.host_key_fingerprint in err.message


@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_sftp_pin_may_be_any_of_the_servers_host_keys(
    kind: str, sshd_peer: SshdPeer, peer_dir: Path, tmp_path: Path
) -> None:
    pin = sshd_peer.host_key_fingerprints[kind]
    target = dataclasses.replace(sshd_peer.target(), host_key_fingerprint=pin)
    deliver_once(target, peer_dir, tmp_path)


def test_sftp_mismatch_lists_every_key_the_server_has(sshd_peer: SshdPeer) -> None:
    err = connect_error(
        dataclasses.replace(sshd_peer.target(), host_key_fingerprint="SHA256:" + "Q" * 43)
    )
    assert err.stage == "host_key"
    for fingerprint in sshd_peer.host_key_fingerprints.values():
        assert fingerprint in err.message
    assert "ssh-ed25519" in err.message


def test_sftp_pin_accepts_other_spellings(
    sshd_peer: SshdPeer, peer_dir: Path, tmp_path: Path
) -> None:
    spelled = "sha256:" + sshd_peer.host_key_fingerprint.removeprefix("SHA256:") + "="
    deliver_once(
        dataclasses.replace(sshd_peer.target(), host_key_fingerprint=spelled), peer_dir, tmp_path
    )


def test_sftp_unreadable_private_key_is_auth(sshd_peer: SshdPeer) -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-at-all-but-secret\n-----END"
    err = connect_error(dataclasses.replace(sshd_peer.target(), private_key=key))
    assert err.stage == "auth"
    assert "not-a-key-at-all-but-secret" not in err.message


def test_sftp_key_and_password_together(
    sshd_peer: SshdPeer, peer_dir: Path, tmp_path: Path
) -> None:
    if sshd_peer.user.password is None:
        pytest.skip("password login needs root to create the test user")
    target = dataclasses.replace(sshd_peer.target(), password=sshd_peer.user.password)
    deliver_once(target, peer_dir, tmp_path)


def test_the_peer_serves_the_openssh_sftp_client(sshd_peer: SshdPeer, peer_dir: Path) -> None:
    """The peer is usable by OpenSSH ``sftp`` (as the intake tests and the benchmark use it)."""
    binary = sftp_binary()
    if binary is None:
        pytest.skip("the OpenSSH sftp client is not installed")
    result = subprocess.run(
        [binary, "-b", "-", *sshd_peer.sftp_args()],
        input=f"put /etc/hostname {peer_dir}/copied\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr + sshd_peer.log()
    assert (peer_dir / "copied").read_bytes() == Path("/etc/hostname").read_bytes()


@pytest.mark.parametrize("protocol", ["sftp", "ftps"])
def test_a_silent_server_times_out_as_tcp(
    protocol: str, silent_port: int, sshd_peer: SshdPeer, ftps_peer: VsftpdPeer
) -> None:
    peer_target = sshd_peer.target() if protocol == "sftp" else ftps_peer.target()
    err = connect_error(dataclasses.replace(peer_target, port=silent_port), timeout=0.5)
    assert err.stage == "tcp"


# -- FTPS and FTP ----------------------------------------------------------------------------


def test_ftps_verifies_certificates_by_default(ftps_peer: VsftpdPeer) -> None:
    err = connect_error(ftps_peer.target(pin=False))
    assert err.stage == "host_key"
    assert "not trusted" in err.message
    assert ftps_peer.cert_fingerprint in err.message  # ready to be pinned


def test_ftps_without_verification_still_encrypts(
    ftps_peer: VsftpdPeer, peer_dir: Path, tmp_path: Path
) -> None:
    target = dataclasses.replace(ftps_peer.target(pin=False), tls_verify=False)
    deliver_once(target, peer_dir, tmp_path)


def test_ftps_uses_tls_1_2_or_newer_with_protected_data(ftps_peer: VsftpdPeer) -> None:
    async def main() -> str:
        client = open_client(ftps_peer.target(), timeout=10)
        assert isinstance(client, FtpClient)
        async with client:
            await client.list("/")
            sock = client._session.ftp.sock if client._session.ftp else None
            return str(sock.version()) if sock and hasattr(sock, "version") else ""

    assert asyncio.run(main()) in {"TLSv1.2", "TLSv1.3"}
    assert "PROT P" in ftps_peer.log()


def test_ftps_reuses_the_tls_session_for_data(
    peers_base: Path, peer_dir: Path, tmp_path: Path
) -> None:
    """vsftpd's require_ssl_reuse (its default) refuses data connections that do not."""
    with VsftpdPeer.started(peers_base / "ftps-reuse", require_ssl_reuse=True) as peer:
        deliver_once(peer.target(), peer_dir, tmp_path)


def test_plain_ftp_to_a_tls_only_server_is_refused_at_login(ftps_peer: VsftpdPeer) -> None:
    target = dataclasses.replace(
        ftps_peer.target(pin=False), protocol=RemoteProtocol.FTP, tls_cert_fingerprint=None
    )
    err = connect_error(target)
    assert err.stage == "auth"
    assert "encryption" in err.message  # the server's own reason is passed on


def test_ftps_to_a_server_without_tls_is_tcp(ftp_peer: VsftpdPeer) -> None:
    target = dataclasses.replace(ftp_peer.target(), protocol=RemoteProtocol.FTPS)
    err = connect_error(target)
    assert err.stage == "tcp"
    assert "AUTH TLS" in err.message
