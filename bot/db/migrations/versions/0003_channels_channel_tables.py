"""channel tables

Revision ID: 0003_channels
Revises: 0002_dossiers
Create Date: 2026-11-27 00:28:43.507335
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_channels"
down_revision = "0002_dossiers"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "channel_oauth_tokens",
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider"),
    )
    op.create_table(
        "channel_seen_events",
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_key"),
    )
    op.create_table(
        "channel_user_activity",
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("last_user_message_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "user_id"),
    )


def downgrade() -> None:

    op.drop_table("channel_user_activity")
    op.drop_table("channel_seen_events")
    op.drop_table("channel_oauth_tokens")
