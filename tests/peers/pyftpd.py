"""A pyftpdlib FTP server in a thread: the peer that speaks ``MLSD``/``MLST``.

vsftpd answers only ``LIST``; many customers' servers (ProFTPD, Pure-FTPd,
FileZilla Server, IIS) offer the exact RFC 3659 listings, and the remote client
uses them when offered. Plain pyftpdlib (not ftpush's intake) plays that server.
It runs in-process as the test runner's user, so "read-only" is pyftpdlib's
per-folder permission (``read_only``), not the filesystem's.

Example::

    with PyftpdPeer.started(root) as peer:
        target = peer.target("/work")          # "/" is ``root``
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

with warnings.catch_warnings():
    # pyftpdlib imports asynchat/asyncore, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.servers import FTPServer

if TYPE_CHECKING:
    from ftpush.remote.base import RemoteTarget

USER = "customer"


class PyftpdPeer:
    """One pyftpdlib server on 127.0.0.1; build it with :meth:`started`."""

    host = "127.0.0.1"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.password = secrets.token_urlsafe(12)
        self.authorizer = DummyAuthorizer()
        self.authorizer.add_user(USER, self.password, str(root), perm="elradfmwMT")
        handler = type("Handler", (FTPHandler,), {})  # a subclass: settings stay ours
        handler.authorizer = self.authorizer
        handler.banner = "ftpush test peer (pyftpdlib)"
        handler.passive_ports = None
        # Its own IOLoop: pyftpdlib's default is a process-wide singleton others may use.
        self.server = FTPServer((self.host, 0), handler, ioloop=IOLoop())
        self.port = int(self.server.address[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pyftpd-peer", daemon=True)

    def _serve(self) -> None:
        # Poll in this thread and close here too: pyftpdlib's loop is not thread-safe.
        try:
            while not self._stop.is_set():
                self.server.serve_forever(timeout=0.05, blocking=False, handle_exit=False)
        finally:
            self.server.close_all()

    @classmethod
    @contextlib.contextmanager
    def started(cls, root: Path) -> Iterator[PyftpdPeer]:
        """Serve ``root`` until the block ends."""
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
        peer = cls(root)
        peer._thread.start()
        try:
            yield peer
        finally:
            peer._stop.set()
            peer._thread.join(timeout=5)

    def read_only(self, path: Path) -> None:
        """Refuse writes inside ``path`` (a folder under ``root``)."""
        path.mkdir(exist_ok=True)
        self.authorizer.override_perm(USER, str(path), "elr", recursive=True)

    def target(self, path: str = "/") -> RemoteTarget:
        """A ftpush ``RemoteTarget`` (plain FTP) for this server."""
        from ftpush.models import RemoteProtocol
        from ftpush.remote.base import RemoteTarget

        return RemoteTarget(
            protocol=RemoteProtocol.FTP,
            host=self.host,
            port=self.port,
            username=USER,
            password=self.password,
            path=path,
        )
