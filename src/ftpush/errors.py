"""The one exception tree of ftpush.

Every error ftpush raises on purpose derives from :class:`FtpushError`. Foreign
exceptions (SQLAlchemy, asyncssh, OSError, ...) are translated where they are
caught (``raise InvalidInput(...) from exc``); only ``web/`` maps these classes
to HTTP status codes and only the protocol adapters map them to FTP/SFTP
replies. Each class carries a stable machine-readable ``code``::

    FtpushError                       code="error"
    ├── ConfigError                   bad or insecure settings            "config"
    ├── InvalidInput                  a value a caller gave is wrong      "invalid_input"
    ├── NotFound                      an app, account, user... is absent  "not_found"
    ├── Conflict                      would break a uniqueness rule       "conflict"
    ├── PermissionDenied              the caller may not do this          "permission_denied"
    ├── StorageError                  the database failed or is behind    "storage"
    ├── FileRejected                  a whole uploaded file is refused    "file_rejected"
    │   ├── NotUtf8                   bytes that are not UTF-8            "not_utf8"
    │   ├── EmptyFile                 nothing but blank lines             "empty_file"
    │   ├── BadPatternLine            unreadable profile pattern line     "bad_pattern_line"
    │   ├── UnknownAttribute          pattern names an undeclared attr    "unknown_attribute"
    │   ├── FileTooLarge              over the configured size limit      "too_large"
    │   └── ChecksumMismatch          content differs from NAME.sha256    "checksum_mismatch"
    ├── DeliveryError                 a push provider refused or failed   "delivery"
    │   ├── TransientDeliveryError    retry later (429, 5xx, timeout)     "transient"
    │   └── PermanentDeliveryError    never retry                         "permanent"
    │       └── InvalidToken          the device token is dead            "invalid_token"
    └── RemoteError                   a customer's server failed          "remote"

Example::

    >>> err = NotFound("app 'demo' does not exist")
    >>> err.code, str(err)
    ('not_found', "app 'demo' does not exist")
"""

from __future__ import annotations


class FtpushError(Exception):
    """Root of every error ftpush raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(FtpushError):
    """A setting is missing, malformed, or insecure for the chosen profile."""

    code = "config"


class InvalidInput(FtpushError):
    """A value given by a caller is not acceptable; ``field`` names it."""

    code = "invalid_input"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class NotFound(FtpushError):
    """The named object does not exist (or is not visible to the caller)."""

    code = "not_found"


class Conflict(FtpushError):
    """The change would break a uniqueness rule (duplicate key, name...)."""

    code = "conflict"


class PermissionDenied(FtpushError):
    """The caller is known but not allowed to do this."""

    code = "permission_denied"


class StorageError(FtpushError):
    """The database is unreachable, failed, or its schema is not current."""

    code = "storage"


class FileRejected(FtpushError):
    """A whole file is refused; nothing of it is applied.

    ``line`` is the 1-based line the problem was found on, when there is one.
    """

    code = "file_rejected"

    def __init__(self, message: str, *, line: int | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.line = line


class NotUtf8(FileRejected):
    """The file is not UTF-8; ``offset`` is the byte offset of the first bad byte."""

    code = "not_utf8"

    def __init__(self, message: str, *, offset: int, line: int | None = None) -> None:
        super().__init__(message, line=line)
        self.offset = offset


class EmptyFile(FileRejected):
    """The file holds no data lines."""

    code = "empty_file"


class BadPatternLine(FileRejected):
    """The pattern line of a profile file cannot be read."""

    code = "bad_pattern_line"


class UnknownAttribute(FileRejected):
    """The pattern line names an attribute the app has not declared."""

    code = "unknown_attribute"


class FileTooLarge(FileRejected):
    """The file is larger than the configured maximum."""

    code = "too_large"


class ChecksumMismatch(FileRejected):
    """The content does not match its ``NAME.sha256`` sidecar."""

    code = "checksum_mismatch"


class DeliveryError(FtpushError):
    """A push provider failed to deliver a message."""

    code = "delivery"


class TransientDeliveryError(DeliveryError):
    """Worth retrying later: throttled, unavailable, timed out."""

    code = "transient"


class PermanentDeliveryError(DeliveryError):
    """Never worth retrying; ``reason`` is the provider's own word."""

    code = "permanent"


class InvalidToken(PermanentDeliveryError):
    """The device token is unregistered or malformed: mark the device uninstalled."""

    code = "invalid_token"


class RemoteError(FtpushError):
    """A customer's server could not be reached or refused an operation.

    ``stage`` says where it failed: ``dns``, ``tcp``, ``auth``, ``host_key``,
    ``permission`` or ``transfer``.
    """

    code = "remote"

    def __init__(self, message: str, *, stage: str) -> None:
        super().__init__(message, code=f"remote_{stage}")
        self.stage = stage
