"""The SQL side of dossier tracking: the embedded dossier source plus attempts, audit and subscriptions.

Attempts, audit and subscriptions always live in the local database, whichever source
(SQL or the one-door HTTP system) supplies the dossiers. Every method opens its own
session, so one store can be shared by threads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from bot.db import session_factory
from bot.db.clock import naive_utc, utcnow
from bot.dossiers.codes import normalise_dossier_code
from bot.dossiers.models import (
    AuditRow,
    DossierRow,
    StatusHistoryRow,
    SubscriptionRow,
    VerificationAttemptRow,
    WebhookReceiptRow,
)
from bot.dossiers.source import DossierRecord, hash_last4, hash_phone, phone_last4
from bot.dossiers.status import DossierStatus
from bot.privacy import mask_text

__all__ = ["DossierInput", "DossierStore", "Subscription"]


@dataclass(frozen=True)
class DossierInput:
    """What an import or the demo seeder writes; the phone and its last 4 digits are hashed on the way in
    (:func:`~bot.dossiers.source.hash_phone`, :func:`~bot.dossiers.source.hash_last4`), never stored."""

    code: str
    procedure_code: str
    procedure_name: str
    status: int
    receiving_unit: str
    received_date: date | None
    promised_date: date | None
    phone: str
    applicant_name: str | None = None
    applicant_address: str | None = None
    applicant_id: str | None = None
    is_demo: bool = False

    def __repr__(self) -> str:  # the phone and the applicant must not reach a log through repr()
        return f"DossierInput(code={self.code!r}, status={self.status}, is_demo={self.is_demo})"


@dataclass(frozen=True)
class Subscription:
    """A subscription as the watcher sees it."""

    id: int
    channel: str
    sender_id: str
    dossier_code: str
    created_at: datetime
    last_notified_status: int | None


def _record(row: DossierRow) -> DossierRecord:
    return DossierRecord(
        code=row.code,
        procedure_code=row.procedure_code,
        procedure_name=row.procedure_name,
        status=row.status,
        receiving_unit=row.receiving_unit or "",
        received_date=row.received_date,
        promised_date=row.promised_date,
        last4_hash=row.phone_last4_hash,
        phone_hash=row.phone_hash,
        applicant_name=row.applicant_name,
        applicant_address=row.applicant_address,
        applicant_id=row.applicant_id,
        is_demo=bool(row.is_demo),
        updated_at=row.updated_at,
    )


class DossierStore:
    """Dossiers, status history, verification attempts, audit log and subscriptions in SQL."""

    def __init__(self, engine: Engine, salt: bytes | None = None) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        self._salt = salt

    # -- dossiers (the embedded DossierSource) ---------------------------------------------------

    def fetch(self, code: str) -> DossierRecord | None:
        """The dossier with this (normalised) code, or None."""
        with self._sessions() as session:
            row = session.execute(select(DossierRow).where(DossierRow.code == code)).scalar_one_or_none()
            return _record(row) if row is not None else None

    def upsert(self, item: DossierInput, at: datetime | None = None, note: str | None = None) -> bool:
        """Insert or update a dossier (keyed by code); returns True when it was created."""
        at = at or utcnow()
        code = normalise_dossier_code(item.code)
        status = int(DossierStatus(int(item.status)))
        with self._sessions() as session, session.begin():
            row = session.execute(select(DossierRow).where(DossierRow.code == code)).scalar_one_or_none()
            created = row is None
            if row is None:
                row = DossierRow(code=code)
                session.add(row)
            old_status = row.status
            row.procedure_code = item.procedure_code
            row.procedure_name = item.procedure_name
            row.status = status
            row.receiving_unit = item.receiving_unit
            row.received_date = item.received_date
            row.promised_date = item.promised_date
            row.applicant_name = item.applicant_name
            row.applicant_address = item.applicant_address
            row.applicant_id = item.applicant_id
            row.phone_hash = hash_phone(item.phone, self._salt) if item.phone else None
            last4 = phone_last4(item.phone) if item.phone else None
            row.phone_last4_hash = hash_last4(last4, self._salt) if last4 else None
            row.is_demo = item.is_demo
            if created or old_status != status:
                row.updated_at = at
                session.flush()
                session.add(StatusHistoryRow(dossier_id=row.id, status=status, changed_at=at, note=note))
            return created

    def set_status(self, code: str, status: int, at: datetime | None = None, note: str | None = None) -> bool:
        """Change a dossier's status (recording history); False when unknown or unchanged."""
        at = at or utcnow()
        status = int(DossierStatus(int(status)))
        with self._sessions() as session, session.begin():
            row = session.execute(select(DossierRow).where(DossierRow.code == code)).scalar_one_or_none()
            if row is None or row.status == status:
                return False
            row.status = status
            row.updated_at = at
            session.add(StatusHistoryRow(dossier_id=row.id, status=status, changed_at=at, note=note))
            return True

    def set_status_if_newer(self, code: str, status: int, at: datetime, note: str | None = None) -> str:
        """Change a dossier's status as of ``at`` unless that is older than its last status change.

        Returns ``"changed"``, ``"unchanged"`` (it already has that status), ``"older"`` (``at`` is
        before the dossier's last status change: ``dossiers.updated_at``, which is written with the
        newest history ``changed_at``, or any history row) or ``"unknown"`` (not in this store).
        One conditional UPDATE decides, so concurrent webhooks on several replicas cannot roll a
        dossier back: the later change wins whatever order they commit in. A tie (same ``at``) applies.
        """
        status = int(DossierStatus(int(status)))
        newer_history = exists().where(StatusHistoryRow.dossier_id == DossierRow.id, StatusHistoryRow.changed_at > at)
        with self._sessions() as session, session.begin():
            changed = session.execute(
                update(DossierRow)
                .where(
                    DossierRow.code == code,
                    DossierRow.status != status,
                    DossierRow.updated_at <= at,
                    ~newer_history,
                )
                .values(status=status, updated_at=at)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed:
                dossier_id = session.execute(select(DossierRow.id).where(DossierRow.code == code)).scalar_one()
                session.add(StatusHistoryRow(dossier_id=dossier_id, status=status, changed_at=at, note=note))
                return "changed"
            row = session.execute(select(DossierRow.id, DossierRow.updated_at).where(DossierRow.code == code)).first()
            if row is None:
                return "unknown"
            last = session.execute(
                select(func.max(StatusHistoryRow.changed_at)).where(StatusHistoryRow.dossier_id == row.id)
            ).scalar_one_or_none()
        # Compared as naive UTC on both sides, whatever the dialect hands back for max().
        latest = max(naive_utc(t) for t in (row.updated_at, last) if t is not None)
        return "older" if latest > naive_utc(at) else "unchanged"

    def history(self, code: str) -> list[tuple[int, datetime]]:
        """(status, changed_at) of a dossier, oldest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(StatusHistoryRow.status, StatusHistoryRow.changed_at)
                .join(DossierRow, DossierRow.id == StatusHistoryRow.dossier_id)
                .where(DossierRow.code == code)
                .order_by(StatusHistoryRow.changed_at, StatusHistoryRow.id)
            ).all()
            return [(r.status, r.changed_at) for r in rows]

    def names_provider(self, ttl: float = 300.0) -> Callable[[], list[str]]:
        """A cached :meth:`names` for ``install_log_masking(names=...)`` (refreshed every ``ttl`` seconds)."""
        # RLock + "at" set before querying: a log record emitted during the query itself re-enters
        # the provider and must get the old list instead of deadlocking or recursing.
        lock = threading.RLock()
        cache: dict[str, Any] = {"at": -ttl - 1.0, "names": []}

        def provider() -> list[str]:
            with lock:
                if time.monotonic() - cache["at"] > ttl:
                    cache["at"] = time.monotonic()
                    with contextlib.suppress(Exception):
                        cache["names"] = self.names()
                return cache["names"]

        return provider

    def names(self, limit: int = 10_000) -> list[str]:
        """Applicants' names, for masking them in logs."""
        with self._sessions() as session:
            rows = session.execute(
                select(DossierRow.applicant_name).where(DossierRow.applicant_name.is_not(None)).limit(limit)
            ).scalars()
            return [n for n in rows if n]

    # -- verification attempts ---------------------------------------------------------------------

    def record_attempt(
        self, sender: str, code: str | None, success: bool, at: datetime, status_seen: int | None = None
    ) -> None:
        """Remember one verification attempt by ``sender`` (a pseudonymous ref) on ``code``."""
        with self._sessions() as session, session.begin():
            session.add(
                VerificationAttemptRow(
                    at=at, sender_ref=sender, dossier_code=code, success=success, status_seen=status_seen
                )
            )

    def _failure_times(self, condition: ColumnElement, since: datetime) -> list[datetime]:
        with self._sessions() as session:
            return list(
                session.execute(
                    select(VerificationAttemptRow.at)
                    .where(condition, VerificationAttemptRow.success.is_(False), VerificationAttemptRow.at >= since)
                    .order_by(VerificationAttemptRow.at)
                ).scalars()
            )

    def failures_by_sender(self, sender: str, since: datetime) -> list[datetime]:
        """Times of failed attempts under the ref ``sender`` (a requester's) since ``since``, oldest first."""
        return self._failure_times(VerificationAttemptRow.sender_ref == sender, since)

    def failures_by_code(self, code: str, since: datetime) -> list[datetime]:
        """Times of failed attempts on ``code`` by anyone since ``since``, oldest first."""
        return self._failure_times(VerificationAttemptRow.dossier_code == code, since)

    def unknown_code_failures(self, since: datetime) -> int:
        """How many lookups of codes no dossier has (by anyone) since ``since``."""
        with self._sessions() as session:
            return session.execute(
                select(func.count(VerificationAttemptRow.id)).where(
                    VerificationAttemptRow.dossier_code.is_(None),
                    VerificationAttemptRow.success.is_(False),
                    VerificationAttemptRow.at >= since,
                )
            ).scalar_one()

    def last_success(self, sender: str, code: str, since: datetime) -> VerificationAttemptRow | None:
        """The latest successful verification of ``code`` by ``sender`` since ``since``."""
        with self._sessions() as session:
            return session.execute(
                select(VerificationAttemptRow)
                .where(
                    VerificationAttemptRow.sender_ref == sender,
                    VerificationAttemptRow.dossier_code == code,
                    VerificationAttemptRow.success.is_(True),
                    VerificationAttemptRow.at >= since,
                )
                .order_by(VerificationAttemptRow.at.desc())
                .limit(1)
            ).scalar_one_or_none()

    def purge_attempts(self, before: datetime) -> int:
        """Delete attempts older than ``before`` (they only matter for an hour)."""
        with self._sessions() as session, session.begin():
            return session.execute(delete(VerificationAttemptRow).where(VerificationAttemptRow.at < before)).rowcount

    # -- webhook receipts (replay protection) ------------------------------------------------------

    def claim_webhook_receipt(self, digest: str, at: datetime, keep_until: datetime) -> bool:
        """Record that the webhook request ``digest`` was accepted at ``at``; False when it already was.

        Race-free across threads, processes and replicas: ``digest`` is the primary key, so of two
        concurrent claims exactly one insert commits and the other gets an IntegrityError. Receipts
        whose ``keep_until`` (stored as ``expires_at``) has passed are purged on the way.
        """
        try:
            with self._sessions() as session, session.begin():
                session.execute(
                    delete(WebhookReceiptRow)
                    .where(WebhookReceiptRow.expires_at < at)
                    .execution_options(synchronize_session=False)
                )
                session.add(WebhookReceiptRow(digest=digest, received_at=at, expires_at=keep_until))
        except IntegrityError:
            return False
        return True

    def release_webhook_receipt(self, digest: str) -> None:
        """Forget a receipt: the request was not processed, so its sender may retry it unchanged."""
        with self._sessions() as session, session.begin():
            session.execute(
                delete(WebhookReceiptRow)
                .where(WebhookReceiptRow.digest == digest)
                .execution_options(synchronize_session=False)
            )

    def webhook_receipts(self) -> list[WebhookReceiptRow]:
        """Every stored receipt, oldest first (for tests and reports)."""
        with self._sessions() as session:
            return list(
                session.execute(
                    select(WebhookReceiptRow).order_by(WebhookReceiptRow.received_at, WebhookReceiptRow.digest)
                ).scalars()
            )

    # -- audit -------------------------------------------------------------------------------------

    def audit(
        self,
        action: str,
        outcome: str,
        at: datetime,
        channel: str | None = None,
        sender: str | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append an audit entry; ``code`` and ``detail`` are masked again as a last line of defence."""
        with self._sessions() as session, session.begin():
            session.add(
                AuditRow(
                    at=at,
                    action=action[:16],
                    outcome=outcome[:24],
                    channel=(channel or "")[:32] or None,
                    sender_ref=sender,
                    dossier_code=mask_text(code)[:64] if code else None,
                    detail=mask_text(detail) if detail else None,
                )
            )

    def has_audit(self, action: str, outcome: str, code: str, since: datetime) -> bool:
        """Whether an audit entry ``action``/``outcome`` about ``code`` exists since ``since``."""
        with self._sessions() as session:
            return (
                session.execute(
                    select(AuditRow.id)
                    .where(
                        AuditRow.action == action[:16],
                        AuditRow.outcome == outcome[:24],
                        AuditRow.dossier_code == mask_text(code)[:64],
                        AuditRow.at >= since,
                    )
                    .limit(1)
                ).first()
                is not None
            )

    def audit_rows(self) -> list[AuditRow]:
        """Every audit entry, oldest first (for tests and reports)."""
        with self._sessions() as session:
            return list(session.execute(select(AuditRow).order_by(AuditRow.id)).scalars())

    # -- subscriptions ---------------------------------------------------------------------------

    def subscribe(self, channel: str, sender_id: str, code: str, at: datetime, status: int | None) -> bool:
        """Add a subscription; False when it already existed."""
        try:
            with self._sessions() as session, session.begin():
                existing = session.execute(
                    select(SubscriptionRow.id).where(
                        SubscriptionRow.channel == channel,
                        SubscriptionRow.sender_id == sender_id,
                        SubscriptionRow.dossier_code == code,
                    )
                ).first()
                if existing is not None:
                    return False
                session.add(
                    SubscriptionRow(
                        channel=channel,
                        sender_id=sender_id,
                        dossier_code=code,
                        created_at=at,
                        last_notified_status=status,
                    )
                )
                return True
        except IntegrityError:  # a concurrent identical request won the race
            return False

    def unsubscribe(self, channel: str, sender_id: str, code: str | None = None) -> int:
        """Remove a sender's subscription to ``code`` (all of theirs when None); returns how many."""
        with self._sessions() as session, session.begin():
            stmt = delete(SubscriptionRow).where(
                SubscriptionRow.channel == channel, SubscriptionRow.sender_id == sender_id
            )
            if code is not None:
                stmt = stmt.where(SubscriptionRow.dossier_code == code)
            return session.execute(stmt).rowcount

    def subscriptions(self, code: str | None = None) -> list[Subscription]:
        """All subscriptions, or those to ``code``."""
        with self._sessions() as session:
            stmt = select(SubscriptionRow).order_by(SubscriptionRow.id)
            if code is not None:
                stmt = stmt.where(SubscriptionRow.dossier_code == code)
            return [
                Subscription(r.id, r.channel, r.sender_id, r.dossier_code, r.created_at, r.last_notified_status)
                for r in session.execute(stmt).scalars()
            ]

    def subscribed_codes(self) -> list[str]:
        """Distinct dossier codes someone is subscribed to."""
        with self._sessions() as session:
            return list(
                session.execute(
                    select(SubscriptionRow.dossier_code)
                    .group_by(SubscriptionRow.dossier_code)
                    .order_by(func.min(SubscriptionRow.id))
                ).scalars()
            )

    def mark_notified(self, subscription_ids: Iterable[int], status: int, at: datetime) -> None:
        """Record that these subscriptions have been told about ``status``."""
        ids = list(subscription_ids)
        if not ids:
            return
        with self._sessions() as session, session.begin():
            for row in session.execute(select(SubscriptionRow).where(SubscriptionRow.id.in_(ids))).scalars():
                row.last_notified_status = status
                row.last_notified_at = at
