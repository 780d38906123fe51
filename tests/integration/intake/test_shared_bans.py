"""One gatekeeper for both protocols: failures over FTPS ban the address over SFTP too."""

from __future__ import annotations

import asyncio
import ftplib
import ssl
from pathlib import Path

import asyncssh
import pytest

from ftpush.datadir import prepare
from ftpush.intake.access import Gatekeeper
from ftpush.intake.ftp import FtpService
from ftpush.intake.sftp import SftpService
from ftpush.intake.spool import Spool
from ftpush.storage import Database, accounts, apps
from tests.integration.intake.conftest import make_settings


def test_a_ban_earned_over_ftps_closes_sftp(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        ban_failures=10,  # the 50-attempt rule is tested per protocol; here: sharing
    ).model_copy(
        update={
            "sftp": make_settings(tmp_path).sftp.model_copy(update={"port": 0}),
            "ftp": make_settings(tmp_path).ftp.model_copy(
                update={"port": 0, "passive_ports": (31200, 31220)}
            ),
        }
    )
    info = prepare(settings)
    db = Database.open(settings)
    with db.transaction() as s:
        apps.create_app(s, key="alpha")
        _, password = accounts.add_account(
            s, app_key="alpha", username="alice", cidrs=["127.0.0.1", "127.0.0.2"]
        )
    spool = Spool(settings, db)
    gate = Gatekeeper(db, settings)
    sftp = SftpService(settings, gate, spool, info.ssh_host_key)
    ftp = FtpService(settings, gate, spool, info.tls_cert, info.tls_key, auth_failure_delay=0)

    def ftps_login(pw: str, source: str = "127.0.0.1") -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client = ftplib.FTP_TLS(context=context, timeout=10)
        try:
            client.connect("127.0.0.1", ftp.port, source_address=(source, 0))
            client.login("alice", pw)
        finally:
            client.close()

    async def sftp_login(source: str) -> None:
        async with asyncssh.connect(
            "127.0.0.1",
            sftp.port,
            username="alice",
            password=password,
            known_hosts=None,
            local_addr=(source, 0),
            client_keys=None,
            agent_path=None,
        ):
            pass

    async def scenario() -> None:
        await sftp.start()
        await ftp.start()
        try:
            for _ in range(10):
                with pytest.raises(ftplib.error_perm):
                    await asyncio.to_thread(ftps_login, "not-the-password")
            assert gate.bans.is_banned("127.0.0.1")
            with pytest.raises((asyncssh.Error, OSError)):
                await sftp_login("127.0.0.1")  # refused over the other protocol too
            with pytest.raises((ftplib.Error, OSError, EOFError)):
                await asyncio.to_thread(ftps_login, password)  # even the right password
            await sftp_login("127.0.0.2")  # a neighbour is not punished
        finally:
            await ftp.stop()
            await sftp.stop()

    try:
        asyncio.run(scenario())
    finally:
        spool.close()
        db.close()
