"""Who may open an SFTP session: one :class:`SshLogin` per SSH connection.

The rules are the :class:`~ftpush.intake.access.Gatekeeper`'s (shared with
FTPS); this module only places its checks at the right moments of an SSH
connection:

1. **Connect** — ``connection_made`` asks ``gate.connection_opened`` (in a
   thread: it may read the database). A refused address (banned, in nobody's
   allowlist, too many sessions) is disconnected before it can try a secret;
   ``begin_auth`` waits for that verdict, so no attempt is judged before it.
2. **Password** — every wrong password counts towards a ban of the address
   (the gate counts it). Once the address is banned the connection is closed.
3. **Public key** — asyncssh asks twice about a key: "would you accept this
   key?" (no signature) and then, for the key the client chooses, the signed
   request, whose signature asyncssh verifies itself. Clients routinely offer
   several keys (an agent holds many), so an *unknown* key is a normal step
   of negotiation and does not count as a failure. A key that was acceptable
   but whose login never completed (the signature never came, or did not
   verify) counts once, when the connection ends without a login.
4. **Timers** — the login must complete within
   ``intake.login_timeout_seconds`` (a timeout counts as a failure), and a
   logged-in session with no SFTP request for ``intake.idle_timeout_seconds``
   is closed (its open uploads become ``incomplete``).

Keyboard-interactive, host-based and GSS logins are off, as are port, agent
and X11 forwarding, tunnels, shells, ``exec`` (so SCP) and every subsystem but
``sftp`` (see :mod:`ftpush.intake.sftp_session`).

Example (the service builds one per connection)::

    server = await asyncssh.create_server(lambda: SshLogin(hub), host, port, ...)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import asyncssh

from ftpush.errors import FtpushError
from ftpush.intake.access import AccessDenied, Gatekeeper, Principal
from ftpush.intake.sftp_files import DropboxSftpServer
from ftpush.intake.sftp_session import IdleWatch, SftpOnlySession
from ftpush.intake.spool import DropboxSession, Spool

log = logging.getLogger("ftpush.intake.sftp")

PROTOCOL = "sftp"
# Refused attempts one connection may make before it is closed (OpenSSH's
# MaxAuthTries is 6; a little more room for clients that offer many keys).
MAX_ATTEMPTS_PER_CONNECTION = 10
# Session channels one connection may have open at once (OpenSSH's MaxSessions):
# max_sessions_per_ip counts connections, and channels must not get around it.
MAX_CHANNELS_PER_CONNECTION = 10


@dataclass
class SftpHub:
    """What every connection of one SFTP service shares."""

    gate: Gatekeeper
    spool: Spool
    login_timeout: float
    idle_timeout: float
    logins: set[SshLogin] = field(default_factory=set)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep an SFTP handler task until it ends (the service waits for it on stop)."""
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


@dataclass(frozen=True)
class _Candidate:
    """A login that passed the gate, waiting for asyncssh to complete it."""

    username: str
    fingerprint: str | None
    principal: Principal
    session: DropboxSession


class SshLogin(asyncssh.SSHServer):
    """Admission, authentication and timers of one SSH connection."""

    def __init__(self, hub: SftpHub) -> None:
        self._hub = hub
        self._conn: asyncssh.SSHServerConnection | None = None
        self.address = ""
        self._admission: asyncio.Task[bool] | None = None
        self._admitted = False
        self._closed = False
        self._username: str | None = None
        self._candidate: _Candidate | None = None
        self.session: DropboxSession | None = None
        self._key_unproven = False
        self._refusals = 0
        self._channels = 0
        self._login_timer: asyncio.TimerHandle | None = None
        self._idle: IdleWatch | None = None

    # --- connection ------------------------------------------------------------------

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        peer = conn.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        loop = asyncio.get_running_loop()
        self._hub.logins.add(self)
        self._admission = loop.create_task(self._admit())
        self._login_timer = loop.call_later(self._hub.login_timeout, self._login_expired)

    async def _admit(self) -> bool:
        gate = self._hub.gate
        try:
            await asyncio.to_thread(gate.connection_opened, self.address)
        except AccessDenied:
            self.close()  # the gate logged the address and the reason
            return False
        except Exception:
            log.exception("could not check the connection from %s; refusing it", self.address)
            self.close()
            return False
        if self._closed:  # the client left while we were checking
            gate.connection_closed(self.address)
            return False
        self._admitted = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        if self._idle is not None:
            self._idle.cancel()
        if self._admitted:
            self._admitted = False
            self._hub.gate.connection_closed(self.address)
            if self.session is None and self._key_unproven:
                self._hub.gate.record_failure(
                    self._username, self.address, "key accepted but its signature never verified"
                )
        self._hub.logins.discard(self)

    def close(self) -> None:
        """Disconnect (from the service's stop, a refusal or a timer)."""
        if self._conn is not None:
            self._conn.close()

    async def wait_closed(self) -> None:
        if self._conn is not None:
            await self._conn.wait_closed()
        if self._admission is not None:
            await self._admission

    def _login_expired(self) -> None:
        self._login_timer = None
        if self.session is not None or self._closed:
            return
        if self._admitted:
            self._hub.gate.record_failure(self._username, self.address, "login timeout")
        self.close()

    def _idle_expired(self) -> None:
        principal = self.session.principal if self.session else None
        log.info(
            "closing the idle session of %s from %s after %ss",
            principal.username if principal else None,
            self.address,
            self._hub.idle_timeout,
        )
        self.close()

    # --- authentication --------------------------------------------------------------

    async def begin_auth(self, username: str) -> bool:
        # Never return False here: to asyncssh it means "no authentication needed".
        self._username = username
        if self._admission is not None:
            await asyncio.shield(self._admission)
        return True

    async def _may_try(self) -> bool:
        if self._admission is None or self._closed:
            return False
        return await asyncio.shield(self._admission) and not self._closed

    def _refused(self) -> None:
        self._refusals += 1
        if self._hub.gate.bans.is_banned(self.address):
            self.close()
        elif self._refusals >= MAX_ATTEMPTS_PER_CONNECTION:
            log.warning("closing %s after %d refused logins", self.address, self._refusals)
            self.close()

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def kbdint_auth_supported(self) -> bool:
        # asyncssh would otherwise offer keyboard-interactive as a second
        # password prompt; one way in per kind of secret is enough.
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    async def validate_password(self, username: str, password: str) -> bool:
        if not await self._may_try():
            return False
        try:
            self._candidate = await asyncio.to_thread(self._login_password, username, password)
        except AccessDenied:
            self._refused()  # counted by the gate
            return False
        except FtpushError:
            log.exception("password login of %r from %s failed", username, self.address)
            return False
        return True

    def _login_password(self, username: str, password: str) -> _Candidate:
        gate, spool = self._hub.gate, self._hub.spool
        principal = gate.authenticate_password(username, password, self.address, PROTOCOL)
        return _Candidate(username, None, principal, spool.session(principal))

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        fingerprint = key.get_fingerprint("sha256")
        if not await self._may_try():
            return False
        cached = self._candidate
        if cached is not None and (cached.username, cached.fingerprint) == (username, fingerprint):
            return True  # the signed request after "is this key acceptable?"
        gate = self._hub.gate
        try:
            known = await asyncio.to_thread(
                gate.authorised_key_fingerprints, username, self.address
            )
            if fingerprint not in known:
                # Part of normal negotiation (agents offer every key they hold):
                # logged, not counted; a key cannot be guessed anyway.
                log.info(
                    "key %s is not authorised for %r from %s", fingerprint, username, self.address
                )
                self._refused()
                return False
            self._candidate = await asyncio.to_thread(self._login_key, username, fingerprint)
        except AccessDenied:
            self._refused()  # counted by the gate (account disabled, offer off...)
            return False
        except FtpushError:
            log.exception("key login of %r from %s failed", username, self.address)
            return False
        self._key_unproven = True
        return True

    def _login_key(self, username: str, fingerprint: str) -> _Candidate:
        gate, spool = self._hub.gate, self._hub.spool
        principal = gate.authenticate_key(username, fingerprint, self.address, PROTOCOL)
        return _Candidate(username, fingerprint, principal, spool.session(principal))

    def auth_completed(self) -> None:
        if self._login_timer is not None:
            self._login_timer.cancel()
            self._login_timer = None
        candidate = self._candidate
        username = self._conn.get_extra_info("username") if self._conn else None
        if candidate is None or candidate.username != username:  # pragma: no cover - defensive
            log.error(
                "login of %r from %s completed without a checked account", username, self.address
            )
            self.close()
            return
        self.session = candidate.session
        self._key_unproven = False
        self._idle = IdleWatch(self._hub.idle_timeout, self._idle_expired)

    # --- what a logged-in client may open -----------------------------------------------

    def session_requested(self) -> SftpOnlySession | bool:
        session, idle = self.session, self._idle
        if session is None or idle is None:  # pragma: no cover - asyncssh checks auth first
            return False
        who = f"{session.principal.username} from {self.address}"
        if self._channels >= MAX_CHANNELS_PER_CONNECTION:
            log.warning("session channel refused for %s: %d already open", who, self._channels)
            return False
        self._channels += 1
        return SftpOnlySession(
            lambda chan: DropboxSftpServer(chan, session),
            idle,
            self._hub.track,
            who,
            on_closed=self._channel_closed,
        )

    def _channel_closed(self) -> None:
        self._channels -= 1

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        return False  # no port forwarding: the dropbox is not a way into the network

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        return False

    def unix_server_requested(self, listen_path: str) -> bool:
        return False

    def tun_requested(self, unit: int | None) -> bool:
        return False

    def tap_requested(self, unit: int | None) -> bool:
        return False
