"""helpdesk: the call-back phone number kept sealed (SEAL_KEY) instead of in clear

Revision ID: 0013_sealed_callback_phone
Revises: 0012_privacy
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_sealed_callback_phone"
down_revision = "0012_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A Fernet token is about 100 characters: the column becomes Text, and the numbers already there are sealed.
    with op.batch_alter_table("helpdesk_callbacks") as batch:
        batch.alter_column("phone", existing_type=sa.String(length=20), type_=sa.Text(), existing_nullable=False)
    from bot.privacy import seal

    conn = op.get_bind()
    table = sa.table("helpdesk_callbacks", sa.column("id", sa.Integer), sa.column("phone", sa.Text))
    for row_id, phone in conn.execute(sa.select(table.c.id, table.c.phone)).all():
        if phone and phone.isdigit():
            conn.execute(sa.update(table).where(table.c.id == row_id).values(phone=seal(phone)))


def downgrade() -> None:
    from bot.privacy import SealError, unseal

    conn = op.get_bind()
    table = sa.table("helpdesk_callbacks", sa.column("id", sa.Integer), sa.column("phone", sa.Text))
    for row_id, phone in conn.execute(sa.select(table.c.id, table.c.phone)).all():
        try:
            clear = unseal(phone)
        except SealError:
            clear = ""
        conn.execute(sa.update(table).where(table.c.id == row_id).values(phone=clear[:20]))
    with op.batch_alter_table("helpdesk_callbacks") as batch:
        batch.alter_column("phone", existing_type=sa.Text(), type_=sa.String(length=20), existing_nullable=False)
