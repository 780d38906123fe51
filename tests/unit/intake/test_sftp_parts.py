"""The SFTP adapter's parts without a network: error mapping, idle timer, login policy."""

from __future__ import annotations

import asyncio
import errno
from types import SimpleNamespace
from typing import Any

import asyncssh
import pytest

from ftpush.errors import (
    ChecksumMismatch,
    Conflict,
    FileTooLarge,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from ftpush.intake.access import AccessDenied
from ftpush.intake.sftp_auth import SftpHub, SshLogin
from ftpush.intake.sftp_errors import sftp_error
from ftpush.intake.sftp_session import IdleWatch


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (NotFound("no such file: /x.csv"), asyncssh.SFTPNoSuchFile, "no such file: /x.csv"),
        (PermissionDenied("write is not allowed"), asyncssh.SFTPPermissionDenied, None),
        (AccessDenied("banned"), asyncssh.SFTPPermissionDenied, "access denied"),
        (Conflict("/x.csv already exists"), asyncssh.SFTPFileAlreadyExists, None),
        (FileTooLarge("files are limited to 10 bytes"), asyncssh.SFTPQuotaExceeded, None),
        (InvalidInput("bad name", field="name"), asyncssh.SFTPInvalidFilename, None),
        (InvalidInput("bad flag"), asyncssh.SFTPInvalidParameter, None),
        (ChecksumMismatch("differs"), asyncssh.SFTPFailure, "differs"),
        (OSError(errno.ENOSPC, "No space", "/srv/data/x"), asyncssh.SFTPNoSpaceOnFilesystem, None),
        (
            OSError(errno.ELOOP, "Too many links", "/srv/data/x"),
            asyncssh.SFTPPermissionDenied,
            None,
        ),
        (OSError(errno.EIO, "I/O error", "/srv/data/x"), asyncssh.SFTPFailure, "server error"),
        (RuntimeError("boom /srv/data"), asyncssh.SFTPFailure, "server error"),
    ],
)
def test_core_errors_become_sftp_statuses(
    error: BaseException, status: type[asyncssh.SFTPError], reason: str | None
) -> None:
    mapped = sftp_error(error)
    assert type(mapped) is status
    assert "/srv/data" not in mapped.reason  # real paths never reach the client
    if reason is not None:
        assert mapped.reason == reason


def test_the_idle_watch_fires_only_after_a_quiet_period() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        start = loop.time()
        watch = IdleWatch(0.2, lambda: fired.append(loop.time() - start))
        for _ in range(3):  # activity keeps it quiet
            await asyncio.sleep(0.1)
            watch.enter()
            watch.leave()
        watch.enter()  # a long request is not idleness
        await asyncio.sleep(0.35)
        assert fired == []
        watch.leave()
        await asyncio.sleep(0.35)
        watch.cancel()
        return fired

    [when] = asyncio.run(scenario())
    assert 0.8 < when < 1.2


def test_a_cancelled_idle_watch_never_fires() -> None:
    async def scenario() -> list[int]:
        fired: list[int] = []
        watch = IdleWatch(0.05, lambda: fired.append(1))
        watch.cancel()
        await asyncio.sleep(0.15)
        return fired

    assert asyncio.run(scenario()) == []


# --- the login policy, with a gate and a connection that only record -------------------

ALICE_KEY = "SHA256:alice"


class FakeBans:
    def __init__(self) -> None:
        self.banned: set[str] = set()

    def is_banned(self, address: str) -> bool:
        return address in self.banned


class FakeGate:
    def __init__(self, *, refuse_connection: bool = False) -> None:
        self.refuse_connection = refuse_connection
        self.bans = FakeBans()
        self.failures: list[str] = []
        self.open = 0

    def connection_opened(self, address: str) -> None:
        if self.refuse_connection:
            raise AccessDenied("address is in no account's allowlist")
        self.open += 1

    def connection_closed(self, address: str) -> None:
        self.open -= 1

    def authorised_key_fingerprints(self, username: str, address: str) -> set[str]:
        return {ALICE_KEY} if username == "alice" else set()

    def authenticate_key(self, username: str, fingerprint: str, address: str, protocol: str) -> Any:
        return SimpleNamespace(username=username)

    def authenticate_password(
        self, username: str, password: str, address: str, protocol: str
    ) -> Any:
        self.failures.append("wrong password")
        raise AccessDenied("wrong password")

    def record_failure(self, username: str | None, address: str, reason: str) -> None:
        self.failures.append(reason)


class FakeSpool:
    def session(self, principal: Any) -> Any:
        return SimpleNamespace(principal=principal)


class FakeConn:
    def __init__(self) -> None:
        self.closed = False
        self.username = "alice"

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "username": self.username}.get(name, default)

    def close(self) -> None:
        self.closed = True


class FakeKey:
    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint

    def get_fingerprint(self, hash_name: str = "sha256") -> str:
        return self.fingerprint


def login_of(gate: FakeGate) -> tuple[SshLogin, FakeConn, SftpHub]:
    hub = SftpHub(gate=gate, spool=FakeSpool(), login_timeout=30, idle_timeout=60)
    login, conn = SshLogin(hub), FakeConn()
    login.connection_made(conn)
    return login, conn, hub


def test_unknown_keys_are_negotiation_not_failures() -> None:
    async def scenario() -> FakeGate:
        gate = FakeGate()
        login, _, _ = login_of(gate)
        assert await login.begin_auth("alice")
        for n in range(3):
            assert not await login.validate_public_key("alice", FakeKey(f"SHA256:other{n}"))
        assert await login.validate_public_key("alice", FakeKey(ALICE_KEY))
        assert await login.validate_public_key("alice", FakeKey(ALICE_KEY))
        login.auth_completed()
        assert login.session is not None
        login.connection_lost(None)
        return gate

    gate = asyncio.run(scenario())
    assert gate.failures == []
    assert gate.open == 0


def test_an_accepted_key_that_never_logs_in_counts_once() -> None:
    async def scenario() -> FakeGate:
        gate = FakeGate()
        login, _, _ = login_of(gate)
        await login.begin_auth("alice")
        assert await login.validate_public_key("alice", FakeKey(ALICE_KEY))
        login.connection_lost(None)  # the signature never came (or did not verify)
        return gate

    assert asyncio.run(scenario()).failures == ["key accepted but its signature never verified"]


def test_a_refused_address_is_closed_and_never_judged() -> None:
    async def scenario() -> tuple[FakeGate, FakeConn, bool]:
        gate = FakeGate(refuse_connection=True)
        login, conn, hub = login_of(gate)
        assert await login.begin_auth("alice")  # never False: that would skip authentication
        accepted = await login.validate_password("alice", "secret")
        login.connection_lost(None)
        assert hub.logins == set()
        return gate, conn, accepted

    gate, conn, accepted = asyncio.run(scenario())
    assert (accepted, conn.closed, gate.failures, gate.open) == (False, True, [], 0)


def test_a_banned_address_is_disconnected_after_its_failure() -> None:
    async def scenario() -> FakeConn:
        gate = FakeGate()
        login, conn, _ = login_of(gate)
        await login.begin_auth("alice")
        gate.bans.banned.add("127.0.0.1")
        assert not await login.validate_password("alice", "wrong")
        login.connection_lost(None)
        return conn

    assert asyncio.run(scenario()).closed
