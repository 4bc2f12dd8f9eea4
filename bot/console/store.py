"""The console's own records: the audit log, private notes on handoffs, and handoffs read by id.

Blocking (SQLAlchemy); the web app calls these in a worker thread. Times are naive UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.console.labels import t
from bot.console.models import AuditRow, NoteRow
from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.helpdesk.handoff import Handoff
from bot.helpdesk.models import HandoffRow
from bot.privacy import mask_text
from bot.text import UNWANTED_CHARS

__all__ = ["MAX_NOTE_CHARS", "AuditEntry", "ConsoleStore", "Note"]

MAX_NOTE_CHARS = 4000


@dataclass(frozen=True)
class Note:
    """A private note on a handoff."""

    id: int
    handoff_id: int
    sender_id: str
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class AuditEntry:
    """One row of the console's audit log."""

    at: datetime
    username: str
    action: str
    target: str | None
    reason: str | None
    client: str | None


class ConsoleStore(TransactionalStore):
    """Audit log, notes and handoff look-ups over ``engine``."""

    def __init__(self, engine: Engine | None = None, *, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(engine)
        self.clock = clock or naive_utc

    def audit(self, username: str, action: str, target: str | None = None, reason: str | None = None,
              client: str | None = None) -> None:  # fmt: skip
        """Write one audit row."""
        with self._session() as session:
            session.add(AuditRow(at=self.clock(), username=username[:100], action=action,
                                 target=(target or None) and target[:200], reason=reason,
                                 client=(client or None) and client[:100]))  # fmt: skip

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        """The newest audit rows first."""
        with self._session() as session:
            rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
            return [AuditEntry(r.at, r.username, r.action, r.target, r.reason, r.client) for r in rows]

    def add_note(self, handoff_id: int, sender_id: str, author: str, text: str) -> Note:
        """Keep a private note; ValueError (its message a staff sentence) when empty or too long."""
        # Notes are kept like everything else: personal data masked, no control characters.
        text = mask_text(UNWANTED_CHARS.sub("", text)).strip()
        if not text:
            raise ValueError(t("handoff.note_empty"))
        if len(text) > MAX_NOTE_CHARS:
            raise ValueError(t("handoff.note_too_long", chars=MAX_NOTE_CHARS))
        with self._session() as session:
            row = NoteRow(handoff_id=handoff_id, sender_id=sender_id, author=author, at=self.clock(), text=text)
            session.add(row)
            session.flush()
            return Note(row.id, row.handoff_id, row.sender_id, row.author, row.at, row.text)

    def notes(self, sender_id: str) -> list[Note]:
        """Every note on the conversation's handoffs, oldest first."""
        with self._session() as session:
            rows = session.scalars(select(NoteRow).where(NoteRow.sender_id == sender_id).order_by(NoteRow.id))
            return [Note(r.id, r.handoff_id, r.sender_id, r.author, r.at, r.text) for r in rows]

    def handoff(self, handoff_id: int) -> Handoff | None:
        """The handoff with this id, whatever its state."""
        with self._session() as session:
            row = session.get(HandoffRow, handoff_id)
            return Handoff.of(row) if row is not None else None

    def handoffs_of(self, sender_id: str) -> list[Handoff]:
        """The conversation's handoffs, newest first."""
        with self._session() as session:
            rows = session.scalars(
                select(HandoffRow).where(HandoffRow.sender_id == sender_id).order_by(HandoffRow.id.desc())
            )
            return [Handoff.of(r) for r in rows]
