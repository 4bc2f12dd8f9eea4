"""privacy: the record of conversations' erasure tombstones (events of an erased conversation that
arrive late are dropped)

Revision ID: 0015_record_erasures
Revises: 0014_training
Create Date: 2026-12-07 13:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_record_erasures"
down_revision = "0014_training"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_record_erasures",
        sa.Column("sender_key", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sender_key"),
    )


def downgrade() -> None:
    op.drop_table("privacy_record_erasures")
