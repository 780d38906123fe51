"""per-app push provider settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:54:11.171482
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ftpush.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_providers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("app_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "platform IN ('ios', 'android', 'any')", name=op.f("ck_push_providers_platform")
        ),
        sa.ForeignKeyConstraint(
            ["app_id"], ["apps.id"], name=op.f("fk_push_providers_app_id_apps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_providers")),
        sa.UniqueConstraint("app_id", "platform", name=op.f("uq_push_providers_app_id_platform")),
    )


def downgrade() -> None:
    op.drop_table("push_providers")
