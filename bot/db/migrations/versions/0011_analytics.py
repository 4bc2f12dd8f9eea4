"""analytics: daily roll-ups for the dashboard, handoff durations, unanswered messages; conv_turns by time

Revision ID: 0011_analytics
Revises: 0010_helpdesk_desk
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_analytics"
down_revision = "0010_helpdesk_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Days are Vietnam calendar dates; rolled_at is naive UTC.
    op.create_table(
        "analytics_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", "model_id", "metric", "key"),
    )
    op.create_index("ix_analytics_daily_metric_day", "analytics_daily", ["metric", "day"])
    op.create_table(
        "analytics_durations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("office_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_analytics_durations_day", "analytics_durations", ["day", "kind"])
    op.create_table(
        "analytics_unanswered",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", "text"),
    )
    op.create_table(
        "analytics_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    # A day's roll-up reads that day's turns (and the purge finds old ones) without a full scan.
    op.create_index("ix_conv_turns_at", "conv_turns", ["at"])


def downgrade() -> None:
    op.drop_index("ix_conv_turns_at", table_name="conv_turns")
    op.drop_table("analytics_days")
    op.drop_table("analytics_unanswered")
    op.drop_index("ix_analytics_durations_day", table_name="analytics_durations")
    op.drop_table("analytics_durations")
    op.drop_index("ix_analytics_daily_metric_day", table_name="analytics_daily")
    op.drop_table("analytics_daily")
