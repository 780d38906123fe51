"""Pytest fixtures for the real peers; load them with ``pytest_plugins = ["tests.peers.fixtures"]``.

* ``sshd_peer`` — OpenSSH ``sshd`` serving SFTP (key and, as root, password login).
* ``ftps_peer`` — ``vsftpd`` with explicit TLS required for login and data.
* ``ftp_peer`` — ``vsftpd`` speaking plain FTP.
* ``pyftpd_peer`` — pyftpdlib in a thread, plain FTP with ``MLSD``/``MLST`` (which vsftpd
  lacks); it serves its own folder (``pyftpd_peer.root`` is its ``/``).
* ``peer_dir`` — a fresh empty folder the peers' user may write; its absolute path
  is the remote path on every peer (they all serve the local filesystem).

The servers start once per session (well under a second each) on free ports of
127.0.0.1 and stop at the end; a test that asks for a peer that cannot run here
(binary absent, vsftpd without root) is skipped with the reason.

Example::

    def test_pull(sshd_peer, peer_dir):
        (peer_dir / "a.csv").write_text("...")
        target = sshd_peer.target(str(peer_dir))
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers._common import PeerUnavailable, PeerUser, ensure_peer_user
from tests.peers.pyftpd import PyftpdPeer
from tests.peers.sshd import SshdPeer
from tests.peers.vsftpd import VsftpdPeer


@pytest.fixture(scope="session")
def peers_base() -> Iterator[Path]:
    """A private temporary folder for the peers' configs, keys, logs and data."""
    # Not pytest's tmp_path: /tmp/pytest-of-root is 0700 and the peers' user must reach it.
    base = Path(tempfile.mkdtemp(prefix="ftpush-peers-"))
    base.chmod(0o755)
    (base / "data").mkdir(mode=0o755)
    yield base
    for folder, _dirs, _files in os.walk(base):
        os.chmod(folder, 0o755)  # undo make_read_only so the tree can be removed
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def peer_user() -> PeerUser:
    """The system user the peers log in (``ftpushtest`` as root, else yourself)."""
    return ensure_peer_user()


@pytest.fixture(scope="session")
def sshd_peer(peers_base: Path) -> Iterator[SshdPeer]:
    """A running OpenSSH sshd (SFTP only) on 127.0.0.1."""
    try:
        with SshdPeer.started(peers_base / "sshd") as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def ftps_peer(peers_base: Path) -> Iterator[VsftpdPeer]:
    """A running vsftpd that requires explicit TLS (``AUTH TLS``, ``PROT P``)."""
    try:
        with VsftpdPeer.started(peers_base / "ftps", tls=True) as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def ftp_peer(peers_base: Path) -> Iterator[VsftpdPeer]:
    """A running vsftpd speaking plain FTP."""
    try:
        with VsftpdPeer.started(peers_base / "ftp", tls=False) as peer:
            yield peer
    except PeerUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pyftpd_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyftpdPeer]:
    """pyftpdlib serving a private folder: the FTP peer with MLSD/MLST."""
    with PyftpdPeer.started(tmp_path_factory.mktemp("pyftpd")) as peer:
        yield peer


@pytest.fixture
def peer_dir(peers_base: Path, peer_user: PeerUser) -> Path:
    """A fresh empty folder owned by the peers' user (remote path: ``str(peer_dir)``)."""
    path = Path(tempfile.mkdtemp(dir=peers_base / "data"))
    path.chmod(0o755)
    os.chown(path, peer_user.uid, peer_user.gid)
    return path


def make_read_only(path: Path) -> None:
    """Make ``path`` a folder the peers' user cannot write into (owned by root, 0555)."""
    path.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
    path.chmod(0o555)
