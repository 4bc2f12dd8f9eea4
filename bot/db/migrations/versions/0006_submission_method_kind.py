"""submission method kind: catalog_methods.channel -> catalog_methods.kind

"Channel" now means only a chat platform; a way to file (online | direct | postal) is a
submission method (the portal's ``submissionMethod``), whose ``kind`` this column holds. The
check constraint ``ck_catalog_methods_channel`` becomes ``ck_catalog_methods_kind``.

PostgreSQL: plain ``ALTER TABLE`` (rename column, drop and add the constraint). SQLite cannot
rename a constraint, so ``catalog_methods`` is recreated (batch mode, from the explicit table
below). Dropping the old table while foreign keys are on would cascade-delete every
``catalog_fees`` row, so the fees are copied aside first and put back afterwards (the method
ids are kept by the copy).

Revision ID: 0006_submission_method_kind
Revises: 0005_hashed_phone_digits
Create Date: 2026-11-28 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_submission_method_kind"
down_revision = "0005_hashed_phone_digits"
branch_labels = None
depends_on = None

_KINDS = "IN ('online', 'direct', 'postal')"


def _methods_table(column: str) -> sa.Table:
    """``catalog_methods`` as it is with the kind column named ``column`` (for SQLite's batch copy)."""
    return sa.Table(
        "catalog_methods",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(column, sa.String(length=16), nullable=False),
        sa.Column("processing_time", sa.Float(), nullable=True),
        sa.Column("time_unit", sa.String(length=16), nullable=False),
        sa.Column("time_note", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(f"{column} {_KINDS}", name=f"ck_catalog_methods_{column}"),
        sa.CheckConstraint("time_unit IN ('working_day', 'day', 'hour', 'other')", name="ck_catalog_methods_time_unit"),
        sa.ForeignKeyConstraint(["procedure_id"], ["catalog_procedures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.Index("ix_catalog_methods_procedure_id", "procedure_id"),
    )


def _rename(old: str, new: str) -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    fees_table = sa.Table("catalog_fees", sa.MetaData(), autoload_with=bind) if sqlite else None
    fees = [dict(row._mapping) for row in bind.execute(sa.select(fees_table))] if fees_table is not None else []
    with op.batch_alter_table(
        "catalog_methods",
        recreate="always" if sqlite else "never",
        copy_from=_methods_table(old) if sqlite else None,
    ) as batch:
        batch.drop_constraint(f"ck_catalog_methods_{old}", type_="check")
        batch.alter_column(old, new_column_name=new, existing_type=sa.String(length=16), existing_nullable=False)
        batch.create_check_constraint(f"ck_catalog_methods_{new}", f"{new} {_KINDS}")
    if fees_table is not None:
        bind.execute(sa.delete(fees_table))  # whatever the cascade left, so the copy goes back whole
        if fees:
            bind.execute(sa.insert(fees_table), fees)


def upgrade() -> None:
    _rename("channel", "kind")


def downgrade() -> None:
    _rename("kind", "channel")
