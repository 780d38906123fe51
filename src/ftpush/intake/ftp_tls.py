"""FTPS data connections that know how an upload ended, and the TLS context.

**Completion (SPEC §2).** pyftpdlib treats every end of an upload's data
connection as success: a TLS ``close_notify`` (``ZeroReturnError``), a TCP FIN
without one (``SysCallError(-1, 'Unexpected EOF')`` or, on OpenSSL 3, an
``SSL.Error`` "unexpected eof while reading") and a reset (``ECONNRESET``) all
end in ``handle_close`` → ``226 Transfer complete`` → ``on_file_received``.
A truncated upload would be taken as a whole file. :class:`DropboxDTPHandler`
classifies the end itself:

==========================================  ========================  ======
how the data connection ended               the upload is             reply
==========================================  ========================  ======
TLS close_notify from the client            complete → spool          226
TCP FIN, reset or TLS error, TLS in use     incomplete → discarded    426
TCP FIN, plain data connection (allowed)    complete → spool          226
reset, timeout, ABOR, control closed, size  incomplete → discarded    426/552
==========================================  ========================  ======

The spool call (a rename into the spool, or the discard) happens *before*
the reply is queued, so a client that reads 226 always has its file kept.
With plain FTP (only when the operator allows it) a FIN is all there is:
anyone on the path can forge one, which is why plain FTP is the weakest
guarantee and off by default.

Example::

    >>> context = server_context(Path("cert.pem"), Path("key.pem"))   # doctest: +SKIP
    >>> handler = type("DTP", (DropboxDTPHandler,), {"timeout": 600})  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import logging
import warnings
from pathlib import Path
from typing import Any

from OpenSSL import SSL

from ftpush.errors import ConfigError, FileTooLarge
from ftpush.intake.ftp_fs import UploadFile

with warnings.catch_warnings():
    # pyftpdlib imports asynchat/asyncore, deprecated since Python 3.11.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.exceptions import _RetryError
    from pyftpdlib.handlers import DTPHandler
    from pyftpdlib.handlers.ftps.ssl import SSLConnectionMixin
    from pyftpdlib.ioloop import _ERRNOS_DISCONNECTED, _ERRNOS_RETRY
    from pyftpdlib.utils import is_ssl_sock

log = logging.getLogger("ftpush.intake.ftp")

# Forward secrecy and AEAD only for TLS 1.2; TLS 1.3 suites are all acceptable.
TLS12_CIPHERS = b"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!DSS"
# One TLS record is at most 16 KiB; read up to this much per wake-up of the loop.
READ_BATCH = 1024 * 1024
# Discarding an incomplete upload hashes it for its result; above this size that
# happens in a worker thread so the loop (every other session) never waits for it.
DISCARD_INLINE_BYTES = 64 * 1024 * 1024


def server_context(cert: Path, key: Path) -> SSL.Context:
    """The TLS context of the FTPS server: TLS 1.2 or newer, forward-secret ciphers."""
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    # SPEC §2: TLS >= 1.2. Older versions are refused in the handshake.
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    options = SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE
    # Renegotiation lets a client restart the handshake at will (CPU DoS) and
    # nothing here needs it.
    options |= getattr(SSL, "OP_NO_RENEGOTIATION", 0)
    # Deliberately NOT OP_IGNORE_UNEXPECTED_EOF: a missing close_notify must
    # surface as an error, because it is how a truncated upload is detected.
    context.set_options(options)
    context.set_cipher_list(TLS12_CIPHERS)
    # Lets clients resume the control connection's TLS session on the data
    # connection (curl, FileZilla do), which saves a full handshake per file.
    context.set_session_id(b"ftpush-ftps")
    try:
        context.use_certificate_chain_file(str(cert))
        context.use_privatekey_file(str(key))
        context.check_privatekey()
    except (OSError, SSL.Error) as exc:
        raise ConfigError(f"cannot use the FTPS certificate {cert} / key {key}: {exc}") from None
    return context


class _CompletionDTP(DTPHandler):  # type: ignore[misc]
    """The plain data-connection logic with completion tracking.

    It sits *below* the TLS mixin in the class hierarchy on purpose: the mixin
    closes connections with ``super().close()``, which lands here, so every way
    a data connection can end passes through :meth:`close`.
    """

    _resp: tuple[Any, ...]

    def __init__(self, sock: Any, cmd_channel: Any) -> None:
        # Set before the base initialiser, which may already close the channel.
        self._proved_complete = False  # the client showed the upload ended on purpose
        self._end_reason = "the data connection was closed before the upload finished"
        self._failure_reply: str | None = None
        self.aborted = False
        super().__init__(sock, cmd_channel)

    # --- reading ---------------------------------------------------------------

    def handle_read(self) -> None:
        """Move what has arrived to the file, in one write per wake-up."""
        chunks: list[bytes] = []
        size = 0
        ended = False
        while size < READ_BATCH:
            try:
                chunk = self._recv_data(self.ac_in_buffer_size)
            except _RetryError:
                break
            if not chunk:
                ended = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if not self._more_may_be_buffered():
                break
        if chunks and self.receive:  # a download's client has nothing to say: ignored
            self._store(chunks)
        if ended and not self._closed:
            self.handle_close()

    handle_read_event = handle_read  # DTPHandler binds its own at class creation

    def _more_may_be_buffered(self) -> bool:
        # A plain socket read already took everything the kernel had.
        return False

    def _recv_data(self, size: int) -> bytes:
        """Read plain data; ``b""`` once the connection ended (and how is recorded)."""
        try:
            data: bytes = self.socket.recv(size)
        except OSError as exc:
            if exc.errno in _ERRNOS_RETRY:
                raise _RetryError from exc
            if exc.errno in _ERRNOS_DISCONNECTED:
                name = errno.errorcode.get(exc.errno or 0, exc.errno)
                self._end_reason = f"the data connection was reset ({name})"
                return b""
            raise
        if not data:
            # Plain FTP: an orderly TCP close is the only end-of-file there is
            # (SPEC §2: 226 counts, the weakest guarantee).
            self._proved_complete = True
        return data

    def _store(self, chunks: list[bytes]) -> None:
        self.tot_bytes_received += sum(len(chunk) for chunk in chunks)
        if self._data_wrapper is not None:  # TYPE A: line endings converted
            chunks = [self._data_wrapper(chunk) for chunk in chunks]
        try:
            self.file_obj.write_chunks(chunks)
        except FileTooLarge as exc:
            self._fail(f"552 {exc.message}; transfer aborted.", "the file is over the size limit")
        except OSError as exc:
            log.error("cannot write upload %s: %s", getattr(self.file_obj, "name", "?"), exc)
            self._fail(
                "451 The server could not store the file; transfer aborted.",
                f"the server could not write the file ({exc.strerror})",
            )

    def _fail(self, reply: str, reason: str) -> None:
        self._failure_reply = reply
        self._end_reason = reason
        self._proved_complete = False
        self._error = True  # no TLS goodbye on a transfer we cut off ourselves
        self.close()

    # --- ending ------------------------------------------------------------------

    def handle_timeout(self) -> None:
        self._end_reason = "the data connection stalled and timed out"
        super().handle_timeout()

    def close(self) -> None:
        if not self._closed:
            self._settle_upload()
        super().close()

    def _settle_upload(self) -> None:
        """Take or discard the upload, then choose the reply; runs before any reply."""
        upload = self.file_obj
        if not (self.receive and isinstance(upload, UploadFile)) or upload.finished:
            return
        control_alive = not self.cmd_channel._closed
        if self._proved_complete and self._failure_reply is None:
            try:
                upload.finish(complete=True)
            except Exception:
                log.exception("could not hand %s to the spool", upload.name)
                self.transfer_finished = False
                self._resp = ("451 The file could not be stored; upload it again.", log.warning)
                return
            self.transfer_finished = True
            self._resp = ("226 Transfer complete; the file was received.", log.debug)
            return
        reason = self._end_reason
        runtime = getattr(self.cmd_channel, "runtime", None)
        if self.aborted:
            reason = "the client aborted the transfer (ABOR)"
        elif runtime is not None and runtime.stopping:
            reason = "the server was stopped during the upload"
        elif not control_alive:
            reason = "the control connection closed during the upload"
        self.transfer_finished = False
        if upload.size > DISCARD_INLINE_BYTES and runtime is not None:
            upload.discard_in(runtime.discard_pool, reason)
        else:
            upload.finish(complete=False, reason=reason)
        if self.aborted or not control_alive:
            self._resp = ()  # ABOR answers for itself; nobody is left to answer
        elif self._failure_reply is not None:
            self._resp = (self._failure_reply, log.info)
        elif not self._resp or self._resp[0].startswith("226"):
            self._resp = (f"426 Upload incomplete: {reason}; the file was discarded.", log.info)


class DropboxDTPHandler(SSLConnectionMixin, _CompletionDTP):  # type: ignore[misc]
    """pyftpdlib's ``TLS_DTPHandler`` rebuilt on :class:`_CompletionDTP`.

    Reads decide completion: only ``ZeroReturnError`` (the client's TLS
    close_notify) proves a TLS upload whole.
    """

    def __init__(self, sock: Any, cmd_channel: Any) -> None:
        super().__init__(sock, cmd_channel)
        if self.connected and self.cmd_channel._prot:
            self.secure_connection(self.cmd_channel.ssl_context)

    def __repr__(self) -> str:
        return str(DTPHandler.__repr__(self))

    def use_sendfile(self) -> bool:
        return False if is_ssl_sock(self.socket) else bool(super().use_sendfile())

    def push(self, data: bytes) -> None:
        if not data:
            # An empty listing or file. asynchat would hand b"" to SSL_write,
            # which OpenSSL reports as an EOF, and the connection would be cut
            # mid-handshake ("shutdown while in init" for the client). Only arm
            # the channel: the end marker that follows closes it properly.
            self._initialized = True
            self.modify_ioloop_events(self.ioloop.WRITE)
            self._wanted_io_events = self.ioloop.WRITE
            return
        super().push(data)

    def handle_error(self) -> None:
        # The TLS mixin's handler closes without calling DTPHandler's: record why first.
        self._proved_complete = False
        self._end_reason = "an internal error ended the transfer"
        super().handle_error()

    def handle_failed_ssl_handshake(self) -> None:
        # RFC 4217 §10.2: 522 on the control connection.
        self._end_reason = "the TLS handshake of the data connection failed"
        self._error = True
        self.cmd_channel.respond("522 TLS handshake of the data connection failed.")
        self.close()

    def _more_may_be_buffered(self) -> bool:
        # TLS hands out one record (<= 16 KiB) per read; more records are
        # usually waiting, so keep reading until OpenSSL says "want read".
        return bool(self._ssl_requested)

    def _recv_data(self, size: int) -> bytes:
        if not self._ssl_requested:
            return super()._recv_data(size)
        try:
            data: bytes = self.socket.recv(size)
        except SSL.WantReadError as exc:
            self._ssl_want_read = True
            raise _RetryError from exc
        except SSL.WantWriteError as exc:
            self._ssl_want_write = True
            raise _RetryError from exc
        except SSL.ZeroReturnError:
            # The client's close_notify: the one proof that nothing was cut off.
            self._proved_complete = True
            return b""
        except SSL.SysCallError as exc:
            code, text = exc.args
            if code == -1 or text == "Unexpected EOF":
                self._end_reason = "the data connection closed without a TLS close_notify"
            else:
                name = errno.errorcode.get(code, code) if isinstance(code, int) else code
                self._end_reason = f"the data connection was reset ({name})"
            self._error = True  # the TLS session is dead: no close_notify back
            return b""
        except SSL.Error as exc:
            # OpenSSL 3 reports a FIN without close_notify this way
            # ("unexpected eof while reading"); a forged or damaged record too.
            self._end_reason = (
                f"the data connection ended without a TLS close_notify ({_ssl_reason(exc)})"
            )
            self._error = True
            return b""
        if not data:  # pragma: no cover - OpenSSL raises instead of returning nothing
            self._error = True
            return b""
        return data


def _ssl_reason(exc: SSL.Error) -> str:
    try:
        return "; ".join(str(item[-1]) for item in exc.args[0])
    except (IndexError, TypeError):
        return str(exc)
