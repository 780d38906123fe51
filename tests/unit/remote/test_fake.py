"""The fake server's own knobs (its behaviour as a client is in the contract suite)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ftpush.errors import InvalidInput, RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote import deliver, fingerprint, generate_key_pair, probe, public_key_of
from ftpush.remote.base import RemoteClient, RemoteTarget
from ftpush.remote.fake import FAKE_CERT, FAKE_HOST_KEY, FakeServer


@pytest.fixture
def server(tmp_path: Path) -> FakeServer:
    return FakeServer(tmp_path / "remote")


def session(
    server: FakeServer,
    body: Callable[[RemoteClient], Awaitable[Any]],
    target: RemoteTarget | None = None,
) -> Any:
    async def main() -> Any:
        async with server.connect(target or server.target()) as client:
            return await body(client)

    return asyncio.run(main())


def error_of(
    server: FakeServer, body: Callable[[RemoteClient], Awaitable[Any]], **kw: Any
) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        session(server, body, **kw)
    return info.value


def nothing(_client: RemoteClient) -> Awaitable[None]:
    return asyncio.sleep(0)


def test_targets_for_each_protocol_log_in(server: FakeServer) -> None:
    for protocol in RemoteProtocol:
        target = server.target(protocol, "/")
        assert (target.host_key_fingerprint is not None) == (protocol is RemoteProtocol.SFTP)
        assert (target.tls_cert_fingerprint is not None) == (protocol is RemoteProtocol.FTPS)
        session(server, nothing, target=target)
    assert server.calls == [("connect", "/")] * 3
    assert server.sessions == 0


def test_identity_and_credentials_are_checked(server: FakeServer) -> None:
    cases = {
        "dns": dataclasses.replace(server.target(), host="other.example"),
        "auth": dataclasses.replace(server.target(), password="nope"),
        "host_key": dataclasses.replace(server.target(), host_key_fingerprint="SHA256:" + "Z" * 43),
    }
    for stage, target in cases.items():
        assert error_of(server, nothing, target=target).stage == stage
    unpinned = dataclasses.replace(server.target(), host_key_fingerprint=None)
    err = error_of(server, nothing, target=unpinned)
    assert (err.stage, FAKE_HOST_KEY in err.message) == ("host_key", True)
    ftps = dataclasses.replace(server.target(RemoteProtocol.FTPS), tls_cert_fingerprint="00" * 32)
    err = error_of(server, nothing, target=ftps)
    assert (err.stage, FAKE_CERT in err.message) == ("host_key", True)
    server.down = True
    assert error_of(server, nothing).stage == "tcp"


def test_key_login(tmp_path: Path) -> None:
    private, public = generate_key_pair()
    server = FakeServer(tmp_path / "r", password=None, authorized_keys=(public,))
    good = RemoteTarget(
        RemoteProtocol.SFTP,
        server.host,
        username=server.username,
        private_key=private,
        host_key_fingerprint=FAKE_HOST_KEY,
    )
    session(server, nothing, target=good)
    other = dataclasses.replace(good, private_key=generate_key_pair()[0])
    assert error_of(server, nothing, target=other).stage == "auth"
    garbage = dataclasses.replace(good, private_key="-----BEGIN nothing")
    assert error_of(server, nothing, target=garbage).stage == "auth"


def test_port_is_checked_when_set(tmp_path: Path) -> None:
    server = FakeServer(tmp_path / "r", port=2222)
    session(server, nothing)
    wrong = dataclasses.replace(server.target(), port=22)
    assert error_of(server, nothing, target=wrong).stage == "tcp"


def test_injected_failures_count_down(server: FakeServer) -> None:
    server.fail("list", "permission", times=2)
    for _ in range(2):
        assert error_of(server, lambda c: c.list("/")).stage == "permission"
    assert session(server, lambda c: c.list("/")) == []
    server.fail("connect", "tcp")
    assert error_of(server, nothing).stage == "tcp"
    session(server, nothing)


def test_space_left_and_truncation(server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "ten").write_bytes(b"0123456789")
    server.space_left = 15
    session(server, lambda c: c.upload(tmp_path / "ten", "/a"))
    err = error_of(server, lambda c: c.upload(tmp_path / "ten", "/b"))
    assert (err.stage, "no space" in err.message) == ("transfer", True)
    assert server.space_left == 5
    assert not server.local("/b").exists()
    server.space_left = None
    server.truncate_uploads(by=3)
    session(server, lambda c: c.upload(tmp_path / "ten", "/c"))
    assert server.local("/c").read_bytes() == b"0123456"


def test_deliver_and_probe_on_the_fake(server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "r").write_bytes(b"rows")
    server.truncate_uploads(by=1)
    assert error_of(server, lambda c: deliver(c, tmp_path / "r", "/", "final")).stage == "transfer"
    assert sorted(p.name for p in server.root.iterdir()) == []
    receipt = session(server, lambda c: deliver(c, tmp_path / "r", "/", "final"))
    assert (receipt.remote_path, receipt.size) == ("/final", 4)
    server.read_only("/")
    assert error_of(server, lambda c: probe(c, "/")).stage == "permission"
    err = error_of(server, lambda c: deliver(c, tmp_path / "missing", "/", "x"))
    assert err.stage == "transfer"
    err = error_of(server, lambda c: deliver(c, tmp_path / "r", "/", "../escape"))
    assert err.stage == "transfer"


def test_paths_cannot_leave_the_root(server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    session(server, lambda c: c.upload(tmp_path / "f", "/../../outside"))
    assert server.local("/outside").read_bytes() == b"x"
    assert not (tmp_path / "outside").exists()
    assert server.local("a/../b") == server.root / "b"


def test_closed_sessions_refuse_operations(server: FakeServer) -> None:
    client = server.connect(server.target())
    with pytest.raises(RemoteError):
        asyncio.run(client.list("/"))


def test_keys_helpers() -> None:
    private, public = generate_key_pair("ftpush demo")
    assert public.startswith("ssh-ed25519 ")
    assert public.endswith(" ftpush demo")
    assert "OPENSSH PRIVATE KEY" in private
    assert public_key_of(private) == public
    assert fingerprint(public).startswith("SHA256:")
    with pytest.raises(InvalidInput):
        public_key_of("not a key")
    with pytest.raises(InvalidInput):
        fingerprint("ssh-ed25519")
