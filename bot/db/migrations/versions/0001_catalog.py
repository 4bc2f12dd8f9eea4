"""Catalogue tables (catalog_*): procedures and their agencies, cases, documents, methods, fees, steps, legal bases.

Revision ID: 0001_catalog
Revises: (none, first revision)
Create Date: 2026-11-27 00:12:48.050181
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_procedures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("province", sa.String(length=8), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("field", sa.Text(), nullable=True),
        sa.Column("online_level", sa.String(length=16), nullable=False),
        sa.Column("online_portals", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("requirements", sa.Text(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("verified_on", sa.Date(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("detail_level", sa.String(length=16), nullable=False),
        sa.Column("portal_id", sa.String(length=36), nullable=True),
        sa.Column("portal_type", sa.String(length=32), nullable=True),
        sa.Column("promulgated_by", sa.Text(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("target_types", sa.JSON(), nullable=False),
        sa.Column("crosscheck_notes", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "detail_level IN ('summary', 'detail')",
            name="ck_catalog_procedures_detail_level",
        ),
        sa.CheckConstraint(
            "online_level IN ('full', 'partial', 'none', 'unknown')",
            name="ck_catalog_procedures_online_level",
        ),
        sa.CheckConstraint("origin IN ('curated', 'portal')", name="ck_catalog_procedures_origin"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "province", name="uq_catalog_procedures_code_province"),
    )
    with op.batch_alter_table("catalog_procedures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_procedures_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_procedures_portal_id"), ["portal_id"], unique=False)

    op.create_table(
        "catalog_agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "level IN ('commune', 'province', 'central', 'other')",
            name="ck_catalog_agencies_level",
        ),
        sa.CheckConstraint("role IN ('competent', 'implementing')", name="ck_catalog_agencies_role"),
        sa.ForeignKeyConstraint(["procedure_id"], ["catalog_procedures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_agencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_agencies_procedure_id"),
            ["procedure_id"],
            unique=False,
        )

    op.create_table(
        "catalog_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("common", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["procedure_id"], ["catalog_procedures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_cases_procedure_id"), ["procedure_id"], unique=False)

    op.create_table(
        "catalog_legal_bases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["procedure_id"], ["catalog_procedures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_legal_bases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_legal_bases_procedure_id"),
            ["procedure_id"],
            unique=False,
        )

    op.create_table(
        "catalog_methods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("processing_time", sa.Float(), nullable=True),
        sa.Column("time_unit", sa.String(length=16), nullable=False),
        sa.Column("time_note", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "channel IN ('online', 'direct', 'postal')",
            name="ck_catalog_methods_channel",
        ),
        sa.CheckConstraint(
            "time_unit IN ('working_day', 'day', 'hour', 'other')",
            name="ck_catalog_methods_time_unit",
        ),
        sa.ForeignKeyConstraint(["procedure_id"], ["catalog_procedures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_methods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_methods_procedure_id"),
            ["procedure_id"],
            unique=False,
        )

    op.create_table(
        "catalog_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["procedure_id"], ["catalog_procedures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_steps_procedure_id"), ["procedure_id"], unique=False)

    op.create_table(
        "catalog_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("originals", sa.Integer(), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("e_form", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["catalog_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_documents_case_id"), ["case_id"], unique=False)

    op.create_table(
        "catalog_fees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.CheckConstraint("source IN ('portal', 'legal_basis')", name="ck_catalog_fees_source"),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name="ck_catalog_fees_amount"),
        sa.ForeignKeyConstraint(["method_id"], ["catalog_methods.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_fees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_fees_method_id"), ["method_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalog_fees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_fees_method_id"))

    op.drop_table("catalog_fees")
    with op.batch_alter_table("catalog_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_documents_case_id"))

    op.drop_table("catalog_documents")
    with op.batch_alter_table("catalog_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_steps_procedure_id"))

    op.drop_table("catalog_steps")
    with op.batch_alter_table("catalog_methods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_methods_procedure_id"))

    op.drop_table("catalog_methods")
    with op.batch_alter_table("catalog_legal_bases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_legal_bases_procedure_id"))

    op.drop_table("catalog_legal_bases")
    with op.batch_alter_table("catalog_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_cases_procedure_id"))

    op.drop_table("catalog_cases")
    with op.batch_alter_table("catalog_agencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_agencies_procedure_id"))

    op.drop_table("catalog_agencies")
    with op.batch_alter_table("catalog_procedures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_procedures_portal_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_procedures_code"))

    op.drop_table("catalog_procedures")
