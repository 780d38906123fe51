"""The FTP control connection: admission, TLS policy, logins, transfers' bookkeeping.

:class:`DropboxFTPHandler` is pyftpdlib's ``TLS_FTPHandler`` with ftpush's rules:

* the gatekeeper admits the address at connect, before the banner (``421``
  for a banned address, one in no allowlist, or one over its session cap);
* with TLS required, ``USER``/``PASS`` before ``AUTH TLS`` get ``530``, data
  commands before ``PROT P`` get ``521``, and ``PROT C`` gets ``536``;
* passwords are checked by :class:`GateAuthorizer` in a worker thread (argon2
  and the database must not stall other sessions' transfers), answered with a
  generic ``530`` after a short delay; the reason goes to the log only;
* a login timeout, the idle timeout, and transfers whose data connection
  never came are all ended cleanly (an upload that never ran is ``incomplete``).

Each :class:`~ftpush.intake.ftp.FtpService` makes a subclass carrying its
:class:`FtpRuntime`, so several servers can live in one process.

Example::

    >>> handler = type("Control", (DropboxFTPHandler,), {"runtime": runtime})  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ftpush.intake.access import AccessDenied, Gatekeeper, Principal
from ftpush.intake.ftp_fs import DropboxFS, UploadFile
from ftpush.intake.ftp_tls import DropboxDTPHandler
from ftpush.intake.spool import DropboxSession, Spool

with warnings.catch_warnings():
    # pyftpdlib imports asynchat/asyncore, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.handlers import TLS_FTPHandler
    from pyftpdlib.utils import is_ssl_sock

log = logging.getLogger("ftpush.intake.ftp")

BANNER = "ftpush file transfer service ready."  # no product version: nothing to fingerprint
_DATA_COMMANDS = frozenset({"PASV", "EPSV", "PORT", "EPRT"})


class AuthenticationFailed(Exception):
    """A login was refused; the reason has been logged, the client learns nothing."""


@dataclass
class FtpRuntime:
    """What the handlers of one service share; set on their per-service classes."""

    gate: Gatekeeper
    spool: Spool
    post: Callable[[Callable[[], None]], bool]  # run a call in the loop's thread
    auth_pool: ThreadPoolExecutor
    discard_pool: ThreadPoolExecutor
    login_timeout: float
    tls_required: bool
    sessions: set[DropboxFTPHandler] = field(default_factory=set)
    stopping: bool = False


class DropboxFTPHandler(TLS_FTPHandler):  # type: ignore[misc]
    """One control connection. Configured per service by :class:`FtpService`."""

    runtime: FtpRuntime
    _in_dtp_queue: tuple[Any, ...] | None
    _out_dtp_queue: tuple[Any, ...] | None
    abstracted_fs = DropboxFS
    dtp_handler = DropboxDTPHandler
    banner = BANNER
    # RFC 2577: data connections only from/to the client's own address (no FXP,
    # no bounce attacks through PORT), and never to privileged ports.
    permit_foreign_addresses = False
    permit_privileged_ports = False
    max_login_attempts = 3
    use_gmt_times = True

    def __init__(self, conn: Any, server: Any, ioloop: Any = None) -> None:
        self.dropbox_session: DropboxSession | None = None
        self._admitted = False
        self._released = False
        self._auth_pending = False
        super().__init__(conn, server, ioloop)
        if not self._closed:
            self.runtime.sessions.add(self)

    # --- connect and log in ------------------------------------------------------

    def on_connect(self) -> None:
        """Admit the address (before the banner) or answer 421 and hang up."""
        try:
            self.runtime.gate.connection_opened(self.remote_ip)
        except AccessDenied:
            # The gatekeeper logged why; the client gets no hint.
            self.respond("421 Service not available.")
            self.close_when_done()
            return
        except Exception:
            log.exception("cannot admit a connection from %s", self.remote_ip)
            self.respond("421 Service temporarily unavailable.")
            self.close_when_done()
            return
        self._admitted = True
        self.call_later(self.runtime.login_timeout, self._login_timed_out)

    def _login_timed_out(self) -> None:
        if self.authenticated or self._closed:
            return
        self.runtime.gate.record_failure(self.username or None, self.remote_ip, "login timed out")
        if self._ssl_accepting:  # mid-handshake: nothing can be said in clear
            self.close()
            return
        self.respond("421 Login timed out.")
        self.close_when_done()

    def process_command(self, cmd: str, *args: Any, **kwargs: Any) -> None:
        if self.runtime.tls_required:
            if cmd in {"USER", "PASS"} and not self._ssl_established:
                # Never let a password cross the network in clear.
                self.respond("530 This server requires TLS: send AUTH TLS before USER.")
                return
            if cmd in _DATA_COMMANDS and not self._prot:
                # RFC 4217 §9: 521, data connection cannot be opened with this PROT.
                self.respond("521 Data connections must be protected: send PBSZ 0 and PROT P.")
                return
            if cmd == "PROT" and args and str(args[0]).strip().upper() == "C":
                # Refused outright: a PROT C between PASV and the data connection
                # would otherwise yield an unprotected (and unprovable) upload.
                self.respond("536 Data connections must be protected: use PROT P.")
                return
        super().process_command(cmd, *args, **kwargs)

    def ftp_PASS(self, line: str) -> None:  # noqa: N802
        """Check the password in a worker thread; the connection waits, the loop does not."""
        if self.authenticated:
            self.respond("503 User already authenticated.")
            return
        if not self.username or self._auth_pending:
            self.respond("503 Login with USER first.")
            return
        username = self.username
        protocol = "ftps" if is_ssl_sock(self.socket) else "ftp"
        self._auth_pending = True
        self.del_channel()  # read no further command until the answer is known
        future = self.runtime.auth_pool.submit(
            self.authorizer.login, username, line, self.remote_ip, protocol
        )
        future.add_done_callback(lambda done: self.runtime.post(lambda: self._auth_done(done)))

    def _auth_done(self, done: Future[Principal]) -> None:
        self._auth_pending = False
        if self._closed:
            return
        self.add_channel()
        try:
            principal = done.result()
        except AuthenticationFailed:
            # pyftpdlib answers a generic 530 after a delay (slows guessing) and
            # hangs up after max_login_attempts.
            self.handle_auth_failed("", "")
            return
        except Exception:
            log.exception("login check for %r from %s failed", self.username, self.remote_ip)
            self.respond("421 Service temporarily unavailable.")
            self.close_when_done()
            return
        self.dropbox_session = self.runtime.spool.session(principal)
        # The password is not kept on the session object.
        self.handle_auth_success("/", "", "Logged in.")

    # --- transfers -----------------------------------------------------------------

    def ftp_STOR(self, file: str, mode: str = "w") -> Any:  # noqa: N802
        if self.data_channel is not None and self.data_channel.file_obj is not None:
            # pyftpdlib would swap the file of the running transfer for this one,
            # orphaning an open upload (and blocking its name).
            self.respond("425 A transfer is already in progress on the data connection.")
            return None
        self._drop_queued_transfers()
        return super().ftp_STOR(file, mode)

    def push_dtp_data(
        self, data: Any, isproducer: bool = False, file: Any = None, cmd: Any = None
    ) -> None:
        if self.data_channel is None:
            self._drop_queued_transfers()
        super().push_dtp_data(data, isproducer, file, cmd)

    def ftp_ABOR(self, line: str) -> None:  # noqa: N802
        if self.data_channel is not None:
            self.data_channel.aborted = True
        super().ftp_ABOR(line)

    def ftp_ALLO(self, line: str) -> None:  # noqa: N802
        """Refuse early (552) an upload announced as over the size limit."""
        try:
            size = int(line.split(maxsplit=1)[0])
        except (ValueError, IndexError):
            size = 0
        limit = self.dropbox_session.max_bytes if self.dropbox_session else 0
        if size > limit:
            self.respond(f"552 Files are limited to {limit} bytes.")
        else:
            self.respond("202 No storage allocation necessary.")

    def flush_account(self) -> None:
        self._drop_queued_transfers()
        super().flush_account()

    def _on_dtp_close(self) -> None:
        super()._on_dtp_close()
        pending = self._in_dtp_queue is not None or self._out_dtp_queue is not None
        if pending and not self._closed and not self._dtp_listening():
            # The data connection died before pyftpdlib could start the transfer
            # (a client that connects, sends and resets at once): pyftpdlib would
            # wait for another data connection forever. End the transfer instead.
            uploading = self._in_dtp_queue is not None
            reason = "the data connection closed before the transfer started"
            self._drop_queued_transfers(reason)
            if uploading:
                self.respond(f"426 Upload incomplete: {reason}; the file was discarded.")
            else:
                self.respond("425 Can't open data connection.")

    def _dtp_listening(self) -> bool:
        waiting = (self._dtp_acceptor, self._dtp_connector)
        return any(dtp is not None and not dtp._closed for dtp in waiting)

    def _drop_queued_transfers(self, reason: str = "") -> None:
        """Close files of transfers whose data connection never came (pyftpdlib drops them).

        An upload closed this way is discarded with an ``incomplete`` result,
        and its name is free for the next attempt.
        """
        queued_in, self._in_dtp_queue = self._in_dtp_queue, None
        queued_out, self._out_dtp_queue = self._out_dtp_queue, None
        if queued_in is not None and isinstance(queued_in[0], UploadFile):
            if self.runtime.stopping:
                reason = "the server was stopped during the upload"
            queued_in[0].finish(
                complete=False,
                reason=reason or "the client sent another command before the data connection",
            )
        if queued_out is not None and queued_out[2] is not None:
            queued_out[2].close()

    # --- ending ----------------------------------------------------------------------

    def handle_error(self) -> None:
        # The TLS mixin's error path closes below close(); release first.
        self._release()
        super().handle_error()

    def close(self) -> None:
        if not self._closed:
            self._drop_queued_transfers("the control connection closed before the data connection")
        self._release()
        super().close()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        self.runtime.sessions.discard(self)
        if self._admitted:
            self.runtime.gate.connection_closed(self.remote_ip)


class GateAuthorizer:
    """pyftpdlib's authorizer interface over the gatekeeper.

    :meth:`login` runs in a worker thread (argon2 and the database are
    blocking). Every account's home is its app's dropbox, seen as ``/``; what
    may be done where is decided by the dropbox rules on each operation, so
    every pyftpdlib permission is granted here.
    """

    def __init__(self, gate: Gatekeeper) -> None:
        self.gate = gate

    def login(self, username: str, password: str, address: str, protocol: str) -> Principal:
        """The principal of a correct login, or :class:`AuthenticationFailed`.

        The gatekeeper logs the reason of a refusal (never the password) and
        counts it towards a ban; the client only ever hears "530".
        """
        try:
            return self.gate.authenticate_password(username, password, address, protocol)
        except AccessDenied:
            raise AuthenticationFailed from None

    def validate_authentication(self, username: str, password: str, handler: Any) -> None:
        # pyftpdlib's own PASS would call this in the loop thread; ftp_PASS is
        # replaced so that it never does.
        raise AuthenticationFailed

    def get_home_dir(self, username: str) -> str:
        return "/"

    def has_user(self, username: str) -> bool:
        return True

    def has_perm(self, username: str, perm: str, path: str | None = None) -> bool:
        return True

    def get_perms(self, username: str) -> str:
        return "elradfw"

    def get_msg_login(self, username: str) -> str:
        return "Logged in."

    def get_msg_quit(self, username: str) -> str:
        return "Goodbye."

    def impersonate_user(self, username: str, password: str) -> None:
        pass

    def terminate_impersonation(self, username: str) -> None:
        pass
