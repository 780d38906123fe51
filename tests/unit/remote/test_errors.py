"""How the real clients translate failures: stages, redaction of secrets, timeouts.

These drive the translation code directly with the exceptions asyncssh and ftplib
raise, including servers that echo a secret back, which the real peers never do.
"""

from __future__ import annotations

import asyncio
import ftplib
import socket
from collections.abc import Callable
from typing import Any

import asyncssh
import pytest

from ftpush.errors import RemoteError
from ftpush.models import RemoteProtocol
from ftpush.remote.base import RemoteTarget
from ftpush.remote.ftp import _Session
from ftpush.remote.keys import generate_key_pair
from ftpush.remote.sftp import SftpClient, _PinnedHostKey

PASSWORD = "s3cret-Passw0rd"
PRIVATE, PUBLIC = generate_key_pair()
KEY_LINE = PRIVATE.splitlines()[2]


def sftp_client(timeout: float = 5.0) -> SftpClient:
    target = RemoteTarget(
        RemoteProtocol.SFTP,
        "h.example",
        username="acme",
        password=PASSWORD,
        private_key=PRIVATE,
        host_key_fingerprint="SHA256:" + "B" * 43,
    )
    return SftpClient(target, timeout=timeout)


def ftp_session() -> _Session:
    target = RemoteTarget(RemoteProtocol.FTPS, "h.example", username="acme", password=PASSWORD)
    session = _Session(target, timeout=5.0)
    session.ftp = ftplib.FTP()  # never connected: the calls below raise before using it
    return session


def assert_clean(err: RemoteError) -> None:
    assert PASSWORD not in err.message
    assert KEY_LINE not in err.message
    assert PASSWORD not in str(err)


# -- SFTP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "stage"),
    [
        (asyncssh.PermissionDenied("denied"), "auth"),
        (asyncssh.HostKeyNotVerifiable("no"), "host_key"),
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (TimeoutError(), "tcp"),
        (ConnectionRefusedError(111, "refused"), "tcp"),
        (OSError(113, "No route to host"), "tcp"),
        (asyncssh.ProtocolError(f"bad packet {PASSWORD}"), "tcp"),
        (asyncssh.ConnectionLost(f"lost {KEY_LINE}"), "tcp"),
        (RuntimeError(f"unexpected {PASSWORD}"), "tcp"),
    ],
)
def test_sftp_connect_errors(exc: Exception, stage: str) -> None:
    checker = _PinnedHostKey("SHA256:" + "B" * 43)
    checker.offered, checker.algorithm = "SHA256:" + "C" * 43, "ssh-ed25519"
    err = sftp_client()._connect_error(exc, [checker])
    assert err.stage == stage
    assert_clean(err)
    if stage == "host_key":
        assert "server offered SHA256:CCCC" in err.message
        assert "(ssh-ed25519)" in err.message
        assert "expected SHA256:BBBB" in err.message
    if stage == "auth":
        assert "'acme'" in err.message
        assert "key and password" in err.message


@pytest.mark.parametrize(
    ("exc", "stage"),
    [
        (asyncssh.SFTPPermissionDenied(f"denied {PASSWORD}"), "permission"),
        (asyncssh.SFTPWriteProtect("read-only"), "permission"),
        (asyncssh.SFTPFailure(f"failure echoing {PASSWORD} and {KEY_LINE}"), "transfer"),
        (asyncssh.SFTPNoSuchFile("missing"), "transfer"),
        (asyncssh.ConnectionLost("gone"), "transfer"),
        (OSError(28, "No space left on device"), "transfer"),
        (TimeoutError(), "transfer"),
    ],
)
def test_sftp_operation_errors(exc: Exception, stage: str) -> None:
    err = sftp_client()._op_error("upload", "/in/x", exc)
    assert err.stage == stage
    assert err.message.startswith("upload /in/x: ")
    assert_clean(err)


def test_sftp_transfer_watchdog_cancels_a_stalled_transfer() -> None:
    client = sftp_client(timeout=0.2)
    started: list[float] = []

    async def stalled(_progress: Callable[..., None]) -> None:
        started.append(1)
        await asyncio.sleep(30)

    with pytest.raises(RemoteError) as info:
        asyncio.run(client._transfer("upload", "/in/x", stalled))
    assert info.value.stage == "transfer"
    assert "no progress for 0.2s" in info.value.message
    assert started == [1]


def test_sftp_transfer_watchdog_lets_a_moving_transfer_run_long() -> None:
    client = sftp_client(timeout=0.2)

    async def moving(progress: Callable[[bytes, bytes, int, int], None]) -> None:
        for i in range(8):  # 0.4 s in all, longer than the timeout, never stalled
            await asyncio.sleep(0.05)
            progress(b"a", b"b", i, 8)

    asyncio.run(client._transfer("upload", "/in/x", moving))


def test_sftp_operation_on_a_closed_client_is_transfer() -> None:
    with pytest.raises(RemoteError) as info:
        asyncio.run(sftp_client().list("/"))
    assert info.value.stage == "transfer"


def test_pinned_host_key_compares_the_sha256() -> None:
    key = asyncssh.import_private_key(PRIVATE)
    right = _PinnedHostKey(key.get_fingerprint("sha256"))
    assert right.validate_host_public_key("h", "1.2.3.4", 22, key)
    wrong = _PinnedHostKey("SHA256:" + "A" * 43)
    assert not wrong.validate_host_public_key("h", "1.2.3.4", 22, key)
    assert wrong.offered == key.get_fingerprint("sha256")
    assert not _PinnedHostKey(None).validate_host_public_key("h", "1.2.3.4", 22, key)


# -- FTP -------------------------------------------------------------------------------


def raising(exc: BaseException) -> Callable[[Any], Any]:
    def call(_ftp: Any) -> Any:
        raise exc

    return call


@pytest.mark.parametrize(
    ("exc", "write", "stage"),
    [
        (ftplib.error_perm(f"530 Login incorrect for {PASSWORD}"), False, "auth"),
        (ftplib.error_perm("553 Could not create file."), True, "permission"),
        (ftplib.error_perm("550 Permission denied."), True, "permission"),
        (ftplib.error_perm("532 Need account for storing files."), True, "permission"),
        (ftplib.error_perm("550 Failed to open file."), False, "transfer"),
        (ftplib.error_perm("500 Unknown command."), True, "transfer"),
        (ftplib.error_temp(f"452 Insufficient storage {PASSWORD}"), True, "transfer"),
    ],
)
def test_ftp_reply_errors(exc: Exception, write: bool, stage: str) -> None:
    session = ftp_session()
    with pytest.raises(RemoteError) as info:
        session.run("upload", "/in/x", raising(exc), write)
    assert info.value.stage == stage
    assert_clean(info.value)
    assert session.broken is None  # a refused command leaves the session usable


@pytest.mark.parametrize(
    "exc", [TimeoutError(), EOFError(), ConnectionResetError(104, "reset"), ftplib.error_proto()]
)
def test_ftp_connection_errors_break_the_session(exc: Exception) -> None:
    session = ftp_session()
    with pytest.raises(RemoteError) as first:
        session.run("download", "/in/x", raising(exc), False)
    assert first.value.stage == "transfer"
    with pytest.raises(RemoteError) as second:
        session.run("list", "/in", lambda _ftp: [], False)
    assert second.value.stage == "transfer"
    assert "earlier download" in second.value.message


def test_ftp_remote_errors_pass_through() -> None:
    original = RemoteError("already translated", stage="permission")
    with pytest.raises(RemoteError) as info:
        ftp_session().run("upload", "/x", raising(original), True)
    assert info.value is original
