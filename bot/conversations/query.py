"""Reading the conversation record: filtered, paged lists of conversations and their transcripts.

Times are naive UTC. Lists are newest activity (``last_at``) first, paged by an opaque keyset cursor
(stable while new events arrive: a page never repeats or skips a conversation that did not move).
Text search matches conversations whose turn texts and replies hold every word of the query, with or
without diacritics ("dang ky tam tru" finds "đăng ký tạm trú"), through the folded-word index
``conv_terms``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import literal, select, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.conversations.models import ConversationRow, IntentRow, ProcedureRow, TermRow, TurnRow
from bot.db import engine_for
from bot.db.clock import VN_TZ, naive_utc
from bot.text import words

__all__ = ["ConversationFilter", "ConversationRecord", "ConversationSummary", "Page", "Turn"]

MAX_LIMIT = 500
_MAX_TERMS = 8
# A procedure code, intent or search term held by fewer conversations than this drives the query (its
# conversations, then sorted); a commoner one is checked row by row while walking the newest-first index.
_RARE = 2000

_CONV = ConversationRow.__table__
_TURN = TurnRow.__table__


@dataclass(frozen=True)
class ConversationFilter:
    """What to list; every field left None does not filter.

    ``date_from``/``date_to``: Vietnam calendar dates, inclusive, of the conversation's last activity.
    ``fallback``: True = at least one fallback, False = none. ``confidence_below``: its lowest
    citizen-turn confidence is below this (0-1). ``rating_at_most``: rated, and 1..this. ``text``:
    every word present (folded). ``procedure_code``/``intent``: seen at least once.
    """

    date_from: date | None = None
    date_to: date | None = None
    channel: str | None = None
    fallback: bool | None = None
    confidence_below: float | None = None
    handed_off: bool | None = None
    rating_at_most: int | None = None
    procedure_code: str | None = None
    intent: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class ConversationSummary:
    """One conversation as listed (times naive UTC; ``procedures`` sorted)."""

    sender_id: str
    channel: str
    started_at: datetime
    last_at: datetime
    turns: int
    procedures: tuple[str, ...]
    fallbacks: int
    lowest_confidence: float | None
    handed_off: bool
    paused: bool
    rating: int | None
    rating_comment: str | None
    rating_target: str | None
    model_id: str | None


@dataclass(frozen=True)
class Turn:
    """One turn of a transcript (see :mod:`bot.conversations.recorder`); texts masked, ``at`` naive UTC."""

    id: int
    at: datetime
    author: str  # citizen | bot | staff | system
    text: str
    sealed: str | None
    intent: str | None
    confidence: float | None
    entities: tuple[dict, ...]
    actions: tuple[str, ...]
    reply: str | None
    procedure_code: str | None
    agent: str | None
    model_id: str | None


@dataclass(frozen=True)
class Page:
    """A page of conversations; ``next_cursor`` is None on the last page."""

    items: tuple[ConversationSummary, ...]
    next_cursor: str | None


def _vn_midnight(day: date) -> datetime:
    """Midnight in Vietnam at the start of ``day``, as naive UTC."""
    return naive_utc(datetime.combine(day, time.min, tzinfo=VN_TZ))


def encode_cursor(last_at: datetime, conversation_id: int) -> str:
    """An opaque cursor after the conversation (``last_at``, ``id``)."""
    return base64.urlsafe_b64encode(f"{last_at.isoformat()}|{conversation_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """(``last_at``, ``id``) of a cursor; :class:`ValueError` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.fromisoformat(stamp), int(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("invalid cursor") from exc


def _summary(row: Any, procedures: tuple[str, ...]) -> ConversationSummary:
    return ConversationSummary(
        row.sender_id, row.channel, row.started_at, row.last_at, row.turns, procedures, row.fallbacks,
        row.lowest_confidence, bool(row.handed_off), bool(row.paused), row.rating, row.rating_comment,
        row.rating_target, row.model_id,
    )  # fmt: skip


def _turn(row: Any) -> Turn:
    return Turn(
        row.id, row.at, row.author, row.text, row.sealed, row.intent, row.confidence,
        tuple(e for e in (row.entities or ()) if isinstance(e, dict)), tuple(row.actions or ()), row.reply,
        row.procedure_code, row.agent, row.model_id,
    )  # fmt: skip


class ConversationRecord:
    """Read access to the conversation record over ``engine`` (the configured database by default)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or engine_for()

    def list(self, flt: ConversationFilter = ConversationFilter(), limit: int = 50, cursor: str | None = None) -> Page:
        """Conversations matching ``flt``, newest activity first, ``limit`` (1-500) per page.

        :class:`ValueError` for a bad ``limit`` or ``cursor``.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        with self.engine.connect() as conn:
            conditions = self._conditions(conn, flt)
            if conditions is None:
                return Page((), None)
            if cursor is not None:
                last_at, conv_id = decode_cursor(cursor)
                conditions.append(tuple_(_CONV.c.last_at, _CONV.c.id) < tuple_(last_at, conv_id))
            rows = conn.execute(
                select(_CONV).where(*conditions).order_by(_CONV.c.last_at.desc(), _CONV.c.id.desc()).limit(limit + 1)
            ).all()
            more = len(rows) > limit
            rows = rows[:limit]
            procedures: dict[int, list[str]] = {}
            if rows:
                for conv_id, code in conn.execute(
                    select(ProcedureRow.conversation_id, ProcedureRow.code)
                    .where(ProcedureRow.conversation_id.in_([r.id for r in rows]))
                    .order_by(ProcedureRow.conversation_id, ProcedureRow.code)
                ):
                    procedures.setdefault(conv_id, []).append(code)
        items = tuple(_summary(r, tuple(procedures.get(r.id, ()))) for r in rows)
        next_cursor = encode_cursor(rows[-1].last_at, rows[-1].id) if more and rows else None
        return Page(items, next_cursor)

    def get(self, sender_id: str) -> ConversationSummary | None:
        """The conversation's summary, or None when it is not recorded."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_CONV).where(_CONV.c.sender_id == sender_id)).first()
            if row is None:
                return None
            codes = conn.scalars(
                select(ProcedureRow.code).where(ProcedureRow.conversation_id == row.id).order_by(ProcedureRow.code)
            ).all()
        return _summary(row, tuple(codes))

    def transcript(self, sender_id: str) -> list[Turn]:
        """Every turn of the conversation in the order it was said (empty when it is not recorded).

        Ordered by when each message was written, not by when its events reached the record: after an
        event-broker outage each Rasa replica re-sends what it kept when it reconnects, so a later turn
        may be recorded first (each turn still arrives with its own replies).
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_TURN).where(_TURN.c.sender_id == sender_id).order_by(_TURN.c.at, _TURN.c.id)
            ).all()
        return [_turn(r) for r in rows]

    def turns_since(self, sender_id: str, after_id: int) -> list[Turn]:
        """The conversation's turns with an id above ``after_id``, oldest first (for polling).

        A turn already returned may still change afterwards (its reply and actions grow until the
        next citizen message): re-read the last turn when polling.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_TURN).where(_TURN.c.sender_id == sender_id, _TURN.c.id > after_id).order_by(_TURN.c.id)
            ).all()
        return [_turn(r) for r in rows]

    def last_citizen_at(self, sender_id: str) -> datetime | None:
        """When the citizen last wrote (naive UTC), or None (never, or not recorded)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(_CONV.c.last_citizen_at).where(_CONV.c.sender_id == sender_id))

    # -- internals ---------------------------------------------------------------------------

    @staticmethod
    def _conditions(conn: Connection, flt: ConversationFilter) -> list[ColumnElement] | None:
        """The WHERE conditions of ``flt``; None when nothing can match (a search term nobody used)."""
        c = _CONV.c
        out: list[ColumnElement] = []
        if flt.date_from is not None:
            out.append(c.last_at >= _vn_midnight(flt.date_from))
        if flt.date_to is not None:
            out.append(c.last_at < _vn_midnight(flt.date_to + timedelta(days=1)))
        if flt.channel is not None:
            out.append(c.channel == flt.channel)
        if flt.fallback is not None:
            out.append(c.fallbacks > 0 if flt.fallback else c.fallbacks == 0)
        if flt.confidence_below is not None:
            out.append(c.lowest_confidence < flt.confidence_below)
        if flt.handed_off is not None:
            out.append(c.handed_off.is_(flt.handed_off))
        if flt.rating_at_most is not None:
            out.append(c.rating <= flt.rating_at_most)
        lookups: list[tuple[Any, Any, str]] = []  # (value column, conversation column, value)
        if flt.procedure_code is not None:
            lookups.append((ProcedureRow.code, ProcedureRow.conversation_id, flt.procedure_code))
        if flt.intent is not None:
            lookups.append((IntentRow.intent, IntentRow.conversation_id, flt.intent))
        if flt.text is not None:
            found = words(flt.text)
            terms = sorted({w for w in found if len(w) <= 40}, key=lambda w: (-len(w), w))[:_MAX_TERMS]  # most telling
            if found and not terms:
                return None
            lookups += [(TermRow.term, TermRow.conversation_id, term) for term in terms]
        # Each lookup's conversations, read up to _RARE: none means no match at all; fewer are
        # intersected here and drive the query (a list of ids); a commoner value is checked row by row
        # while walking the newest-first index, by a subquery with LIMIT so that no planner turns it
        # into a join over every conversation holding a common word.
        ids: set[int] | None = None
        for value_col, conv_col, value in lookups:
            held = set(conn.scalars(select(conv_col).where(value_col == value).limit(_RARE)))
            if not held:
                return None
            if len(held) < _RARE:
                ids = held if ids is None else ids & held
                if not ids:
                    return None
            else:
                probe = select(literal(1)).where(value_col == value, conv_col == c.id).limit(1)
                out.append(probe.scalar_subquery().is_not(None))
        if ids is not None:
            out.append(c.id.in_(sorted(ids)))
        return out
