"""The remote-client implementations the contract suite runs against, behind one harness.

Each ``impl`` is a logged-in-able target, a fresh writable folder, and a way to
look at and arrange the server's files directly (all peers serve the local
filesystem, the fake serves a folder), so the suite can check what really landed.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ftpush.models import RemoteProtocol
from ftpush.remote.base import ClientFactory, RemoteClient, RemoteTarget, open_client
from ftpush.remote.fake import FakeServer
from ftpush.remote.keys import generate_key_pair
from tests.peers.fixtures import make_read_only
from tests.peers.pyftpd import PyftpdPeer

IMPLS = ["fake", "sftp-key", "sftp-password", "ftps", "ftp", "ftp-mlsd"]
TIMEOUT = 10.0


@dataclass
class Impl:
    """One implementation under test, with direct access to the server's files."""

    name: str
    target: RemoteTarget
    workdir: str  # remote path of an empty writable folder
    local_root: Path  # the local folder behind ``workdir``
    factory: ClientFactory = open_client
    read_only: Callable[[Path], None] = make_read_only

    def open(self, target: RemoteTarget | None = None, timeout: float = TIMEOUT) -> RemoteClient:
        return self.factory(target or self.target, timeout=timeout)

    def remote(self, *parts: str) -> str:
        return "/".join([self.workdir, *parts])

    def local(self, *parts: str) -> Path:
        return self.local_root.joinpath(*parts)

    def with_(self, **changes: object) -> RemoteTarget:
        return dataclasses.replace(self.target, **changes)  # type: ignore[arg-type]

    @property
    def protocol(self) -> RemoteProtocol:
        return self.target.protocol

    @property
    def uses_password(self) -> bool:
        return self.target.password is not None


def _fake(tmp_path: Path) -> Impl:
    _private, public = generate_key_pair("contract")
    server = FakeServer(tmp_path / "fake-server", port=2222, authorized_keys=(public,))
    (server.root / "work").mkdir()

    def read_only(path: Path) -> None:
        path.mkdir(exist_ok=True)
        server.read_only("/" + str(path.relative_to(server.root)))

    impl = Impl("fake", server.target(RemoteProtocol.SFTP), "/work", server.root / "work")
    impl.factory = server.connect
    impl.read_only = read_only
    return impl


def _pyftpd(peer: PyftpdPeer) -> Impl:
    folder = Path(tempfile.mkdtemp(dir=peer.root))
    impl = Impl("ftp-mlsd", peer.target(), f"/{folder.name}", folder)
    impl.read_only = peer.read_only
    return impl


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest, tmp_path: Path) -> Impl:
    """Every implementation in turn (the real ones against real servers on loopback)."""
    name = request.param
    if name == "fake":
        return _fake(tmp_path)
    if name == "ftp-mlsd":
        return _pyftpd(request.getfixturevalue("pyftpd_peer"))
    folder: Path = request.getfixturevalue("peer_dir")
    if name.startswith("sftp"):
        peer = request.getfixturevalue("sshd_peer")
        if name == "sftp-password" and peer.user.password is None:
            pytest.skip("password login needs root to create the test user")
        target = peer.target(str(folder), auth=name.removeprefix("sftp-"))
    else:
        peer = request.getfixturevalue("ftps_peer" if name == "ftps" else "ftp_peer")
        target = peer.target(str(folder))
    return Impl(name, target, str(folder), folder)


def silent_server() -> tuple[int, Callable[[], None]]:
    """A port that accepts connections and never says a word (for timeouts)."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return int(sock.getsockname()[1]), sock.close


def chown_to(path: Path, like: Path) -> None:
    st = like.stat()
    os.chown(path, st.st_uid, st.st_gid)
