"""The SSH connection under the SFTP server: asyncssh's, minus its per-packet overheads.

Pins what ``ftpush.intake.sftp_transport`` changes (decision 0301): the empty
IGNORE packet asyncssh puts before each packet is left out under AEAD ciphers
only, and uploads stay byte-exact whatever the cipher.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterator

import asyncssh
import pytest
from asyncssh.connection import SSHConnection
from asyncssh.constants import MSG_IGNORE
from asyncssh.packet import SSHPacket

from ftpush.intake.sftp_transport import FtpushServerConnection
from ftpush.models import ImportStatus
from tests.integration.intake.conftest import Account, Intake
from tests.integration.intake.test_sftp import SftpServer, running_sftp


@pytest.fixture
def server(intake: Intake) -> Iterator[SftpServer]:
    with running_sftp(intake) as running:
        yield running


def test_asyncssh_still_works_the_way_the_connection_relies_on() -> None:
    # The IGNORE before each packet, and the input buffer consumed by slicing.
    send = inspect.getsource(SSHConnection.send_packet)
    assert "self.send_packet(MSG_IGNORE, String(b''))" in send
    assert "self._inpbuf = self._inpbuf[rem:]" in inspect.getsource(SSHConnection._recv_packet)
    assert "self._inpbuf += data" in inspect.getsource(SSHConnection.data_received)
    assert issubclass(FtpushServerConnection, asyncssh.SSHServerConnection)


@pytest.mark.parametrize(
    ("cipher", "ignores"),
    [
        ("aes128-gcm@openssh.com", False),
        ("aes256-gcm@openssh.com", False),
        ("chacha20-poly1305@openssh.com", False),
        ("aes128-ctr", True),  # not AEAD: asyncssh's behaviour, unchanged
    ],
)
def test_ignore_packets_only_where_they_counter_something(
    server: SftpServer, intake: Intake, monkeypatch: pytest.MonkeyPatch, cipher: str, ignores: bool
) -> None:
    alice: Account = intake.accounts["alice"]
    seen: list[bool] = []
    original = SSHConnection._packet_handlers[MSG_IGNORE]

    def count_ignore(conn: SSHConnection, pkttype: int, pktid: int, packet: SSHPacket) -> None:
        if conn.is_client():
            seen.append(True)
        original(conn, pkttype, pktid, packet)

    monkeypatch.setitem(SSHConnection._packet_handlers, MSG_IGNORE, count_ignore)
    content = b"ExternalID;Text;Deeplink\n" + os.urandom(300_000).hex().encode() + b"\n"

    async def upload() -> str:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                server.port,
                username=alice.username,
                client_keys=[str(alice.key_file)],
                known_hosts=None,
                agent_path=None,
                config=None,
                encryption_algs=[cipher],
                mac_algs=["hmac-sha2-256-etm@openssh.com"],
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            async with sftp.open("/push.csv", "wb") as remote:
                await remote.write(content)
            return str(conn.get_extra_info("send_cipher"))

    assert server.call(upload()) == cipher
    [row] = server.rows()
    assert (row.status, row.sha256) == (ImportStatus.RECEIVED, hashlib.sha256(content).hexdigest())
    assert bool(seen) is ignores


def test_a_signal_or_break_mid_upload_changes_nothing(server: SftpServer, intake: Intake) -> None:
    # asyncssh's stream reader would raise them in the SFTP task and kill it
    # without its cleanup; our input ignores them and the upload goes on.
    alice: Account = intake.accounts["alice"]
    content = b"ExternalID;Text;Deeplink\n" + b"1;x;y\n" * 50_000

    async def upload() -> None:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                server.port,
                username=alice.username,
                client_keys=[str(alice.key_file)],
                known_hosts=None,
                agent_path=None,
                config=None,
            ) as conn,
            conn.start_sftp_client() as sftp,
        ):
            channel = sftp._handler._writer.channel  # type: ignore[attr-defined]
            async with sftp.open("/push.csv", "wb") as remote:
                await remote.write(content[:100_000])
                channel.send_signal("INT")
                channel.send_break(10)
                await remote.write(content[100_000:], 100_000)

    server.call(upload())
    [row] = server.rows()
    assert (row.status, row.sha256) == (ImportStatus.RECEIVED, hashlib.sha256(content).hexdigest())
