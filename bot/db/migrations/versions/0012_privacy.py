"""privacy: holds on conversations (kept out of purge and erasure) and the audit of personal-data requests

Revision ID: 0012_privacy
Revises: 0011_analytics
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_privacy"
down_revision = "0011_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC. The erasure tombstones (privacy_erasures) live in the tracker
    # database, not here: see bot/privacy/models.py.
    op.create_table(
        "privacy_holds",
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id"),
    )
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_requests_at", "privacy_requests", ["at"])


def downgrade() -> None:
    op.drop_index("ix_privacy_requests_at", table_name="privacy_requests")
    op.drop_table("privacy_requests")
    op.drop_table("privacy_holds")
