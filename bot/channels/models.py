"""SQLAlchemy models of channel state (tables ``channel_*``, migration ``0003_channels``).

Date-times are naive UTC (plain ``DateTime`` columns; see :func:`bot.db.clock.naive_utc`).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Text

from bot.db import Base
from bot.db.clock import naive_utc

__all__ = ["OAuthToken", "SeenEvent", "UserActivity"]


class OAuthToken(Base):
    """The current access/refresh token pair of one provider account (e.g. ``zalo:<app_id>``)."""

    __tablename__ = "channel_oauth_tokens"

    provider = Column(String(100), primary_key=True)
    access_token = Column(Text, nullable=False)
    refresh_token = Column(Text, nullable=False)
    access_expires_at = Column(DateTime, nullable=True)
    version = Column(Integer, nullable=False, default=1)
    lease_until = Column(DateTime, nullable=True)
    updated_at = Column(DateTime, nullable=False, default=naive_utc)


class SeenEvent(Base):
    """Webhook events already accepted, to reject replays across replicas."""

    __tablename__ = "channel_seen_events"

    event_key = Column(String(200), primary_key=True)
    seen_at = Column(DateTime, nullable=False, default=naive_utc)


class UserActivity(Base):
    """When a user last wrote to us on a channel (Zalo only lets the OA answer within a window)."""

    __tablename__ = "channel_user_activity"

    channel = Column(String(40), primary_key=True)
    user_id = Column(String(100), primary_key=True)
    last_user_message_at = Column(DateTime, nullable=False)
