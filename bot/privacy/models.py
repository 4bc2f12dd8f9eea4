"""SQLAlchemy models of the personal-data lifecycle (tables ``privacy_*``, migration ``0012_privacy``).

Date-times are naive UTC (:func:`bot.db.clock.naive_utc`). Nothing here holds a phone number in
clear: a request's subject is masked or a keyed hash (:func:`bot.privacy.lifecycle.Subject.label`).

:data:`ERASURES` is not on ``Base``: it lives in the *tracker* database, next to Rasa's ``events``,
because the tracker store checks it in the same session as it writes a turn (one primary-key probe).
It is created there with ``checkfirst`` by whoever uses it first (:func:`ensure_erasures`), like Rasa
creates ``events``; the Alembic chain only manages the application database.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from bot.db import Base

__all__ = [
    "ERASURES", "TRACKER_EVENTS", "TRACKER_METADATA", "HoldRow", "RecordErasureRow", "RequestRow", "ensure_erasures",
]  # fmt: skip


class HoldRow(Base):
    """A conversation kept out of the retention purge and of erasure (a complaint, an inspection…)."""

    __tablename__ = "privacy_holds"

    sender_id = Column(String(255), primary_key=True)
    reference = Column(String(100), nullable=False)  # the complaint's or the decision's number
    reason = Column(Text, nullable=False)
    created_by = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False)


class RequestRow(Base):
    """The audit of personal-data requests: an erasure, an export, or one batch of the retention purge."""

    __tablename__ = "privacy_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(100), nullable=False)  # the request's number (phiếu yêu cầu), or "retention"
    kind = Column(String(10), nullable=False)  # erase | export | purge
    subject_kind = Column(String(10), nullable=False)  # sender | phone | dossier | retention
    subject = Column(String(200), nullable=False)  # masked or keyed hash, never a clear phone number
    requested_by = Column(String(100), nullable=False)
    at = Column(DateTime, nullable=False)
    result = Column(JSON, nullable=True)  # {"senders": n, "rows": {"table": n, …}}

    __table_args__ = (Index("ix_privacy_requests_at", "at"),)


class RecordErasureRow(Base):
    """The record of conversations' erasure tombstone: events of an erased conversation older than
    ``erased_at`` that reach the record later (a lagging consumer, a replica's events kept during a
    broker outage) are dropped (bot.conversations.recorder)."""

    __tablename__ = "privacy_record_erasures"

    sender_key = Column(String(64), primary_key=True)  # keyed hash of the sender id: names no one
    erased_at = Column(Float, nullable=False)  # epoch seconds, as Rasa's event timestamps


# The tracker database: Rasa's own table (the columns used here) and our erasure tombstones.
TRACKER_METADATA = MetaData()

TRACKER_EVENTS = Table(
    "events",
    TRACKER_METADATA,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

ERASURES = Table(
    "privacy_erasures",
    TRACKER_METADATA,
    # Keyed hash of the sender id (bot.privacy.lifecycle.sender_key): the tombstone names no one.
    Column("sender_key", String(64), primary_key=True),
    # Epoch seconds, the unit of events.timestamp: events older than this are never written again.
    Column("erased_at", Float, nullable=False),
)


def ensure_erasures(bind: Engine | Connection) -> None:
    """Create ``privacy_erasures`` in the tracker database unless it exists (two processes may race)."""
    try:
        ERASURES.create(bind, checkfirst=True)
    except DBAPIError:
        # Another process created it between the check and the CREATE; anything else fails again below.
        ERASURES.create(bind, checkfirst=True)
