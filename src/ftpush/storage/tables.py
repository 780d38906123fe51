"""The database schema: one mapped class per table (SPEC §1, §2, §5-§7).

Unique constraints carry the idempotency rules, so that re-running any step
of the pipeline is a no-op instead of a double send:

* ``messages``: one per (campaign, line, device);
* ``campaign_lines`` and ``inbox_entries``: one per (campaign, line);
* ``export_runs.idempotency_key``: one nightly run per (app, day);
* ``export_deliveries``: one per (run, report, file name);
* ``job_runs``: one per (job name, key).

Changing this module needs a new Alembic revision in ``storage/migrations``;
a test compares the two and fails on drift.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ftpush.models import (
    AttributeType,
    CampaignStatus,
    CampaignType,
    DeliveryStatus,
    ExportFormat,
    ExportTrigger,
    ImportKind,
    ImportSource,
    ImportStatus,
    InboxStatus,
    JobStatus,
    MessageStatus,
    Platform,
    RemoteProtocol,
    Role,
    TokenState,
)
from ftpush.storage.types import BigId, Json, UtcDateTime, enum_column, utcnow

# Stable constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: Json,
    }


def _created() -> Mapped[dt.datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, nullable=False)


def _app_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), nullable=False)


# --- tenancy and access --------------------------------------------------------


class App(Base):
    """A customer application, the unit of tenancy."""

    __tablename__ = "apps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    ftp_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    inbox_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    rate_limit_per_second: Mapped[int | None] = mapped_column(Integer)
    alert_emails: Mapped[list[str]] = mapped_column(Json, default=list)
    alert_webhook_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class FtpAccount(Base):
    """A platform-hosted login into one app's dropbox."""

    __tablename__ = "ftp_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Hold every upload until its NAME.sha256 sidecar arrives, then verify it.
    require_checksum: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "app_id"),)


class FtpAccountKey(Base):
    """An SSH public key that may log in as its account."""

    __tablename__ = "ftp_account_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("ftp_accounts.id", ondelete="CASCADE"), nullable=False
    )
    algorithm: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (UniqueConstraint("account_id", "fingerprint"),)


class FtpAccountNetwork(Base):
    """One CIDR of an account's IP allowlist; no rows means no login at all."""

    __tablename__ = "ftp_account_networks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("ftp_accounts.id", ondelete="CASCADE"), nullable=False
    )
    cidr: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("account_id", "cidr"),)


class RemoteServer(Base):
    """A customer-hosted server to pull imports from and push exports to."""

    __tablename__ = "remote_servers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    name: Mapped[str] = mapped_column(String(100))
    protocol: Mapped[RemoteProtocol] = mapped_column(enum_column(RemoteProtocol, "protocol"))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(255))
    # Fernet tokens under <data dir>/keys/secrets.key; never plaintext.
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    private_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    public_key: Mapped[str | None] = mapped_column(Text)
    host_key_fingerprint: Mapped[str | None] = mapped_column(String(100))
    tls_verify: Mapped[bool] = mapped_column(Boolean, default=True)
    tls_cert_fingerprint: Mapped[str | None] = mapped_column(String(100))
    import_path: Mapped[str | None] = mapped_column(String(1000))
    import_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    move_processed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("app_id", "name"),)


class PushProviderConfig(Base):
    """How an app's messages reach one platform: a provider kind and its settings.

    ``platform`` is ``ios``, ``android`` or ``any`` (used when the platform has none
    of its own). The settings are JSON encrypted with the data directory's secret
    key, since they hold APNs private keys and FCM service-account keys.
    """

    __tablename__ = "push_providers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    platform: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    config_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("app_id", "platform"),
        CheckConstraint("platform IN ('ios', 'android', 'any')", name="platform"),
    )


class PanelUser(Base):
    """A person who logs into the panel: an admin, or a member of one app."""

    __tablename__ = "panel_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    password_changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        CheckConstraint("role = 'admin' OR app_id IS NOT NULL", name="member_has_app"),
    )


class PanelSession(Base):
    """A logged-in panel browser. The cookie holds a random token; only its SHA-256 is kept.

    Deleting the rows ends the sessions: logout deletes one, a password change all of
    the user's (decision 0901).
    """

    __tablename__ = "panel_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("panel_users.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[dt.datetime] = _created()
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "user_id"),)


class ApiKey(Base):
    """A REST API key of one app; only its SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = _created()
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


# --- the platform: users, devices, events, inbox ---------------------------------


class AttributeDefinition(Base):
    """A declared, typed profile attribute of an app."""

    __tablename__ = "attribute_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    name: Mapped[str] = mapped_column(String(64))
    # Lowercase, no spaces: what pattern-line columns are matched against.
    name_key: Mapped[str] = mapped_column(String(64))
    type: Mapped[AttributeType] = mapped_column(enum_column(AttributeType, "attribute_type"))
    created_at: Mapped[dt.datetime] = _created()

    __table_args__ = (UniqueConstraint("app_id", "name_key"),)


class User(Base):
    """An end user of an app, known by the customer's external ID."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    external_id: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    msisdn: Mapped[str | None] = mapped_column(String(20))
    # Values already coerced to their declared type (JSON-native forms).
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("app_id", "external_id"),
        Index(None, "app_id", "updated_at"),
    )


class Device(Base):
    """An installation of the app that can receive pushes."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    token: Mapped[str] = mapped_column(String(4096))
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, "platform"))
    app_version: Mapped[str | None] = mapped_column(String(50))
    os_version: Mapped[str | None] = mapped_column(String(50))
    push_permission: Mapped[bool] = mapped_column(Boolean, default=True)
    token_state: Mapped[TokenState] = mapped_column(
        enum_column(TokenState, "token_state"), default=TokenState.ACTIVE
    )
    installed_at: Mapped[dt.datetime] = _created()
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    uninstalled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("app_id", "token"),
        Index(None, "user_id"),
        Index(None, "app_id", "updated_at"),
    )


class Event(Base):
    """Something a user or device did (``push_opened``, ``app_tracking``...)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    received_at: Mapped[dt.datetime] = _created()

    __table_args__ = (Index(None, "app_id", "occurred_at"), Index(None, "app_id", "name"))


# --- imports, campaigns, the delivery ledger ----------------------------------------


class ImportFile(Base):
    """One file received (upload, pull, API or CLI) and what became of it."""

    __tablename__ = "import_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[ImportKind] = mapped_column(enum_column(ImportKind, "import_kind"))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigId)
    status: Mapped[ImportStatus] = mapped_column(
        enum_column(ImportStatus, "import_status"), default=ImportStatus.RECEIVED
    )
    source: Mapped[ImportSource] = mapped_column(enum_column(ImportSource, "import_source"))
    received_by: Mapped[str | None] = mapped_column(String(255))  # account, key prefix, user
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    folder: Mapped[str] = mapped_column(String(64), default="")  # "", "Profile", "validate"...
    # Where the content sits while it is processed (relative to the data directory); unique,
    # so a restart that finds a spooled file records it at most once.
    spool_path: Mapped[str | None] = mapped_column(String(1000), unique=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)  # operator-forced reprocess
    # Pull mode: the server it came from, and when its results were uploaded back there.
    remote_server_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_servers.id", ondelete="SET NULL")
    )
    results_delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # A worker processing the file holds a lease, renewed after every batch; a lease
    # that ran out means the worker died and another may resume the file.
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Progress checkpoint: every line up to here is committed (resume point).
    checkpoint_line: Mapped[int] = mapped_column(Integer, default=0)
    checkpoint_offset: Mapped[int] = mapped_column(BigId, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = _created()
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index(None, "app_id", "sha256"),
        Index(None, "app_id", "received_at"),
        Index(None, "status"),
    )


class Campaign(Base):
    """One send: a push file, a transactional API call, or an automation."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    msg_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[CampaignType] = mapped_column(enum_column(CampaignType, "campaign_type"))
    name: Mapped[str] = mapped_column(String(255))
    import_file_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_files.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column(CampaignStatus, "campaign_status"), default=CampaignStatus.PENDING
    )
    created_at: Mapped[dt.datetime] = _created()
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (Index(None, "app_id", "created_at"),)


class CampaignLine(Base):
    """One accepted line of a campaign: the personalised text for one user."""

    __tablename__ = "campaign_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    )
    line_no: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    deeplink: Mapped[str | None] = mapped_column(Text)
    # None, or why no message was made: unknown_user / no_device.
    outcome: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("campaign_id", "line_no"),)


class Message(Base):
    """The delivery ledger: one push to one device, with its lease and outcome.

    A worker claims a row by setting ``status=leased``, ``lease_owner``,
    ``lease_expires_at`` and incrementing ``attempt``; it may record the
    outcome only while ``attempt`` is still the one it claimed (fencing).
    """

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    )
    line_no: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    platform: Mapped[Platform] = mapped_column(enum_column(Platform, "platform"))
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, "message_status"), default=MessageStatus.PENDING
    )
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    clicked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("campaign_id", "line_no", "device_id"),
        Index(None, "status", "lease_expires_at"),
        Index(None, "campaign_id", "status"),
    )


class InboxEntry(Base):
    """An in-app Inbox entry; one per (campaign, line)."""

    __tablename__ = "inbox_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    deeplink: Mapped[str | None] = mapped_column(Text)
    status: Mapped[InboxStatus] = mapped_column(
        enum_column(InboxStatus, "inbox_status"), default=InboxStatus.UNREAD
    )
    created_at: Mapped[dt.datetime] = _created()
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        UniqueConstraint("campaign_id", "line_no"),
        Index(None, "user_id", "status", "id"),
    )


# --- exports ------------------------------------------------------------------


class ExportDestination(Base):
    """Where and what an app's reports go: a remote server path or the dropbox."""

    __tablename__ = "export_destinations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = mapped_column(
        ForeignKey("apps.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    # NULL remote server means "deliver into my dropbox reports/".
    remote_server_id: Mapped[int | None] = mapped_column(
        ForeignKey("remote_servers.id", ondelete="RESTRICT")
    )
    path: Mapped[str] = mapped_column(String(1000), default="/")
    reports: Mapped[list[str]] = mapped_column(Json, default=list)
    format: Mapped[ExportFormat] = mapped_column(
        enum_column(ExportFormat, "export_format"), default=ExportFormat.XLSX
    )
    delimiter: Mapped[str] = mapped_column(String(2), default=",")
    schedule_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ExportRun(Base):
    """One nightly run, Send or retry of an app's reports over a window."""

    __tablename__ = "export_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[int] = _app_fk()
    trigger: Mapped[ExportTrigger] = mapped_column(enum_column(ExportTrigger, "export_trigger"))
    # "nightly:<app>:<YYYY-MM-DD>" makes a night's run happen once across workers.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    window_start: Mapped[dt.date] = mapped_column(Date)
    window_end: Mapped[dt.date] = mapped_column(Date)
    requested_by: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status"), default=JobStatus.RUNNING
    )
    created_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Failed attempts are retried until then (a nightly run: the window's end, 06:00 local).
    retry_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Set once, by whoever tells the alert contacts that the run failed.
    alerted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    alert_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "app_id", "created_at"),)


class ExportDelivery(Base):
    """One report file of a run and its delivery record."""

    __tablename__ = "export_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("export_runs.id", ondelete="CASCADE"), nullable=False
    )
    report: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    destination: Mapped[str] = mapped_column(String(1000))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigId, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # A process is attempting it until then (a lease: a process that died lets go).
    attempting_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("run_id", "report", "file_name"),)


class JobRun(Base):
    """A claimed run of a periodic job; (name, key) makes it happen once."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status"), default=JobStatus.RUNNING
    )
    started_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("name", "key"),)
