"""training: the trainer loop's flags, reviews, model registry and its audit

Revision ID: 0014_training
Revises: 0013_sealed_callback_phone
Create Date: 2026-12-07 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_training"
down_revision = "0013_sealed_callback_phone"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC. See bot/training/models.py.
    op.create_table(
        "training_flags",
        sa.Column("turn_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text_key", sa.String(length=40), nullable=False),
        sa.Column("flagged_by", sa.String(length=100), nullable=False),
        sa.Column("flagged_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("turn_id"),
    )
    op.create_index("ix_training_flags_text_key", "training_flags", ["text_key"])
    op.create_table(
        "training_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text_key", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("predicted_intent", sa.String(length=100), nullable=True),
        sa.Column("entities", sa.JSON(), nullable=False),
        sa.Column("procedure_code", sa.String(length=40), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text_key"),
    )
    op.create_index("ix_training_reviews_decided_at", "training_reviews", ["decided_at"])
    op.create_table(
        "training_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_file", sa.String(length=255), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("trained_by", sa.String(length=100), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("live_slot", sa.Integer(), nullable=True),
        sa.Column("promoted_at", sa.DateTime(), nullable=True),
        sa.Column("promoted_by", sa.String(length=100), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(), nullable=True),
        sa.Column("rejected_by", sa.String(length=100), nullable=True),
        sa.Column("rejected_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("live_slot", name="uq_training_models_live_slot"),
    )
    op.create_index("ix_training_models_data_hash", "training_models", ["data_hash"])
    op.create_table(
        "training_model_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_training_model_events_model", "training_model_events", ["model_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_training_model_events_model", table_name="training_model_events")
    op.drop_table("training_model_events")
    op.drop_index("ix_training_models_data_hash", table_name="training_models")
    op.drop_table("training_models")
    op.drop_index("ix_training_reviews_decided_at", table_name="training_reviews")
    op.drop_table("training_reviews")
    op.drop_index("ix_training_flags_text_key", table_name="training_flags")
    op.drop_table("training_flags")
