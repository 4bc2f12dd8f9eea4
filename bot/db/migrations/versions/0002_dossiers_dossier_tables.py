"""Dossier tracking tables: dossiers, status history, verification attempts, audit log, subscriptions.

Revision ID: 0002_dossiers
Revises: 0001_catalog
Create Date: 2026-11-27 00:19:30.710786
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_dossiers"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Date-times are naive UTC (bot.dossiers.models.UTCDateTime is a DateTime underneath).
    op.create_table(
        "dossiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("procedure_code", sa.String(length=32), nullable=False),
        sa.Column("procedure_name", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("receiving_unit", sa.Text(), nullable=False),
        sa.Column("received_date", sa.Date(), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("applicant_name", sa.Text(), nullable=True),
        sa.Column("applicant_address", sa.Text(), nullable=True),
        sa.Column("applicant_id", sa.String(length=16), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_last4", sa.String(length=4), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("status BETWEEN 1 AND 10", name="ck_dossiers_status"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name="uq_dossiers_code"),
    )
    op.create_table(
        "dossier_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["dossier_id"], ["dossiers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dossier_status_history_dossier_id", "dossier_status_history", ["dossier_id"])
    op.create_table(
        "dossier_verification_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sender_ref", sa.String(length=64), nullable=False),
        sa.Column("dossier_code", sa.String(length=32), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("status_seen", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dossier_attempts_sender_at", "dossier_verification_attempts", ["sender_ref", "at"])
    op.create_index("ix_dossier_attempts_code_at", "dossier_verification_attempts", ["dossier_code", "at"])
    op.create_table(
        "dossier_audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("sender_ref", sa.String(length=64), nullable=True),
        sa.Column("dossier_code", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dossier_audit_log_at", "dossier_audit_log", ["at"])
    op.create_table(
        "dossier_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("dossier_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_notified_status", sa.Integer(), nullable=True),
        sa.Column("last_notified_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "sender_id", "dossier_code", name="uq_dossier_subscriptions"),
    )
    op.create_index("ix_dossier_subscriptions_dossier_code", "dossier_subscriptions", ["dossier_code"])


def downgrade() -> None:
    op.drop_table("dossier_subscriptions")
    op.drop_table("dossier_audit_log")
    op.drop_table("dossier_verification_attempts")
    op.drop_table("dossier_status_history")
    op.drop_table("dossiers")
