"""SQLAlchemy models of the analytics roll-ups (``analytics_*`` tables, migration ``0011_analytics``).

Rows are computed from the record of conversations, the help desk and the dossier audit log by
:mod:`bot.analytics.rollup`, one Vietnam calendar day at a time, and read by the dashboard without
touching events. :class:`DailyRow` and :class:`DurationRow` hold no personal data (counts, seconds,
channel, model id, procedure code, intent) and are kept ``RETENTION_ROLLUP_DAYS``;
:class:`UnansweredRow` holds citizens' masked words and is kept as long as transcripts
(``RETENTION_TRANSCRIPT_DAYS``). Definitions of every figure: ``docs/ANALYTICS.md``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Float, Index, Integer, PrimaryKeyConstraint, String

from bot.db import Base

__all__ = ["DailyRow", "DayRow", "DurationRow", "UnansweredRow"]


class DailyRow(Base):
    """One figure of one day: ``value`` of ``metric`` (``key``: e.g. a handoff reason) for a channel and model."""

    __tablename__ = "analytics_daily"

    day = Column(Date, nullable=False)  # Vietnam calendar day; for metric citizens_week the week's Monday
    channel = Column(String(40), nullable=False)
    model_id = Column(String(100), nullable=False)  # "" when not known (a handoff, a dossier lookup)
    metric = Column(String(40), nullable=False)
    key = Column(String(120), nullable=False)  # "" for a plain count
    value = Column(Float, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("day", "channel", "model_id", "metric", "key"),
        Index("ix_analytics_daily_metric_day", "metric", "day"),
    )


class DurationRow(Base):
    """One handoff's waiting time or time to the first staff reply, in seconds (all, and office hours only)."""

    __tablename__ = "analytics_durations"

    id = Column(Integer, primary_key=True, autoincrement=True)
    day = Column(Date, nullable=False)  # the day the handoff was opened
    channel = Column(String(40), nullable=False)
    kind = Column(String(12), nullable=False)  # wait | first_reply
    seconds = Column(Float, nullable=False)
    office_seconds = Column(Float, nullable=False)

    __table_args__ = (Index("ix_analytics_durations_day", "day", "kind"),)


class UnansweredRow(Base):
    """A message the bot did not understand (fallback), folded and masked, with how often it came that day."""

    __tablename__ = "analytics_unanswered"

    day = Column(Date, nullable=False)
    channel = Column(String(40), nullable=False)
    text = Column(String(200), nullable=False)  # masked, folded to lower case without diacritics
    count = Column(Integer, nullable=False)

    __table_args__ = (PrimaryKeyConstraint("day", "channel", "text"),)


class DayRow(Base):
    """A day already rolled up; ``closed`` once rolled after the day ended (its figures no longer change)."""

    __tablename__ = "analytics_days"

    day = Column(Date, primary_key=True)
    rolled_at = Column(DateTime, nullable=False)  # naive UTC
    closed = Column(Boolean, nullable=False)
