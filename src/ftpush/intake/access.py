"""Who may connect and log in: allowlists, passwords, SSH keys, bans, session caps.

One :class:`Gatekeeper` serves every protocol of a process, so a brute-force
attempt counts the same over SFTP and FTPS and one ban closes both doors.
The checks, in order:

1. **Connect** (:meth:`Gatekeeper.connection_opened`): the address is not
   banned, has fewer than ``max_sessions_per_ip`` sessions, and is inside the
   allowlist of at least one enabled account of an app whose FTP offer is on.
   An address nobody allowed is refused before it can even try a password.
2. **Login** (:meth:`authenticate_password` / :meth:`authenticate_key`): the
   account exists and is enabled, its app's offer is on, the address is in
   *this* account's allowlist, and the secret matches. Every failure looks the
   same to the client (no user enumeration) and counts towards a ban of the
   address; unknown users cost an argon2 run too, so timing tells nothing.

Refusals are logged with the address, the username and the reason, never
the password. Database and argon2 work is blocking: adapters call these
methods from a worker thread.

Example::

    >>> gate = Gatekeeper(db, settings)                        # doctest: +SKIP
    >>> gate.connection_opened("203.0.113.9")                  # doctest: +SKIP
    >>> principal = gate.authenticate_password("acme", pw, "203.0.113.9", "sftp")  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ftpush import telemetry
from ftpush.config import Settings
from ftpush.crypto import hash_password, verify_password
from ftpush.errors import PermissionDenied
from ftpush.storage import Database, accounts
from ftpush.storage.types import utcnow

log = logging.getLogger("ftpush.intake.access")

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_DUMMY_HASH = hash_password("ftpush: equalise the timing of unknown users")


class AccessDenied(PermissionDenied):
    """A connection or login is refused; ``reason`` is for logs, never for the client."""

    code = "access_denied"

    def __init__(self, reason: str) -> None:
        super().__init__("access denied")
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """A logged-in account: what the protocol adapters act as."""

    username: str
    account_id: int
    app_id: int
    app_key: str
    require_checksum: bool
    protocol: str
    remote_addr: str


def parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The client's address; IPv4-mapped IPv6 (``::ffff:1.2.3.4``) counts as IPv4."""
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def in_networks(address: str, networks: Iterable[IpNetwork]) -> bool:
    try:
        addr = parse_address(address)
    except ValueError:
        return False
    return any(addr.version == net.version and addr in net for net in networks)


class BanList:
    """Failures per address in a sliding window; too many and the address is banned."""

    def __init__(
        self,
        failures: int,
        window_seconds: float,
        ban_seconds: float,
        exempt: Iterable[IpNetwork] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = failures
        self._window = window_seconds
        self._ban = ban_seconds
        self._exempt = list(exempt)
        self._clock = clock
        self._failures: dict[str, collections.deque[float]] = {}
        self._banned_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self.bans_total = 0

    def is_banned(self, address: str) -> bool:
        with self._lock:
            until = self._banned_until.get(address)
            if until is None:
                return False
            if until <= self._clock():
                del self._banned_until[address]
                return False
            return True

    def record_failure(self, address: str) -> bool:
        """Count a failed login; returns True when this failure triggered a ban."""
        if in_networks(address, self._exempt):
            return False
        with self._lock:
            now = self._clock()
            window = self._failures.setdefault(address, collections.deque())
            window.append(now)
            while window and window[0] <= now - self._window:
                window.popleft()
            if len(window) < self._limit:
                return False
            del self._failures[address]
            self._banned_until[address] = now + self._ban
            self.bans_total += 1
            return True

    def record_success(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


class Gatekeeper:
    """The access rules of every file-transfer protocol, shared by all of them."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        allowlist_ttl: float = 5.0,
    ) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock
        intake = settings.intake
        self.bans = BanList(
            intake.ban_failures,
            intake.ban_window_seconds,
            intake.ban_seconds,
            [ipaddress.ip_network(c, strict=False) for c in intake.ban_exempt],
            clock,
        )
        self._sessions: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._allow_ttl = allowlist_ttl
        self._allow_cache: tuple[float, list[IpNetwork]] | None = None
        self.failed_logins = 0

    @property
    def dropbox_root(self) -> Path:
        return self._settings.dropbox_dir

    # --- connection --------------------------------------------------------------

    def _any_allowlist(self) -> list[IpNetwork]:
        cached = self._allow_cache
        now = self._clock()
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._db.transaction() as session:
            cidrs = accounts.all_login_networks(session)
        networks = [ipaddress.ip_network(c) for c in cidrs]
        self._allow_cache = (now + self._allow_ttl, networks)
        return networks

    def forget_allowlists(self) -> None:
        """Drop the cached union of allowlists (after an account change)."""
        self._allow_cache = None

    def connection_opened(self, address: str) -> None:
        """Admit a new connection from ``address`` or raise :class:`AccessDenied`."""
        if self.bans.is_banned(address):
            raise self._refuse(address, None, "banned after too many failed logins")
        if not in_networks(address, self._any_allowlist()):
            raise self._refuse(address, None, "address is in no account's allowlist")
        with self._lock:
            if self._sessions[address] >= self._settings.intake.max_sessions_per_ip:
                raise self._refuse(address, None, "too many sessions from this address")
            self._sessions[address] += 1

    def connection_closed(self, address: str) -> None:
        with self._lock:
            self._sessions[address] -= 1
            if self._sessions[address] <= 0:
                del self._sessions[address]

    def sessions_from(self, address: str) -> int:
        with self._lock:
            return self._sessions[address]

    # --- login ---------------------------------------------------------------------

    def authenticate_password(
        self, username: str, password: str, address: str, protocol: str
    ) -> Principal:
        """Check a password login; raises :class:`AccessDenied` (and counts it) on failure."""
        login = self._login_record(username)
        stored_hash = login.password_hash if login is not None else _DUMMY_HASH
        matches = verify_password(stored_hash, password)
        return self._admit(login, username, address, protocol, matches, "wrong password")

    def authorised_key_fingerprints(self, username: str, address: str) -> set[str]:
        """Fingerprints of the keys that may log in as ``username`` from ``address``."""
        login = self._login_record(username)
        if login is None or not in_networks(address, login.networks):
            return set()
        return set(login.key_fingerprints)

    def authenticate_key(
        self, username: str, fingerprint: str, address: str, protocol: str
    ) -> Principal:
        """Check a public-key login by the key's ``SHA256:`` fingerprint."""
        login = self._login_record(username)
        matches = login is not None and fingerprint in login.key_fingerprints
        return self._admit(login, username, address, protocol, matches, "unknown key")

    def record_failure(self, username: str | None, address: str, reason: str) -> None:
        """Count a failure the adapter saw itself (e.g. a login timeout)."""
        self._count_failure(username, address, reason)

    def _login_record(self, username: str) -> accounts.LoginRecord | None:
        with self._db.transaction() as session:
            return accounts.login_record(session, username)

    def _admit(
        self,
        login: accounts.LoginRecord | None,
        username: str,
        address: str,
        protocol: str,
        secret_ok: bool,
        secret_reason: str,
    ) -> Principal:
        if self.bans.is_banned(address):
            raise self._refuse(address, username, "banned after too many failed logins")
        reason = None
        if login is None:
            reason = "unknown user"
        elif not secret_ok:
            reason = secret_reason
        elif not login.enabled:
            reason = "account disabled"
        elif not login.app_ftp_enabled:
            reason = f"FTP offer of app {login.app_key} is off"
        elif not in_networks(address, login.networks):
            reason = "address is not in the account's allowlist"
        if reason is not None or login is None:
            self._count_failure(username, address, reason or "unknown user")
            raise AccessDenied(reason or "unknown user")
        self.bans.record_success(address)
        with self._db.transaction() as session:
            accounts.record_login(session, login.account_id, now=utcnow())
        log.info("login %s (app %s) from %s over %s", username, login.app_key, address, protocol)
        return Principal(
            username=login.username,
            account_id=login.account_id,
            app_id=login.app_id,
            app_key=login.app_key,
            require_checksum=login.require_checksum,
            protocol=protocol,
            remote_addr=address,
        )

    def _count_failure(self, username: str | None, address: str, reason: str) -> None:
        self.failed_logins += 1
        telemetry.LOGIN_FAILURES.labels(kind="credentials").inc()
        banned = self.bans.record_failure(address)
        log.warning("login refused: user=%r from %s: %s", username, address, reason)
        if banned:
            telemetry.BANS.inc()
            log.warning("banned %s after repeated failed logins", address)

    def _refuse(self, address: str, username: str | None, reason: str) -> AccessDenied:
        telemetry.LOGIN_FAILURES.labels(kind="refused").inc()
        log.warning("connection refused: user=%r from %s: %s", username, address, reason)
        return AccessDenied(reason)
