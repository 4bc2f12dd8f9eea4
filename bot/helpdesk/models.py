"""SQLAlchemy model of the help desk's handoffs (table ``helpdesk_handoffs``, migration ``0007_helpdesk``).

Date-times are naive UTC (see :func:`bot.db.clock.naive_utc`). One row per request for a person;
a conversation has at most one handoff that is not closed.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String

from bot.db import Base

__all__ = ["HandoffRow"]


class HandoffRow(Base):
    """A conversation handed to the help desk: waiting in the queue, taken by an agent, then closed."""

    __tablename__ = "helpdesk_handoffs"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(200), nullable=False)  # the conversation (Rasa's sender id)
    channel = Column(String(40), nullable=False)
    reason = Column(String(20), nullable=False)  # asked | fallback | low_confidence | dossier
    state = Column(String(10), nullable=False)  # waiting | active | closed
    agent = Column(String(100), nullable=True)  # the staff member who holds it (active, closed)
    end_reason = Column(String(20), nullable=True)  # answered | no_answer | citizen_left | abusive | other
    opened_at = Column(DateTime, nullable=False)
    claimed_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)

    __table_args__ = (
        Index("ix_helpdesk_handoffs_state_opened", "state", "opened_at"),
        Index("ix_helpdesk_handoffs_sender_state", "sender_id", "state"),
    )
