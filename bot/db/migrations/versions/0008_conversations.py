"""conversations: the record of conversations (a read model of Rasa's events) and its search index

Revision ID: 0008_conversations
Revises: 0007_helpdesk
Create Date: 2026-12-07 06:00:00.000000

Text search is the table ``conv_terms`` (folded word -> conversation), the same on SQLite and
PostgreSQL: an FTS5 virtual table would leave shadow tables that the models cannot describe.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_conversations"
down_revision = "0007_helpdesk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC.
    op.create_table(
        "conv_conversations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("last_citizen_at", sa.DateTime(), nullable=True),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("fallbacks", sa.Integer(), nullable=False),
        sa.Column("lowest_confidence", sa.Float(), nullable=True),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rating_target", sa.String(length=120), nullable=True),
        sa.Column("model_id", sa.String(length=100), nullable=True),
        sa.Column("open_turn_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_id"),
    )
    op.create_index("ix_conv_conversations_last", "conv_conversations", ["last_at", "id"])
    op.create_index("ix_conv_conversations_channel_last", "conv_conversations", ["channel", "last_at", "id"])
    op.create_table(
        "conv_turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("entities", sa.JSON(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("procedure_code", sa.String(length=40), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("model_id", sa.String(length=100), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conv_turns_sender_id", "conv_turns", ["sender_id", "id"])
    op.create_table(
        "conv_procedures",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "code"),
    )
    op.create_index("ix_conv_procedures_code", "conv_procedures", ["code", "conversation_id"])
    op.create_table(
        "conv_intents",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "intent"),
    )
    op.create_index("ix_conv_intents_intent", "conv_intents", ["intent", "conversation_id"])
    op.create_table(
        "conv_terms",
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", "conversation_id"),
    )
    op.create_table(
        "conv_events_seen",
        sa.Column("event_key", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("event_key"),
    )


def downgrade() -> None:
    op.drop_table("conv_events_seen")
    op.drop_table("conv_terms")
    op.drop_index("ix_conv_intents_intent", table_name="conv_intents")
    op.drop_table("conv_intents")
    op.drop_index("ix_conv_procedures_code", table_name="conv_procedures")
    op.drop_table("conv_procedures")
    op.drop_index("ix_conv_turns_sender_id", table_name="conv_turns")
    op.drop_table("conv_turns")
    op.drop_index("ix_conv_conversations_channel_last", table_name="conv_conversations")
    op.drop_index("ix_conv_conversations_last", table_name="conv_conversations")
    op.drop_table("conv_conversations")
