"""Column types shared by every package's models (no Rasa imports).

Which date-time column to use: ``UTCDateTime`` with ``default=utcnow`` for an aware UTC value in
Python (stored as naive UTC); plain ``DateTime`` with ``default=naive_utc`` where the code works in
naive UTC (the channel tables). Both helpers are in :mod:`bot.db.clock`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

from bot.db.clock import naive_utc

__all__ = ["UTCDateTime"]


class UTCDateTime(TypeDecorator):
    """Aware UTC in Python, naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        return naive_utc(value)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None
