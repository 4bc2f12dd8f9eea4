"""SQLAlchemy models of the help desk: handoffs (``0007_helpdesk``); presence, call-backs and calendar days
(``0010_helpdesk_desk``).

Date-times are naive UTC (see :func:`bot.db.clock.naive_utc`). One row per request for a person;
a conversation has at most one handoff that is not closed.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Index, Integer, String, Text

from bot.db import Base

__all__ = ["CalendarDayRow", "CallbackRow", "HandoffRow", "PresenceRow"]


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


class PresenceRow(Base):
    """When the console last heard from an agent: online while that is recent (``HELPDESK_PRESENCE_SECONDS``)."""

    __tablename__ = "helpdesk_presence"

    agent = Column(String(100), primary_key=True)
    last_seen = Column(DateTime, nullable=False)


class CallbackRow(Base):
    """A citizen's request to be called back, left when no one could take the conversation."""

    __tablename__ = "helpdesk_callbacks"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(200), nullable=False)
    channel = Column(String(40), nullable=False)
    phone = Column(Text, nullable=False)  # sealed digits (bot.privacy.seal): staff must call it (0013)
    requested_at = Column(DateTime, nullable=False)
    state = Column(String(12), nullable=False)  # pending | reached | not_reached
    agent = Column(String(100), nullable=True)
    updated_at = Column(DateTime, nullable=True)

    __table_args__ = (Index("ix_helpdesk_callbacks_state_requested", "state", "requested_at"),)


class CalendarDayRow(Base):
    """A day of the year's swap schedule, kept by an admin: an extra day off, or a make-up working day."""

    __tablename__ = "helpdesk_calendar_days"

    day = Column(Date, primary_key=True)
    kind = Column(String(4), nullable=False)  # off | work
    note = Column(String(200), nullable=False, default="")
    created_by = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False)
