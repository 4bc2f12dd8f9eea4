"""SQLAlchemy models of dossier tracking (tables ``dossiers`` and ``dossier_*``).

Date-times are stored as naive UTC (SQLite has no time zones) and read back as aware UTC.
The applicant's name, address and ID number are kept for completeness of the record but are
never returned by the citizen-facing service; the phone number is kept only as HMACs (of the
whole number and of its last 4 digits, the second factor): no digit of it is stored in clear.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.db import Base
from bot.db.clock import utcnow
from bot.db.types import UTCDateTime

__all__ = [
    "AuditRow",
    "DossierRow",
    "StatusHistoryRow",
    "SubscriptionRow",
    "VerificationAttemptRow",
    "WebhookReceiptRow",
]


class DossierRow(Base):
    """A dossier in the embedded store."""

    __tablename__ = "dossiers"
    __table_args__ = (
        UniqueConstraint("code", name="uq_dossiers_code"),
        CheckConstraint("status BETWEEN 1 AND 10", name="ck_dossiers_status"),
    )

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False)
    procedure_code = Column(String(32), nullable=False)
    procedure_name = Column(Text, nullable=False)
    status = Column(Integer, nullable=False)
    receiving_unit = Column(Text, nullable=False, default="")
    received_date = Column(Date, nullable=True)
    promised_date = Column(Date, nullable=True)
    applicant_name = Column(Text, nullable=True)
    applicant_address = Column(Text, nullable=True)
    applicant_id = Column(String(16), nullable=True)
    phone_hash = Column(String(64), nullable=True)
    # HMAC-SHA256 hex of the last 4 digits (bot.dossiers.source.hash_last4), never the digits.
    phone_last4_hash = Column(String(64), nullable=True)
    is_demo = Column(Boolean, nullable=False, default=False)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class StatusHistoryRow(Base):
    """Every status a dossier has had, in order."""

    __tablename__ = "dossier_status_history"

    id = Column(Integer, primary_key=True)
    dossier_id = Column(Integer, ForeignKey("dossiers.id", ondelete="CASCADE"), nullable=False, index=True)
    status = Column(Integer, nullable=False)
    changed_at = Column(UTCDateTime, nullable=False)
    note = Column(Text, nullable=True)


class VerificationAttemptRow(Base):
    """One verification attempt (for lockouts and for allowing a subscription after success)."""

    __tablename__ = "dossier_verification_attempts"
    __table_args__ = (
        Index("ix_dossier_attempts_sender_at", "sender_ref", "at"),
        Index("ix_dossier_attempts_code_at", "dossier_code", "at"),
    )

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False)
    # Failures are kept under the requester's ref, successes under the conversation's sender ref.
    sender_ref = Column(String(64), nullable=False)
    # NULL on a failure means "no dossier with the code asked" (the global unknown-code limit counts these).
    dossier_code = Column(String(32), nullable=True)
    success = Column(Boolean, nullable=False)
    # Status shown on success: a subscription starts from it, so only later changes are pushed.
    status_seen = Column(Integer, nullable=True)


class AuditRow(Base):
    """Audit trail of lookups, subscriptions and notifications; values are masked or pseudonymous."""

    __tablename__ = "dossier_audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    action = Column(String(16), nullable=False)
    outcome = Column(String(24), nullable=False)
    channel = Column(String(32), nullable=True)
    sender_ref = Column(String(64), nullable=True)
    dossier_code = Column(String(64), nullable=True)
    detail = Column(Text, nullable=True)


class SubscriptionRow(Base):
    """A citizen's request to be told when a dossier's status changes."""

    __tablename__ = "dossier_subscriptions"
    __table_args__ = (UniqueConstraint("channel", "sender_id", "dossier_code", name="uq_dossier_subscriptions"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    # The raw conversation id is needed to push through Rasa's API; it is a chat id, not a phone.
    sender_id = Column(String(128), nullable=False)
    dossier_code = Column(String(32), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False)
    last_notified_status = Column(Integer, nullable=True)
    last_notified_at = Column(UTCDateTime, nullable=True)


class WebhookReceiptRow(Base):
    """A signed one-door webhook request already accepted, kept while its signature is still fresh.

    Replay protection shared by every Rasa replica: the primary key makes "insert if absent"
    race-free (a second insert of the same digest fails with an IntegrityError). ``digest`` is
    the SHA-256 hex of the signed message ``"<t>." + body``; rows past ``expires_at`` are purged.
    """

    __tablename__ = "webhook_receipts"

    digest = Column(String(64), primary_key=True)
    received_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False, index=True)
