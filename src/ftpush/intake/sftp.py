"""The SFTP server of ``ftpush serve``: asyncssh, thin over the intake core.

Each SSH connection gets an :class:`~ftpush.intake.sftp_auth.SshLogin` (admission,
password and public-key login, login and idle timers); a logged-in connection
may open the ``sftp`` subsystem only
(:class:`~ftpush.intake.sftp_session.SftpOnlySession`), whose requests a
:class:`~ftpush.intake.sftp_files.DropboxSftpServer` hands to the account's
:class:`~ftpush.intake.spool.DropboxSession`. The dropbox rules, the ban list and
the spool are shared with the FTP server; nothing here decides what a file
means.

Upload completion: a file counts only when the client sent CLOSE for its
handle (see :mod:`ftpush.intake.sftp_session` and decision 0300); a handle
closed because the session ended is discarded with an ``incomplete`` result.

Example::

    service = SftpService(settings, gate, spool, settings.keys_dir / "ssh_host_ed25519_key")
    await service.start()            # binds settings.sftp.host:port (0 = any free port)
    print(service.endpoints)         # ['sftp://127.0.0.1:2222  (host key SHA256:...)']
    await service.stop()             # closes the listener and every session
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncssh

from ftpush.config import Settings
from ftpush.intake.access import Gatekeeper
from ftpush.intake.sftp_auth import SftpHub, SshLogin
from ftpush.intake.sftp_transport import listen
from ftpush.intake.spool import Spool

log = logging.getLogger("ftpush.intake.sftp")

# SSH channel tuning for throughput. OpenSSH clients send channel data in
# packets of up to the peer's maximum packet size; each packet costs asyncssh a
# decrypt call and some Python, so larger packets (OpenSSH accepts up to 256 KiB)
# and a window deep enough to keep a loopback or LAN pipe full matter more than
# anything in the file path.
CHANNEL_WINDOW = 8 * 1024 * 1024
CHANNEL_MAX_PACKET = 256 * 1024 - 1024
# How often an idle peer is probed, and how many lost probes close it: a peer
# that vanished (network cut) is noticed, and its open uploads are discarded.
KEEPALIVE_SECONDS = 30
KEEPALIVE_COUNT_MAX = 3
# How long stop() waits for sessions to finish their cleanup.
STOP_TIMEOUT_SECONDS = 30.0


class SftpService:
    """The SFTP listener; ``serve`` starts and stops it with the other services."""

    name = "sftp"

    def __init__(
        self, settings: Settings, gate: Gatekeeper, spool: Spool, host_key_path: Path
    ) -> None:
        self._settings = settings
        self._host_key_path = host_key_path
        self.host = settings.sftp.host
        self.port = settings.sftp.port
        self.host_key_fingerprint = ""
        self._hub = SftpHub(
            gate=gate,
            spool=spool,
            login_timeout=settings.intake.login_timeout_seconds,
            idle_timeout=settings.intake.idle_timeout_seconds,
        )
        self._acceptor: asyncssh.SSHAcceptor | None = None

    @property
    def endpoints(self) -> list[str]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return [f"sftp://{host}:{self.port}  (host key {self.host_key_fingerprint})"]

    @property
    def sessions(self) -> int:
        """Open SSH connections (logged in or not)."""
        return len(self._hub.logins)

    async def start(self) -> None:
        """Bind the listener; ``settings.sftp.port`` 0 picks a free port (see ``.port``)."""
        host_key = await asyncio.to_thread(asyncssh.read_private_key, self._host_key_path)
        self.host_key_fingerprint = host_key.get_fingerprint("sha256")
        hub = self._hub
        self._acceptor = await listen(
            self.host,
            self.port,
            server_factory=lambda: SshLogin(hub),
            server_host_keys=[host_key],
            server_version="ftpush",
            # Sessions come from SshLogin.session_requested only: no process,
            # session or sftp factory, so asyncssh offers nothing by itself.
            sftp_factory=None,
            allow_scp=False,
            allow_pty=False,
            agent_forwarding=False,
            x11_forwarding=False,
            kbdint_auth=False,
            host_based_auth=False,
            gss_host=None,
            rdns_lookup=False,
            encoding=None,
            # Our own login timer counts the failure; this is asyncssh's backstop.
            login_timeout=self._settings.intake.login_timeout_seconds + 5,
            keepalive_interval=KEEPALIVE_SECONDS,
            keepalive_count_max=KEEPALIVE_COUNT_MAX,
            window=CHANNEL_WINDOW,
            max_pktsize=CHANNEL_MAX_PACKET,
        )
        self.port = self._acceptor.get_port()
        log.info("SFTP listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening, disconnect every session and wait for their cleanup.

        Uploads still open are discarded as ``incomplete`` before this returns,
        so the spool can be closed right after.
        """
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            acceptor.close()
            await acceptor.wait_closed()
        logins = list(self._hub.logins)
        for login in logins:
            login.close()
        if logins:
            await asyncio.wait(
                [asyncio.ensure_future(login.wait_closed()) for login in logins],
                timeout=STOP_TIMEOUT_SECONDS,
            )
        tasks = list(self._hub.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_SECONDS)
            for task in pending:
                log.warning("an SFTP session did not finish its cleanup in time")
                task.cancel()
