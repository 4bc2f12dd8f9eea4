"""helpdesk: handoffs of conversations to staff (the queue, who holds each, how it ended)

Revision ID: 0007_helpdesk
Revises: 0006_submission_method_kind
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_helpdesk"
down_revision = "0006_submission_method_kind"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC.
    op.create_table(
        "helpdesk_handoffs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_helpdesk_handoffs_state_opened", "helpdesk_handoffs", ["state", "opened_at"])
    op.create_index("ix_helpdesk_handoffs_sender_state", "helpdesk_handoffs", ["sender_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_helpdesk_handoffs_sender_state", table_name="helpdesk_handoffs")
    op.drop_index("ix_helpdesk_handoffs_state_opened", table_name="helpdesk_handoffs")
    op.drop_table("helpdesk_handoffs")
