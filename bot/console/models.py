"""SQLAlchemy models of the staff console (migration ``0009_console``): accounts, audit log, private notes.

Date-times are naive UTC (:func:`bot.db.clock.naive_utc`).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Text

from bot.db import Base
from bot.db.clock import naive_utc

__all__ = ["AuditRow", "NoteRow", "UserRow"]


class UserRow(Base):
    """A staff account of the console."""

    __tablename__ = "console_users"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(100), nullable=False, unique=True)
    display_name = Column(String(200), nullable=False, default="")
    role = Column(String(20), nullable=False)  # agent | trainer | supervisor | admin
    password_hash = Column(String(300), nullable=False)  # argon2id
    disabled = Column(Boolean, nullable=False, default=False)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime, nullable=True)
    session_version = Column(Integer, nullable=False, default=1)  # bumped by logout and password changes
    created_at = Column(DateTime, nullable=False, default=naive_utc)


class AuditRow(Base):
    """Who did what in the console: transcript views, unmasking (with the reason), logins, account changes."""

    __tablename__ = "console_audit"

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime, nullable=False, default=naive_utc)
    username = Column(String(100), nullable=False)
    action = Column(String(40), nullable=False)
    target = Column(String(200), nullable=True)  # a sender id, a handoff id or a username
    reason = Column(Text, nullable=True)
    client = Column(String(100), nullable=True)

    __table_args__ = (Index("ix_console_audit_at", "at"),)


class NoteRow(Base):
    """A private note of staff about a handoff (never sent to the citizen)."""

    __tablename__ = "console_notes"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, nullable=False)
    sender_id = Column(String(200), nullable=False)
    author = Column(String(100), nullable=False)
    at = Column(DateTime, nullable=False, default=naive_utc)
    text = Column(Text, nullable=False)

    __table_args__ = (
        Index("ix_console_notes_handoff", "handoff_id"),
        Index("ix_console_notes_sender", "sender_id"),
    )
