"""hashed phone digits: dossiers.phone_last4 (clear) -> dossiers.phone_last4_hash (HMAC-SHA256 hex)

The 4 verification digits are replaced by their HMAC with the phone salt
(``bot.settings``: ``DOSSIER_PHONE_SALT`` or ``var/dossier_phone_salt``), so run
this migration with the same environment as the bot. The salt is read only when a row has digits.

SQLite: the column is dropped with the native ``ALTER TABLE … DROP COLUMN`` (SQLite >= 3.35) through
``batch_alter_table(recreate="never")``. Recreating ``dossiers`` instead would drop the old table while
foreign keys are on, and ``ON DELETE CASCADE`` would wipe ``dossier_status_history``; on an older SQLite
the recreate is used and the history rows are put back afterwards.

Revision ID: 0005_hashed_phone_digits
Revises: 0004_webhook_receipts
Create Date: 2026-11-27 04:00:00.000000
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0005_hashed_phone_digits"
down_revision = "0004_webhook_receipts"
branch_labels = None
depends_on = None

_dossiers = sa.table(
    "dossiers",
    sa.column("id", sa.Integer),
    sa.column("phone_last4", sa.String),
    sa.column("phone_last4_hash", sa.String),
)
_history = sa.table(
    "dossier_status_history",
    sa.column("id", sa.Integer),
    sa.column("dossier_id", sa.Integer),
    sa.column("status", sa.Integer),
    sa.column("changed_at", sa.DateTime),
    sa.column("note", sa.Text),
)


def _hash_last4(digits: str, salt: bytes) -> str:
    # Frozen copy of bot.dossiers.source.hash_last4 as of this revision (a test checks they agree).
    return hmac.new(salt, f"last4:{digits}".encode("ascii"), hashlib.sha256).hexdigest()


def _salt() -> bytes:
    from bot.settings import settings

    return settings().dossiers.phone_salt.reveal().encode()


def _native_drop_column() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return True
    return tuple(bind.dialect.dbapi.sqlite_version_info) >= (3, 35, 0)


def _drop_column(column: str, before: Callable[[], None] | None = None) -> None:
    """Drop ``dossiers.<column>`` without letting SQLite cascade-delete the status history."""
    if _native_drop_column():
        with op.batch_alter_table("dossiers", recreate="never") as batch:
            batch.drop_column(column)
        return
    bind = op.get_bind()
    history = [dict(row._mapping) for row in bind.execute(sa.select(_history))]
    with op.batch_alter_table("dossiers", recreate="always") as batch:
        batch.drop_column(column)
    bind.execute(sa.delete(_history))
    if history:
        bind.execute(sa.insert(_history), history)


def upgrade() -> None:
    with op.batch_alter_table("dossiers", recreate="never") as batch:
        batch.add_column(sa.Column("phone_last4_hash", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_dossiers.c.id, _dossiers.c.phone_last4).where(_dossiers.c.phone_last4.is_not(None))
    ).all()
    if rows:
        salt = _salt()
        for row_id, raw in rows:
            digits = "".join(ch for ch in str(raw) if ch.isdigit())
            value = _hash_last4(digits, salt) if len(digits) == 4 else None
            bind.execute(sa.update(_dossiers).where(_dossiers.c.id == row_id).values(phone_last4_hash=value))
    _drop_column("phone_last4")


def downgrade() -> None:
    # The digits come back from a table of the 10,000 possible HMACs (same salt as the upgrade).
    with op.batch_alter_table("dossiers", recreate="never") as batch:
        batch.add_column(sa.Column("phone_last4", sa.String(length=4), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_dossiers.c.id, _dossiers.c.phone_last4_hash).where(_dossiers.c.phone_last4_hash.is_not(None))
    ).all()
    if rows:
        salt = _salt()
        table = {_hash_last4(f"{n:04d}", salt): f"{n:04d}" for n in range(10_000)}
        for row_id, value in rows:
            bind.execute(sa.update(_dossiers).where(_dossiers.c.id == row_id).values(phone_last4=table.get(value)))
    _drop_column("phone_last4_hash")
