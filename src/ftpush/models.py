"""Plain domain types of ftpush: enums and pure validators, no I/O.

Everything here is safe to import from any layer. The enums' values are the
words stored in the database, shown in result files and accepted by the CLI
and API, so they never change once released.

Example::

    >>> validate_app_key("demo-shop")
    'demo-shop'
    >>> AttributeType("integer[]").scalar
    <AttributeType.INTEGER: 'integer'>
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from enum import StrEnum

from ftpush.errors import InvalidInput


class Platform(StrEnum):
    IOS = "ios"
    ANDROID = "android"


class TokenState(StrEnum):
    """Whether a device token can still receive pushes."""

    ACTIVE = "active"
    UNINSTALLED = "uninstalled"


class AttributeType(StrEnum):
    """Type of a declared profile attribute (SPEC §4)."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    STRING_ARRAY = "string[]"
    INTEGER_ARRAY = "integer[]"
    NUMBER_ARRAY = "number[]"
    BOOLEAN_ARRAY = "boolean[]"
    DATE_ARRAY = "date[]"
    DATETIME_ARRAY = "datetime[]"

    @property
    def is_array(self) -> bool:
        return self.value.endswith("[]")

    @property
    def scalar(self) -> AttributeType:
        """The element type of an array type, or the type itself."""
        return AttributeType(self.value.removesuffix("[]"))


class CampaignType(StrEnum):
    FILE = "file"
    TRANSACTIONAL = "transactional"
    AUTOMATED = "automated"


class CampaignStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class MessageStatus(StrEnum):
    """State of one (campaign, line, device) message in the delivery ledger."""

    PENDING = "pending"
    LEASED = "leased"
    SENT = "sent"
    FAILED = "failed"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - a status, not a secret
    CANCELLED = "cancelled"


class InboxStatus(StrEnum):
    UNREAD = "unread"
    READ = "read"
    DELETED = "deleted"


class ImportKind(StrEnum):
    PUSH = "push"
    PROFILE = "profile"


class ImportStatus(StrEnum):
    """Life of an uploaded file; the last five are final and go in results/."""

    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    PARTIAL = "partial"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    INCOMPLETE = "incomplete"


class ImportSource(StrEnum):
    SFTP = "sftp"
    FTPS = "ftps"
    FTP = "ftp"
    API = "api"
    CLI = "cli"
    PULL = "pull"
    UPLOAD = "upload"  # an upload found after a restart; its protocol is no longer known


class Role(StrEnum):
    """Panel user role: an admin sees every app, a member one app."""

    ADMIN = "admin"
    MEMBER = "member"


class RemoteProtocol(StrEnum):
    SFTP = "sftp"
    FTPS = "ftps"
    FTP = "ftp"


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class ReportName(StrEnum):
    CAMPAIGNS = "campaigns"
    CAMPAIGN_RECIPIENTS = "campaign_recipients"
    AUTOMATED_CAMPAIGNS = "automated_campaigns"
    TRANSACTIONAL_CAMPAIGNS = "transactional_campaigns"
    EVENTS = "events"
    INSTALLATIONS = "installations"
    APP_TRACKING = "app_tracking"


class ExportTrigger(StrEnum):
    NIGHTLY = "nightly"
    SEND = "send"
    RETRY = "retry"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


_APP_KEY = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
IDENTITY_COLUMNS = ("extid", "email", "devicetoken", "msisdn")


def validate_app_key(key: str) -> str:
    """Return ``key`` if it is a valid app key (``[a-z0-9][a-z0-9-]{1,62}``)."""
    if not _APP_KEY.fullmatch(key):
        raise InvalidInput(
            f"invalid app key {key!r}: use 2-63 lowercase letters, digits or '-', "
            "starting with a letter or digit",
            field="key",
        )
    return key


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA timezone this machine knows."""
    try:
        if not name or name.startswith(("/", ".")):
            raise ValueError(name)
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise InvalidInput(
            f"unknown timezone {name!r}: use an IANA name such as 'Europe/Istanbul' or 'UTC'",
            field="timezone",
        ) from None
    return name


def validate_username(name: str) -> str:
    """Return ``name`` if it is a valid login name (FTP account or panel user)."""
    if not _USERNAME.fullmatch(name):
        raise InvalidInput(
            f"invalid username {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="username",
        )
    return name


def parse_cidr(text: str) -> str:
    """Normalise an IPv4/IPv6 network or address to CIDR form.

    A bare address becomes a host network; host bits set in a network are an
    error rather than silently widened, because an allowlist must mean exactly
    what the operator typed.

    >>> parse_cidr("10.0.0.1"), parse_cidr("2001:db8::/32")
    ('10.0.0.1/32', '2001:db8::/32')
    """
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise InvalidInput(f"invalid CIDR {text!r}: {exc}", field="cidr") from None
    return str(network)


def normalize_column_name(name: str) -> str:
    """Compare-key of a pattern-line column: no case, no spaces (SPEC §4)."""
    return "".join(name.split()).lower()


def validate_attribute_name(name: str) -> str:
    """Return ``name`` if it can be declared as a profile attribute."""
    if not _ATTRIBUTE.fullmatch(name):
        raise InvalidInput(
            f"invalid attribute name {name!r}: use letters, digits and '_', "
            "not starting with a digit, at most 64 characters",
            field="name",
        )
    if normalize_column_name(name) in IDENTITY_COLUMNS:
        raise InvalidInput(f"{name!r} is an identity column, not an attribute", field="name")
    return name


def parse_attribute_type(text: str) -> AttributeType:
    """Parse a declared type such as ``integer`` or ``string[]``."""
    try:
        return AttributeType(text.strip().lower())
    except ValueError:
        allowed = ", ".join(t.value for t in AttributeType)
        raise InvalidInput(
            f"unknown attribute type {text!r}: use one of {allowed}", field="type"
        ) from None
