"""training: background training runs (state, phase, progress, log tail, heartbeat; one running at a time)

Revision ID: 0016_training_runs
Revises: 0015_record_erasures
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_training_runs"
down_revision = "0015_record_erasures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC. See bot/training/models.py (RunRow).
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("started_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("root", sa.Text(), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=True),
        sa.Column("labels", sa.String(length=64), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("active_slot", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_slot", name="uq_training_runs_active_slot"),
    )
    op.create_index("ix_training_runs_model", "training_runs", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_training_runs_model", table_name="training_runs")
    op.drop_table("training_runs")
