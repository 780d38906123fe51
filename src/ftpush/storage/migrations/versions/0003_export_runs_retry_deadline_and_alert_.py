"""export runs: retry deadline and alert record; export deliveries: attempt lease

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:33:07.223716
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ftpush.storage.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("export_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retry_until", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("alerted_at", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("alert_error", sa.Text(), nullable=True))
    with op.batch_alter_table("export_deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "attempting_until", ftpush.storage.types.UtcDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("export_deliveries", schema=None) as batch_op:
        batch_op.drop_column("attempting_until")
    with op.batch_alter_table("export_runs", schema=None) as batch_op:
        batch_op.drop_column("alert_error")
        batch_op.drop_column("alerted_at")
        batch_op.drop_column("retry_until")
