"""webhook receipts: signed one-door webhook requests already accepted (replay protection)

Revision ID: 0004_webhook_receipts
Revises: 0003_channels
Create Date: 2026-11-27 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_webhook_receipts"
down_revision = "0003_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC (bot.dossiers.models.UTCDateTime is a DateTime underneath).
    op.create_table(
        "webhook_receipts",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_webhook_receipts_expires_at", "webhook_receipts", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_receipts_expires_at", table_name="webhook_receipts")
    op.drop_table("webhook_receipts")
