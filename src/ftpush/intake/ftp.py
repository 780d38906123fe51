"""The FTP/FTPS server: pyftpdlib in a thread of its own, thin over the intake core.

What each part does:

* :class:`FtpService` — what ``ftpush serve`` starts and stops. pyftpdlib's IO
  loop is blocking, so it runs in one thread; everything pyftpdlib owns is
  touched only there. Other threads talk to it through :class:`LoopCalls`.
* :mod:`ftpush.intake.ftp_control` — the control connection: the gatekeeper at
  connect, ``AUTH TLS``/``PROT P`` when TLS is required, logins in a worker
  thread, timeouts, generic ``530`` answers.
* :mod:`ftpush.intake.ftp_fs` — every file operation is a
  :class:`~ftpush.intake.spool.DropboxSession` call.
* :mod:`ftpush.intake.ftp_tls` — the data connection that decides whether an
  upload is complete (TLS close_notify) and hands it to the spool before 226.

Plain FTP exists only when ``ftp.allow_plain`` is set; then TLS is optional
and a plain upload counts as complete on an orderly TCP close (226) — the
weakest guarantee, because anyone on the path can forge a FIN.

Example::

    >>> service = FtpService(settings, gate, spool, info.tls_cert, info.tls_key)  # doctest: +SKIP
    >>> await service.start(); service.port                                      # doctest: +SKIP
    2121
    >>> await service.stop()                                                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import socket
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from OpenSSL import SSL

from ftpush.config import Settings
from ftpush.errors import ConfigError
from ftpush.intake.access import Gatekeeper
from ftpush.intake.ftp_control import DropboxFTPHandler, FtpRuntime, GateAuthorizer
from ftpush.intake.ftp_tls import DropboxDTPHandler, server_context
from ftpush.intake.spool import Spool

with warnings.catch_warnings():
    # pyftpdlib imports asynchat/asyncore, deprecated since Python 3.11; the
    # warning is about pyftpdlib's internals, not something ftpush can act on.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.ioloop import AsyncChat, IOLoop
    from pyftpdlib.servers import FTPServer

log = logging.getLogger("ftpush.intake.ftp")

__all__ = ["FtpService", "LoopCalls"]


class LoopCalls(AsyncChat):  # type: ignore[misc]
    """Runs callables in the IO loop's thread, posted from any thread (a self-pipe).

    >>> calls.post(lambda: handler.respond("230 Logged in."))  # doctest: +SKIP
    True
    """

    def __init__(self, ioloop: Any) -> None:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._pending: collections.deque[Callable[[], None]] = collections.deque()
        self._lock = threading.Lock()
        self._open = True
        super().__init__(self._reader, ioloop=ioloop)

    def post(self, call: Callable[[], None]) -> bool:
        """Queue ``call`` for the loop; False once the loop is gone (it is dropped)."""
        with self._lock:
            if not self._open:
                return False
            self._pending.append(call)
            # A full pipe means the loop is already due to wake up.
            with contextlib.suppress(OSError):
                self._writer.send(b"\0")
        return True

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.recv(4096)
        while True:
            with self._lock:
                if not self._pending:
                    return
                call = self._pending.popleft()
            try:
                call()
            except Exception:
                log.exception("a call posted to the FTP loop failed")

    def close(self) -> None:
        with self._lock:
            self._open = False
            self._pending.clear()
            self._writer.close()
        super().close()


class FtpService:
    """The FTP/FTPS server as a service of ``ftpush serve``.

    ``tls_cert``/``tls_key`` are the PEM files of the FTPS certificate (serve's
    self-signed one by default). TLS is then required (``AUTH TLS`` and
    ``PROT P``) unless ``settings.ftp.allow_plain`` is set. Port 0 picks a
    free port, readable from :attr:`port` once started.
    """

    name = "ftp"

    def __init__(
        self,
        settings: Settings,
        gate: Gatekeeper,
        spool: Spool,
        tls_cert: Path,
        tls_key: Path,
        *,
        auth_failure_delay: float = 2.0,
    ) -> None:
        first, last = settings.ftp.passive_ports
        if not 0 < first <= last <= 65535:
            raise ConfigError(f"ftp.passive_ports must be a range of ports, not {first}-{last}")
        self.settings = settings
        self.gate = gate
        self.spool = spool
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.auth_failure_delay = auth_failure_delay
        self.host = settings.ftp.host
        self.port = settings.ftp.port
        self.tls_required = not settings.ftp.allow_plain
        self._loop: Any = None
        self._server: Any = None
        self._runtime: FtpRuntime | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoints(self) -> list[str]:
        first, last = self.settings.ftp.passive_ports
        host = f"[{self.host}]" if ":" in self.host else self.host
        masquerade = self.settings.ftp.masquerade_address
        announced = f"; announced as {masquerade}" if masquerade else ""
        if self.tls_required:
            return [
                f"ftps://{host}:{self.port}  (explicit TLS required; "
                f"passive {first}-{last}{announced})"
            ]
        return [
            f"ftp://{host}:{self.port}  (plain FTP allowed, TLS optional: a plain upload "
            f"counts on 226 alone; passive {first}-{last}{announced})"
        ]

    async def start(self) -> None:
        self.start_in_thread()

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_thread)

    def start_in_thread(self) -> None:
        """Bind the port and run the server loop in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the FTP service is already running")
        context = server_context(self.tls_cert, self.tls_key)
        pyftpdlib_log = logging.getLogger("pyftpdlib")
        if not pyftpdlib_log.handlers:
            # Otherwise pyftpdlib installs its own stderr handler on first use;
            # its records still propagate to ftpush's logging set-up.
            pyftpdlib_log.addHandler(logging.NullHandler())
        loop = IOLoop()
        calls = LoopCalls(loop)
        runtime = FtpRuntime(
            gate=self.gate,
            spool=self.spool,
            post=calls.post,
            auth_pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="ftp-auth"),
            discard_pool=ThreadPoolExecutor(max_workers=1, thread_name_prefix="ftp-discard"),
            login_timeout=self.settings.intake.login_timeout_seconds,
            tls_required=self.tls_required,
        )
        handler = self._handler_class(runtime, context)
        try:
            server = FTPServer((self.host, self.port), handler, ioloop=loop)
        except OSError as exc:
            runtime.auth_pool.shutdown()
            runtime.discard_pool.shutdown()
            loop.close()
            raise ConfigError(f"cannot listen for FTP on {self.host}:{self.port}: {exc}") from None
        self.port = int(server.address[1])
        self._loop, self._server, self._runtime = loop, server, runtime
        self._thread = threading.Thread(target=self._run, name="ftp-server", daemon=True)
        self._thread.start()
        log.info("FTP server listening on %s", self.endpoints[0])

    def _handler_class(self, runtime: FtpRuntime, context: SSL.Context) -> type[DropboxFTPHandler]:
        ftp = self.settings.ftp
        idle = self.settings.intake.idle_timeout_seconds
        first, last = ftp.passive_ports
        dtp = type("FtpsDataConnection", (DropboxDTPHandler,), {"timeout": idle})
        attributes: dict[str, Any] = {
            "runtime": runtime,
            "dtp_handler": dtp,
            "timeout": idle,
            "auth_failed_timeout": self.auth_failure_delay,
            "passive_ports": list(range(first, last + 1)),
            "masquerade_address": ftp.masquerade_address,
            "ssl_context": context,
            "certfile": str(self.tls_cert),
            "keyfile": str(self.tls_key),
            # SPEC §2: with a certificate, AUTH TLS and PROT P are required.
            # process_command enforces both with RFC 4217's replies.
            "tls_control_required": self.tls_required,
            "tls_data_required": self.tls_required,
            "authorizer": GateAuthorizer(self.gate),
        }
        return type("FtpsControlConnection", (DropboxFTPHandler,), attributes)

    def _run(self) -> None:
        try:
            self._loop.loop(timeout=None, blocking=True)
        except Exception:
            log.exception("the FTP server loop failed")

    def stop_thread(self, timeout: float = 10.0) -> None:
        """Close every connection (uploads in flight become incomplete) and join the loop."""
        thread, runtime = self._thread, self._runtime
        if thread is None or runtime is None:
            return
        if thread.is_alive() and runtime.post(self._shutdown):
            thread.join(timeout)
        if not thread.is_alive() and self._loop.socket_map:
            self._shutdown()  # the loop died: nothing else touches its objects now
        if thread.is_alive():
            log.error("the FTP server thread did not stop within %s s", timeout)
        runtime.auth_pool.shutdown(wait=True, cancel_futures=True)  # logins nobody awaits
        runtime.discard_pool.shutdown(wait=True)  # every incomplete upload gets its result
        self._thread = None
        log.info("FTP server stopped")

    def _shutdown(self) -> None:
        runtime, loop = self._runtime, self._loop
        assert runtime is not None
        runtime.stopping = True
        self._server.close()
        # Connections are cut, not wound down: no TLS goodbyes that would need
        # more turns of a loop that is about to end (and would leak sockets).
        for channel in [*runtime.sessions, *loop.socket_map.values()]:
            channel._error = True
        for handler in list(runtime.sessions):
            handler.close()
        loop.close()
