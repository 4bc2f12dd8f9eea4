"""helpdesk: agents' presence, call-back requests, and the admin-kept swap days of the office calendar

Revision ID: 0010_helpdesk_desk
Revises: 0009_console
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_helpdesk_desk"
down_revision = "0009_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC; calendar days are Vietnam dates.
    op.create_table(
        "helpdesk_presence",
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("agent"),
    )
    op.create_table(
        "helpdesk_callbacks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_helpdesk_callbacks_state_requested", "helpdesk_callbacks", ["state", "requested_at"])
    op.create_table(
        "helpdesk_calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    op.drop_table("helpdesk_calendar_days")
    op.drop_index("ix_helpdesk_callbacks_state_requested", table_name="helpdesk_callbacks")
    op.drop_table("helpdesk_callbacks")
    op.drop_table("helpdesk_presence")
