"""Handoffs to a person: the state machine and the queue, in the database (no Rasa or web imports).

A handoff is ``waiting`` in the queue, ``active`` once an agent claims it, then ``closed`` with an end
reason. Every change is one conditional ``UPDATE … WHERE state = …`` so that several processes (Rasa
replicas, console workers) never both win: a second claim of the same handoff fails with
:class:`HandoffConflict`. Nothing lives in process memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.helpdesk.models import HandoffRow

__all__ = [
    "END_REASONS",
    "REASONS",
    "Handoff",
    "HandoffConflict",
    "HandoffDesk",
    "HandoffError",
]

#: Why a conversation came to the desk.
REASONS = ("asked", "fallback", "low_confidence", "dossier")
#: How a handoff ended.
END_REASONS = ("answered", "no_answer", "citizen_left", "abusive", "other")
WAITING, ACTIVE, CLOSED = "waiting", "active", "closed"


class HandoffError(ValueError):
    """A request the state machine refuses (unknown reason, no such handoff); the message says which."""


class HandoffConflict(HandoffError):
    """The handoff is no longer in the state the request needs (claimed by someone else, already closed)."""


@dataclass(frozen=True)
class Handoff:
    """One handoff as the services see it (times naive UTC)."""

    id: int
    sender_id: str
    channel: str
    reason: str
    state: str
    agent: str | None
    end_reason: str | None
    opened_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, row: HandoffRow) -> Handoff:
        return cls(row.id, row.sender_id, row.channel, row.reason, row.state, row.agent, row.end_reason,
                   row.opened_at, row.claimed_at, row.closed_at)  # fmt: skip


class HandoffDesk(TransactionalStore):
    """The queue of handoffs over ``engine`` (the configured database by default)."""

    def open(self, sender_id: str, channel: str, reason: str = "asked") -> Handoff:
        """Queue ``sender_id``'s conversation; its open handoff when it already has one (asking twice
        does not queue twice). :class:`HandoffError` for an unknown ``reason``."""
        if reason not in REASONS:
            raise HandoffError(f"unknown handoff reason {reason!r}; expected one of {', '.join(REASONS)}")
        with self._session() as session:
            current = self._open_row(session, sender_id)
            if current is not None:
                return Handoff.of(current)
            row = HandoffRow(sender_id=sender_id, channel=channel, reason=reason, state=WAITING, opened_at=naive_utc())
            session.add(row)
            session.flush()
            return Handoff.of(row)

    def current(self, sender_id: str) -> Handoff | None:
        """The conversation's handoff that is not closed, if any (while it exists, the bot stays silent)."""
        with self._session() as session:
            row = self._open_row(session, sender_id)
            return Handoff.of(row) if row is not None else None

    def position(self, handoff_id: int) -> int | None:
        """1 for the first in the queue; None when the handoff is not waiting."""
        with self._session() as session:
            row = session.get(HandoffRow, handoff_id)
            if row is None or row.state != WAITING:
                return None
            ahead = session.scalar(
                select(func.count()).select_from(HandoffRow).where(
                    HandoffRow.state == WAITING,
                    (HandoffRow.opened_at < row.opened_at)
                    | and_(HandoffRow.opened_at == row.opened_at, HandoffRow.id < row.id),
                )
            )
            return int(ahead or 0) + 1

    def queue(self) -> list[Handoff]:
        """Waiting handoffs, first come first served, then the active ones."""
        with self._session() as session:
            rows = session.scalars(
                select(HandoffRow).where(HandoffRow.state != CLOSED).order_by(
                    (HandoffRow.state != WAITING), HandoffRow.opened_at, HandoffRow.id
                )
            ).all()
            return [Handoff.of(r) for r in rows]

    def claim(self, handoff_id: int, agent: str) -> Handoff:
        """``agent`` takes a waiting handoff; :class:`HandoffConflict` when it is not waiting any more."""
        return self._move(handoff_id, {WAITING}, state=ACTIVE, agent=agent, claimed_at=naive_utc())

    def take_over(self, handoff_id: int, agent: str) -> Handoff:
        """A supervisor takes an active handoff from whoever holds it (gone home, account disabled): without
        this a paused conversation would wait for them for ever. :class:`HandoffConflict` unless active."""
        return self._move(handoff_id, {ACTIVE}, agent=agent)

    def transfer(self, handoff_id: int, from_agent: str, to_agent: str) -> Handoff:
        """Hand an active handoff from ``from_agent`` (who must hold it) to ``to_agent``."""
        return self._move(handoff_id, {ACTIVE}, holder=from_agent, agent=to_agent)

    def close(self, handoff_id: int, agent: str, end_reason: str) -> Handoff:
        """``agent`` (who holds it) closes an active handoff; the bot answers again afterwards."""
        if end_reason not in END_REASONS:
            raise HandoffError(f"unknown end reason {end_reason!r}; expected one of {', '.join(END_REASONS)}")
        return self._move(handoff_id, {ACTIVE}, holder=agent, state=CLOSED, end_reason=end_reason,
                          closed_at=naive_utc())  # fmt: skip

    def leave(self, sender_id: str, end_reason: str = "citizen_left") -> Handoff | None:
        """The citizen leaves the queue ("thôi", "hủy"), or nobody is left to answer (``no_answer``): their
        waiting handoff closes; None when none waits (a claim that came first wins)."""
        with self._session() as session:
            row = self._open_row(session, sender_id)
            if row is None or row.state != WAITING:
                return None
        try:
            return self._move(row.id, {WAITING}, state=CLOSED, end_reason=end_reason, closed_at=naive_utc())
        except HandoffConflict:
            return None

    def last(self, sender_id: str) -> Handoff | None:
        """The conversation's latest handoff, whatever its state."""
        with self._session() as session:
            row = session.scalars(
                select(HandoffRow).where(HandoffRow.sender_id == sender_id).order_by(HandoffRow.id.desc()).limit(1)
            ).first()
            return Handoff.of(row) if row is not None else None

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _open_row(session: Session, sender_id: str) -> HandoffRow | None:
        return session.scalars(
            select(HandoffRow).where(HandoffRow.sender_id == sender_id, HandoffRow.state != CLOSED)
            .order_by(HandoffRow.id.desc()).limit(1)
        ).first()  # fmt: skip

    def _move(self, handoff_id: int, states: set[str], *, holder: str | None = None, **values: object) -> Handoff:
        """One conditional update: only from ``states`` (and held by ``holder``, if given)."""
        with self._session() as session:
            conditions = [HandoffRow.id == handoff_id, HandoffRow.state.in_(states)]
            if holder is not None:
                conditions.append(HandoffRow.agent == holder)
            changed = session.execute(update(HandoffRow).where(*conditions).values(**values)).rowcount
            row = session.get(HandoffRow, handoff_id, populate_existing=True)
            if row is None:
                raise HandoffError(f"no handoff {handoff_id}")
            if not changed:
                held = f", held by {row.agent}" if row.agent else ""
                raise HandoffConflict(f"handoff {handoff_id} is {row.state}{held}: cannot do that now")
            return Handoff.of(row)
