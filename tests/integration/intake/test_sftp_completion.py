"""When an SFTP upload counts, driven by asyncssh's client where OpenSSH cannot be that precise.

The OpenSSH tests in ``test_sftp.py`` kill real clients; these pin the exact
protocol events: the client's CLOSE (complete), a clean end of the SFTP
session with a handle still open (incomplete: the case asyncssh's public API
cannot tell from a CLOSE, see ``ftpush.intake.sftp_session``), a dropped
connection, an idle timeout and a server stop. If asyncssh changed how it
closes handles, these fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import inspect
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from asyncssh.constants import FXF_WRITE, FXP_CLOSE
from asyncssh.sftp import SFTPServerHandler

from ftpush.intake import sftp_auth, sftp_files, sftp_uploads
from ftpush.intake.sftp_session import CompletionTrackingHandler
from ftpush.models import ImportStatus
from tests.integration.intake.conftest import Account, Intake, make_settings
from tests.integration.intake.test_sftp import CONTENT, SftpServer, running_sftp, wait_for


@pytest.fixture
def server(intake: Intake) -> Iterator[SftpServer]:
    with running_sftp(intake) as running:
        yield running


@pytest.fixture
def alice(intake: Intake) -> Account:
    return intake.accounts["alice"]


async def connect(
    server: SftpServer, account: Account, keys: list[str] | None = None
) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1",
        server.port,
        username=account.username,
        client_keys=keys or [str(account.key_file)],
        known_hosts=None,
        agent_path=None,
        config=None,
        preferred_auth="publickey",
    )


def test_asyncssh_still_closes_handles_the_way_we_tell_apart() -> None:
    # The two paths of asyncssh 2.24 that call SFTPServer.close(): a client CLOSE
    # dispatched through the class table, and _cleanup over the open handles.
    assert SFTPServerHandler._packet_handlers[FXP_CLOSE] is SFTPServerHandler._process_close
    assert "self._server.close(file_obj)" in inspect.getsource(SFTPServerHandler._cleanup)
    assert "self._file_handles.pop(handle" in inspect.getsource(SFTPServerHandler._process_close)
    # Our override is the one asyncssh will dispatch to.
    table = CompletionTrackingHandler._packet_handlers
    assert table[FXP_CLOSE] is CompletionTrackingHandler.__dict__["_process_close"]
    assert b"copy-data" not in table
    assert b"hardlink@openssh.com" not in dict(CompletionTrackingHandler._extensions)


def test_a_client_close_takes_the_file_before_the_reply(server: SftpServer, alice: Account) -> None:
    box = server.intake.dropbox("alpha")

    async def upload() -> bool:
        async with await connect(server, alice) as conn, conn.start_sftp_client() as sftp:
            async with sftp.open("/push.csv", "wb") as remote:
                await remote.write(CONTENT)
                assert (await remote.stat()).size == len(CONTENT)  # queued writes count
                await remote.fsync()
                assert (box / "push.csv").read_bytes() == CONTENT
            # The reply to CLOSE came back: the file must already be in the spool.
            return (box / "push.csv").exists()

    assert server.call(upload()) is False
    [row] = server.rows()
    assert (row.status, row.sha256) == (ImportStatus.RECEIVED, hashlib.sha256(CONTENT).hexdigest())
    assert server.intake.received == [row.id]


def test_a_clean_session_end_with_a_handle_open_is_incomplete(
    server: SftpServer, alice: Account
) -> None:
    async def upload_without_close() -> None:
        async with await connect(server, alice) as conn:
            sftp = await conn.start_sftp_client()
            remote = await sftp.open("/push.csv", "wb")
            await remote.write(CONTENT)
            # End the SFTP channel cleanly without closing the handle: asyncssh's
            # server cleanup closes it, which must not count as the client's CLOSE.
            sftp.exit()
            await sftp.wait_closed()

    server.call(upload_without_close())
    result_file = server.intake.dropbox("alpha") / "results" / "push.csv.result.json"
    wait_for(result_file.exists)
    assert server.result("push.csv")["status"] == "incomplete"
    [row] = server.rows()
    assert row.status is ImportStatus.INCOMPLETE
    assert row.sha256 == hashlib.sha256(CONTENT).hexdigest()  # what had arrived, for audit
    assert server.intake.received == []
    assert not (server.intake.dropbox("alpha") / "push.csv").exists()


def test_a_dropped_connection_with_a_handle_open_is_incomplete(
    server: SftpServer, alice: Account
) -> None:
    async def upload_then_drop() -> None:
        conn = await connect(server, alice)
        sftp = await conn.start_sftp_client()
        remote = await sftp.open("/Profile/users.txt", "wb")
        await remote.write(b"~~~extID~email~device token\n")
        conn.abort()
        await conn.wait_closed()

    server.call(upload_then_drop())
    wait_for((server.intake.dropbox("alpha") / "results" / "users.txt.result.json").exists)
    assert server.result("users.txt")["status"] == "incomplete"
    assert server.intake.received == []


def test_an_upload_open_when_the_server_stops_is_incomplete(
    server: SftpServer, alice: Account
) -> None:
    async def upload_then_stop() -> None:
        conn = await connect(server, alice)
        sftp = await conn.start_sftp_client()
        remote = await sftp.open("/push.csv", "wb")
        await remote.write(CONTENT)
        await server.service.stop()
        await conn.wait_closed()

    server.call(upload_then_stop())
    # stop() returns only once open uploads were discarded.
    assert server.result("push.csv")["status"] == "incomplete"
    assert server.service.sessions == 0
    assert server.intake.gate.sessions_from("127.0.0.1") == 0


def test_idle_sessions_are_closed_and_their_uploads_discarded(
    intake: Intake, alice: Account, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, idle_timeout_seconds=1)
    with running_sftp(intake, settings) as server:

        async def go_idle() -> bool:
            conn = await connect(server, alice)
            sftp = await conn.start_sftp_client()
            remote = await sftp.open("/push.csv", "wb")
            await remote.write(CONTENT)
            try:
                await asyncio.wait_for(conn.wait_closed(), timeout=10)
            finally:
                conn.close()
            return True

        assert server.call(go_idle())
        wait_for((intake.dropbox("alpha") / "results" / "push.csv.result.json").exists)
        assert server.result("push.csv")["status"] == "incomplete"


# (path, open mode, the error the client must get)
REFUSED_OPENS: list[tuple[str, str | int, type[asyncssh.SFTPError]]] = [
    ("/push.csv", "r+b", asyncssh.SFTPPermissionDenied),  # read and write at once
    ("/push.csv", "ab", asyncssh.SFTPPermissionDenied),  # append
    ("/results/x.csv", "wb", asyncssh.SFTPPermissionDenied),  # system folder
    ("/push.csv", "rb", asyncssh.SFTPPermissionDenied),  # download from an upload folder
    ("/nowhere/push.csv", "wb", asyncssh.SFTPNoSuchFile),
    ("/bad\x01name.csv", "wb", asyncssh.SFTPFailure),  # control character
    ("/waiting.csv.part", "xb", asyncssh.SFTPFailure),  # exclusive create, file exists
    ("/waiting.csv.part", FXF_WRITE, asyncssh.SFTPPermissionDenied),  # resume
]


def test_open_refuses_what_could_not_be_a_whole_upload(server: SftpServer, alice: Account) -> None:
    async def try_opens() -> list[str]:
        wrong = []
        async with await connect(server, alice) as conn, conn.start_sftp_client() as sftp:
            async with sftp.open("/waiting.csv.part", "wb") as remote:
                await remote.write(CONTENT)
            for path, mode, error in REFUSED_OPENS:
                try:
                    await sftp.open(path, mode)
                    wrong.append(f"{path} {mode!r} opened")
                except asyncssh.SFTPError as exc:
                    if not isinstance(exc, error):
                        wrong.append(f"{path} {mode!r}: {exc!r}")
        return wrong

    assert server.call(try_opens()) == []
    assert server.rows() == []
    assert (server.intake.dropbox("alpha") / "waiting.csv.part").read_bytes() == CONTENT


def test_offered_keys_the_account_does_not_know_are_not_failures(
    server: SftpServer, alice: Account, tmp_path: Path
) -> None:
    strangers = []
    for n in range(3):
        key = asyncssh.generate_private_key("ssh-ed25519")
        path = tmp_path / f"stranger{n}"
        key.write_private_key(path)
        strangers.append(str(path))

    async def login(keys: list[str]) -> bool:
        try:
            async with await connect(server, alice, keys) as conn, conn.start_sftp_client() as sftp:
                return await sftp.realpath(".") == "/"
        except asyncssh.PermissionDenied:
            return False

    assert server.call(login([*strangers, str(alice.key_file)])) is True
    assert server.call(login(strangers)) is False
    assert server.intake.gate.failed_logins == 0


def test_nothing_but_sftp_is_served(server: SftpServer, alice: Account) -> None:
    async def everything_else() -> list[str]:
        refused = []
        async with await connect(server, alice) as conn:
            for command in ("ls /", "scp -t /push.csv", None):
                try:
                    await conn.run(command, check=True, timeout=5)
                except (asyncssh.ChannelOpenError, asyncssh.ProcessError):
                    refused.append(str(command))
            try:
                await conn.run(subsystem="shell", timeout=5)
            except (asyncssh.ChannelOpenError, asyncssh.ProcessError):
                refused.append("subsystem")
            try:
                await conn.open_connection("127.0.0.1", server.port)
            except asyncssh.ChannelOpenError:
                refused.append("forward")
            try:
                await conn.start_server(lambda: None, "127.0.0.1", 0)
            except asyncssh.ChannelListenError:
                refused.append("listen")
        return refused

    assert server.call(everything_else()) == [
        "ls /",
        "scp -t /push.csv",
        "None",
        "subsystem",
        "forward",
        "listen",
    ]
    assert not (server.intake.dropbox("alpha") / "push.csv").exists()


def test_keyboard_interactive_is_not_offered(server: SftpServer, alice: Account) -> None:
    async def kbdint() -> None:
        await asyncssh.connect(
            "127.0.0.1",
            server.port,
            username="alice",
            password=alice.password,
            preferred_auth="keyboard-interactive",
            known_hosts=None,
            agent_path=None,
            client_keys=None,
            config=None,
        )

    with pytest.raises(asyncssh.PermissionDenied):
        server.call(kbdint())
    assert server.intake.gate.failed_logins == 0


def test_a_write_that_fails_on_disk_fails_the_upload(
    server: SftpServer, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int, batch: list[tuple[bytes, int]]) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sftp_uploads, "_pwrite_all", disk_full)

    async def upload() -> str:
        async with await connect(server, alice) as conn, conn.start_sftp_client() as sftp:
            remote = await sftp.open("/push.csv", "wb")
            with contextlib.suppress(asyncssh.SFTPError):
                await remote.write(CONTENT)  # queued; may or may not see the failure yet
            with pytest.raises(asyncssh.SFTPError) as refused:
                await remote.close()
            return str(refused.value.reason)

    assert "disk is full" in server.call(upload())
    assert server.result("push.csv")["status"] == "incomplete"
    assert server.intake.received == []
    assert not (server.intake.dropbox("alpha") / "push.csv").exists()


def test_one_connection_cannot_hoard_channels_or_files(server: SftpServer, alice: Account) -> None:
    async def hoard() -> tuple[int, str]:
        async with await connect(server, alice) as conn:
            clients = [
                await conn.start_sftp_client() for _ in range(sftp_auth.MAX_CHANNELS_PER_CONNECTION)
            ]
            opened = len(clients)
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.start_sftp_client()
            clients[0].exit()
            await clients[0].wait_closed()
            clients[0] = await conn.start_sftp_client()  # a closed channel frees its place
            sftp = clients[0]
            files = [
                await sftp.open(f"/f{n}.csv.part", "wb") for n in range(sftp_files.MAX_OPEN_FILES)
            ]
            with pytest.raises(asyncssh.SFTPFailure) as refused:
                await sftp.open("/one-too-many.csv.part", "wb")
            await files.pop().close()
            files.append(await sftp.open("/one-more.csv.part", "wb"))
            for client in clients:
                client.exit()
            return opened, str(refused.value.reason)

    opened, reason = server.call(hoard())
    assert opened == sftp_auth.MAX_CHANNELS_PER_CONNECTION
    assert reason == f"at most {sftp_files.MAX_OPEN_FILES} files may be open at once"
