"""SFTP status codes for ftpush's errors: what an SFTP client is told when the core refuses.

Messages come from the core's exceptions (written for customers); operating
system errors get messages of our own, because ``str(OSError)`` carries the
real path, which a client must never learn.

Example::

    >>> sftp_error(NotFound("no such file: /x.csv")).code  # FX_NO_SUCH_FILE
    2
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import NoReturn

import asyncssh

from ftpush.errors import (
    Conflict,
    FileTooLarge,
    FtpushError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)

log = logging.getLogger("ftpush.intake.sftp")

_Status = Callable[[str], asyncssh.SFTPError]

# Core errors and the SFTP status each becomes (first match wins: subclasses first).
_CORE_STATUS: tuple[tuple[type[FtpushError], _Status], ...] = (
    (NotFound, asyncssh.SFTPNoSuchFile),
    (PermissionDenied, asyncssh.SFTPPermissionDenied),  # AccessDenied included
    (Conflict, asyncssh.SFTPFileAlreadyExists),
    (FileTooLarge, asyncssh.SFTPQuotaExceeded),  # shown as a failure to SFTPv3 clients
)
# OS errors, with our own message: str(OSError) carries the real path, which the
# client must never learn (it reveals the data directory's layout).
_OS_STATUS: dict[int, tuple[_Status, str]] = {
    errno.ENOENT: (asyncssh.SFTPNoSuchFile, "no such file"),
    errno.EACCES: (asyncssh.SFTPPermissionDenied, "permission denied"),
    errno.EPERM: (asyncssh.SFTPPermissionDenied, "permission denied"),
    errno.ELOOP: (asyncssh.SFTPPermissionDenied, "symbolic links are not followed"),
    errno.ENOSPC: (asyncssh.SFTPNoSpaceOnFilesystem, "the server's disk is full"),
    errno.EDQUOT: (asyncssh.SFTPQuotaExceeded, "the server's disk quota is exhausted"),
}


def sftp_error(exc: BaseException) -> asyncssh.SFTPError:
    """The SFTP status for a core error; the message is safe to show the client."""
    if isinstance(exc, FtpushError):
        for kind, status in _CORE_STATUS:
            if isinstance(exc, kind):
                return status(exc.message)
        if isinstance(exc, InvalidInput) and exc.field in {"name", "path"}:
            return asyncssh.SFTPInvalidFilename(exc.message)
        if isinstance(exc, InvalidInput):
            return asyncssh.SFTPInvalidParameter(exc.message)
        return asyncssh.SFTPFailure(exc.message)
    if isinstance(exc, OSError) and exc.errno in _OS_STATUS:
        status, message = _OS_STATUS[exc.errno]
        return status(message)
    return asyncssh.SFTPFailure("server error")


def raise_sftp(exc: BaseException) -> NoReturn:
    """Raise the SFTP status for ``exc`` (unexpected errors are logged first)."""
    if not isinstance(exc, FtpushError):
        log.error("sftp request failed: %r", exc)
    raise sftp_error(exc) from None
