"""panel sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 07:37:17.680047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ftpush.storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "panel_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["panel_users.id"],
            name=op.f("fk_panel_sessions_user_id_panel_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_panel_sessions_token_hash")),
    )
    with op.batch_alter_table("panel_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_panel_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("panel_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_panel_sessions_user_id"))

    op.drop_table("panel_sessions")
