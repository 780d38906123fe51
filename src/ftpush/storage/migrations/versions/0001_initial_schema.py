"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 00:08:51.392079
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ftpush.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "apps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("ftp_enabled", sa.Boolean(), nullable=False),
        sa.Column("inbox_enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_limit_per_second", sa.Integer(), nullable=True),
        sa.Column(
            "alert_emails",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("alert_webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
        sa.UniqueConstraint("key", name=op.f("uq_apps_key")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                "failed",
                name="job_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("name", "key", name=op.f("uq_job_runs_name_key")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_api_keys_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "attribute_definitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "string",
                "integer",
                "number",
                "boolean",
                "date",
                "datetime",
                "string[]",
                "integer[]",
                "number[]",
                "boolean[]",
                "date[]",
                "datetime[]",
                name="attribute_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_attribute_definitions_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribute_definitions")),
        sa.UniqueConstraint(
            "app_id", "name_key", name=op.f("uq_attribute_definitions_app_id_name_key")
        ),
    )
    op.create_table(
        "export_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum(
                "nightly",
                "send",
                "retry",
                name="export_trigger",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                "failed",
                name="job_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_export_runs_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_runs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_export_runs_idempotency_key")),
    )
    with op.batch_alter_table("export_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_export_runs_app_id_created_at"), ["app_id", "created_at"], unique=False
        )

    op.create_table(
        "ftp_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("require_checksum", sa.Boolean(), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_ftp_accounts_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ftp_accounts")),
        sa.UniqueConstraint("username", name=op.f("uq_ftp_accounts_username")),
    )
    with op.batch_alter_table("ftp_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ftp_accounts_app_id"), ["app_id"], unique=False)

    op.create_table(
        "panel_users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin", "member", name="role", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "password_changed_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_login_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role = 'admin' OR app_id IS NOT NULL", name=op.f("ck_panel_users_member_has_app")
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_panel_users_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_users")),
        sa.UniqueConstraint("username", name=op.f("uq_panel_users_username")),
    )
    op.create_table(
        "remote_servers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "protocol",
            sa.Enum(
                "sftp",
                "ftps",
                "ftp",
                name="protocol",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("password_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("private_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("host_key_fingerprint", sa.String(length=100), nullable=True),
        sa.Column("tls_verify", sa.Boolean(), nullable=False),
        sa.Column("tls_cert_fingerprint", sa.String(length=100), nullable=True),
        sa.Column("import_path", sa.String(length=1000), nullable=True),
        sa.Column("import_enabled", sa.Boolean(), nullable=False),
        sa.Column("move_processed", sa.Boolean(), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_remote_servers_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_servers")),
        sa.UniqueConstraint("app_id", "name", name=op.f("uq_remote_servers_app_id_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("msisdn", sa.String(length=20), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_users_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("app_id", "external_id", name=op.f("uq_users_app_id_external_id")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_app_id_updated_at"), ["app_id", "updated_at"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("token", sa.String(length=4096), nullable=False),
        sa.Column(
            "platform",
            sa.Enum(
                "ios",
                "android",
                name="platform",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("app_version", sa.String(length=50), nullable=True),
        sa.Column("os_version", sa.String(length=50), nullable=True),
        sa.Column("push_permission", sa.Boolean(), nullable=False),
        sa.Column(
            "token_state",
            sa.Enum(
                "active",
                "uninstalled",
                name="token_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("installed_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("uninstalled_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_devices_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_devices_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("app_id", "token", name=op.f("uq_devices_app_id_token")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_devices_app_id_updated_at"), ["app_id", "updated_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "export_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("report", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("destination", sa.String(length=1000), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "retrying",
                "delivered",
                "failed",
                name="delivery_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["export_runs.id"],
            name=op.f("fk_export_deliveries_run_id_export_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_deliveries")),
        sa.UniqueConstraint(
            "run_id",
            "report",
            "file_name",
            name=op.f("uq_export_deliveries_run_id_report_file_name"),
        ),
    )
    op.create_table(
        "export_destinations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "remote_server_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column(
            "reports",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "format",
            sa.Enum(
                "xlsx",
                "csv",
                name="export_format",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("delimiter", sa.String(length=2), nullable=False),
        sa.Column("schedule_enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_export_destinations_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["remote_server_id"],
            ["remote_servers.id"],
            name=op.f("fk_export_destinations_remote_server_id_remote_servers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_destinations")),
        sa.UniqueConstraint("app_id", name=op.f("uq_export_destinations_app_id")),
    )
    op.create_table(
        "ftp_account_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ftp_accounts.id"],
            name=op.f("fk_ftp_account_keys_account_id_ftp_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ftp_account_keys")),
        sa.UniqueConstraint(
            "account_id", "fingerprint", name=op.f("uq_ftp_account_keys_account_id_fingerprint")
        ),
    )
    op.create_table(
        "ftp_account_networks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ftp_accounts.id"],
            name=op.f("fk_ftp_account_networks_account_id_ftp_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ftp_account_networks")),
        sa.UniqueConstraint(
            "account_id", "cidr", name=op.f("uq_ftp_account_networks_account_id_cidr")
        ),
    )
    op.create_table(
        "import_files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "push",
                "profile",
                name="import_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "processing",
                "done",
                "partial",
                "failed",
                "duplicate",
                "incomplete",
                name="import_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "sftp",
                "ftps",
                "ftp",
                "api",
                "cli",
                "pull",
                "upload",
                name="import_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("received_by", sa.String(length=255), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("folder", sa.String(length=64), nullable=False),
        sa.Column("spool_path", sa.String(length=1000), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column(
            "remote_server_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "results_delivered_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("lines_total", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column(
            "lease_expires_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("checkpoint_line", sa.Integer(), nullable=False),
        sa.Column(
            "checkpoint_offset",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("received_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_import_files_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["remote_server_id"],
            ["remote_servers.id"],
            name=op.f("fk_import_files_remote_server_id_remote_servers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_files")),
        sa.UniqueConstraint("spool_path", name=op.f("uq_import_files_spool_path")),
    )
    with op.batch_alter_table("import_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_import_files_app_id_received_at"),
            ["app_id", "received_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_import_files_app_id_sha256"), ["app_id", "sha256"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_import_files_status"), ["status"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("msg_id", sa.String(length=40), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "file",
                "transactional",
                "automated",
                name="campaign_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "import_file_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "done",
                "cancelled",
                "failed",
                name="campaign_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_campaigns_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["import_file_id"],
            ["import_files.id"],
            name=op.f("fk_campaigns_import_file_id_import_files"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("import_file_id", name=op.f("uq_campaigns_import_file_id")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_campaigns_msg_id")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaigns_app_id_created_at"), ["app_id", "created_at"], unique=False
        )

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_events_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_events_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_events_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_app_id_name"), ["app_id", "name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_events_app_id_occurred_at"), ["app_id", "occurred_at"], unique=False
        )

    op.create_table(
        "campaign_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("deeplink", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_lines_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_campaign_lines_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_lines")),
        sa.UniqueConstraint(
            "campaign_id", "line_no", name=op.f("uq_campaign_lines_campaign_id_line_no")
        ),
    )
    op.create_table(
        "inbox_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("deeplink", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "unread",
                "read",
                "deleted",
                name="inbox_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("read_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_inbox_entries_app_id_apps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_inbox_entries_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_inbox_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_entries")),
        sa.UniqueConstraint(
            "campaign_id", "line_no", name=op.f("uq_inbox_entries_campaign_id_line_no")
        ),
    )
    with op.batch_alter_table("inbox_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbox_entries_user_id_status_id"),
            ["user_id", "status", "id"],
            unique=False,
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column(
            "device_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "platform",
            sa.Enum(
                "ios",
                "android",
                name="platform",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "leased",
                "sent",
                "failed",
                "invalid_token",
                "cancelled",
                name="message_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column(
            "lease_expires_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "next_attempt_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_messages_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_messages_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_messages_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "campaign_id",
            "line_no",
            "device_id",
            name=op.f("uq_messages_campaign_id_line_no_device_id"),
        ),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_campaign_id_status"), ["campaign_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_status_lease_expires_at"),
            ["status", "lease_expires_at"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_status_lease_expires_at"))
        batch_op.drop_index(batch_op.f("ix_messages_campaign_id_status"))

    op.drop_table("messages")
    with op.batch_alter_table("inbox_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_entries_user_id_status_id"))

    op.drop_table("inbox_entries")
    op.drop_table("campaign_lines")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_app_id_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_events_app_id_name"))

    op.drop_table("events")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_app_id_created_at"))

    op.drop_table("campaigns")
    with op.batch_alter_table("import_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_files_status"))
        batch_op.drop_index(batch_op.f("ix_import_files_app_id_sha256"))
        batch_op.drop_index(batch_op.f("ix_import_files_app_id_received_at"))

    op.drop_table("import_files")
    op.drop_table("ftp_account_networks")
    op.drop_table("ftp_account_keys")
    op.drop_table("export_destinations")
    op.drop_table("export_deliveries")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devices_user_id"))
        batch_op.drop_index(batch_op.f("ix_devices_app_id_updated_at"))

    op.drop_table("devices")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_app_id_updated_at"))

    op.drop_table("users")
    op.drop_table("remote_servers")
    op.drop_table("panel_users")
    with op.batch_alter_table("ftp_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ftp_accounts_app_id"))

    op.drop_table("ftp_accounts")
    with op.batch_alter_table("export_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_runs_app_id_created_at"))

    op.drop_table("export_runs")
    op.drop_table("attribute_definitions")
    op.drop_table("api_keys")
    op.drop_table("job_runs")
    op.drop_table("apps")
