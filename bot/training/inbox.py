"""The NLU inbox: citizen messages of the record that are not in the training data, and the trainer's decisions.

Rows come from ``conv_turns`` (author ``citizen``), newest first, grouped by
:func:`bot.training.data.text_key` (the same text seen many times is one :class:`InboxItem` with a
``count``), minus texts already in ``data/nlu`` (:class:`~bot.training.data.TrainingIndex`) and texts
already decided (``training_reviews``: confirmed, changed or ignored). Filters
(:class:`InboxFilter`) select the turns before grouping: fallback, confidence below a value,
predicted intent, channel, flagged by staff (``training_flags``), conversation rated at most N.

Grouping needs Python's folding, so :meth:`Inbox.list` scans the newest matching turns (at most
``scan_limit``) and counts within them: the count of a very old text may be lower than its total.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bot.conversations.models import ConversationRow, TurnRow
from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.text import nfc
from bot.training.data import INTENT_NAME, TrainingIndex, key_hash
from bot.training.errors import TrainingError
from bot.training.models import FlagRow, ReviewRow

__all__ = [
    "DECISIONS",
    "Inbox",
    "InboxFilter",
    "InboxItem",
    "ProcedureLookup",
    "Review",
]

DECISIONS = ("confirmed", "changed", "ignored")
MAX_LIMIT = 500
_PROCEDURE_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,39}")


class ProcedureLookup(Protocol):
    """What the inbox needs of :class:`bot.catalog.service.ProcedureCatalog`: is a picked code real?"""

    def get(self, code: str, province: str | None = None) -> Any: ...


@dataclass(frozen=True)
class InboxFilter:
    """Which turns feed the inbox; a field left None does not filter.

    ``fallback``: the turn fell back (True) or not (False). ``confidence_below``: predicted with a
    confidence below this (0-1; turns without a confidence do not match). ``rating_at_most``: the
    conversation was rated 1..this (the issue's "rated ≤ 2" is ``2``). ``flagged``: True = only texts
    a staff member flagged for the trainer. ``since``: turns at or after (naive UTC or aware).
    """

    fallback: bool | None = None
    confidence_below: float | None = None
    intent: str | None = None
    channel: str | None = None
    flagged: bool | None = None
    rating_at_most: int | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class InboxItem:
    """One folded text. ``text``, ``intent``, ``confidence``, ``entities`` and ``turn_id`` are those of its
    newest turn; ``count`` its turns in the scanned window; ``channels`` sorted; times naive UTC."""

    key: str  # sha1 of the folded text (training_reviews.text_key)
    text: str  # masked, as recorded
    count: int
    first_at: datetime
    last_at: datetime
    intent: str | None
    confidence: float | None
    entities: tuple[dict[str, Any], ...]
    fallback: bool
    flagged: bool
    channels: tuple[str, ...]
    turn_id: int
    sender_id: str


@dataclass(frozen=True)
class Review:
    """A decision of ``training_reviews`` (``entities``: ``{"entity", "start", "end", "value"}`` on ``text``)."""

    key: str
    text: str
    decision: str
    intent: str | None
    predicted_intent: str | None
    entities: tuple[dict[str, Any], ...]
    procedure_code: str | None
    decided_by: str
    decided_at: datetime
    written_at: datetime | None


def _review(row: ReviewRow) -> Review:
    return Review(
        row.text_key,
        row.text,
        row.decision,
        row.intent,
        row.predicted_intent,
        tuple(row.entities or ()),
        row.procedure_code,
        row.decided_by,
        row.decided_at,
        row.written_at,
    )


def _mention(text: str, span: tuple[int, int]) -> dict[str, Any]:
    """The ``procedure`` entity for ``text[start:end]``, trimmed of spaces; :class:`TrainingError` when empty."""
    start, end = span
    if not (0 <= start < end <= len(text)):
        raise TrainingError("bad_span", "the span is outside the text", start=start, end=end, length=len(text))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end or any(ch in text[start:end] for ch in "[]()"):
        raise TrainingError("bad_span", "the span holds no words (or brackets)", start=span[0], end=span[1])
    return {"entity": "procedure", "start": start, "end": end, "value": text[start:end]}


class Inbox(TransactionalStore):
    """The trainer's inbox over one database (``engine``) and one project tree's data (``index``).

    ``catalog``: checks that a procedure code picked from the catalogue search exists (optional).
    """

    def __init__(
        self, engine: Engine | None = None, index: TrainingIndex | None = None, catalog: ProcedureLookup | None = None
    ) -> None:
        super().__init__(engine)
        self.index = index or TrainingIndex()
        self.catalog = catalog

    # -- listing ---------------------------------------------------------------------------------

    def list(self, filters: InboxFilter = InboxFilter(), limit: int = 50, scan_limit: int = 20_000) -> list[InboxItem]:
        """Undecided texts not in the training data, newest first, at most ``limit`` (1..500)."""
        limit = max(1, min(limit, MAX_LIMIT))
        turn, conv = TurnRow.__table__, ConversationRow.__table__
        query = (
            select(
                turn.c.id,
                turn.c.sender_id,
                turn.c.at,
                turn.c.text,
                turn.c.intent,
                turn.c.confidence,
                turn.c.entities,
                turn.c.fallback,
                conv.c.channel,
            )
            .select_from(turn.outerjoin(conv, conv.c.sender_id == turn.c.sender_id))
            .where(turn.c.author == "citizen", turn.c.text != "")
            .order_by(turn.c.at.desc(), turn.c.id.desc())
            .limit(max(1, scan_limit))
        )
        if filters.fallback is not None:
            query = query.where(turn.c.fallback == filters.fallback)
        if filters.confidence_below is not None:
            query = query.where(turn.c.confidence < filters.confidence_below)
        if filters.intent is not None:
            query = query.where(turn.c.intent == filters.intent)
        if filters.channel is not None:
            query = query.where(conv.c.channel == filters.channel)
        if filters.rating_at_most is not None:
            query = query.where(conv.c.rating.is_not(None), conv.c.rating <= filters.rating_at_most)
        if filters.since is not None:
            query = query.where(turn.c.at >= naive_utc(filters.since))
        with self._session() as session:
            rows = session.execute(query).all()
            flagged_keys = set(session.execute(select(FlagRow.text_key)).scalars())
            decided = set(session.execute(select(ReviewRow.text_key)).scalars())
        groups: dict[str, list[Any]] = {}
        for row in rows:
            key = key_hash(row.text)
            if key in decided:
                continue
            groups.setdefault(key, []).append(row)
        items: list[InboxItem] = []
        for key, group in groups.items():  # dicts keep insertion order: newest first
            flagged = key in flagged_keys
            if filters.flagged is not None and flagged != filters.flagged:
                continue
            newest = group[0]
            if newest.text in self.index:
                continue
            items.append(
                InboxItem(
                    key=key,
                    text=nfc(newest.text),
                    count=len(group),
                    first_at=group[-1].at,
                    last_at=newest.at,
                    intent=newest.intent,
                    confidence=newest.confidence,
                    entities=tuple(newest.entities or ()),
                    fallback=bool(newest.fallback),
                    flagged=flagged,
                    channels=tuple(sorted({r.channel for r in group if r.channel})),
                    turn_id=newest.id,
                    sender_id=newest.sender_id,
                )
            )
            if len(items) >= limit:
                break
        return items

    # -- flags -----------------------------------------------------------------------------------

    def flag(self, turn_id: int, by: str, note: str | None = None) -> None:
        """Flag a citizen turn for the trainer (again: keeps the first flag). :class:`TrainingError`
        ``unknown_turn`` when the record has no such citizen turn."""
        with self._session() as session:
            text = session.execute(
                select(TurnRow.text).where(TurnRow.id == turn_id, TurnRow.author == "citizen")
            ).scalar_one_or_none()
            if text is None:
                raise TrainingError("unknown_turn", "no citizen turn with this id", turn_id=turn_id)
            if session.get(FlagRow, turn_id) is None:
                session.add(
                    FlagRow(turn_id=turn_id, text_key=key_hash(text), flagged_by=by, flagged_at=naive_utc(), note=note)
                )

    def unflag(self, turn_id: int) -> bool:
        """Remove a flag; False when there was none."""
        with self._session() as session:
            return session.execute(delete(FlagRow).where(FlagRow.turn_id == turn_id)).rowcount > 0

    # -- decisions -------------------------------------------------------------------------------

    def decide(
        self,
        text: str,
        decision: str,
        by: str,
        *,
        intent: str | None = None,
        predicted_intent: str | None = None,
        mention: tuple[int, int] | None = None,
        procedure_code: str | None = None,
    ) -> Review:
        """Record the decision on ``text`` (replacing an earlier one on the same folded text).

        ``decision``: ``confirmed`` or ``changed`` (both need ``intent``) or ``ignored``.
        ``mention``: (start, end) of the procedure's name in ``text``; ``procedure_code``: the one picked
        in the catalogue search. :class:`TrainingError` codes: ``bad_decision``, ``bad_intent_name``,
        ``bad_span``, ``unknown_procedure``.
        """
        if decision not in DECISIONS:
            raise TrainingError("bad_decision", "unknown decision", decision=decision, allowed=DECISIONS)
        text = nfc(text)
        entities: list[dict[str, Any]] = []
        if decision == "ignored":
            intent = None
        else:
            if intent is None or not INTENT_NAME.fullmatch(intent):
                raise TrainingError("bad_intent_name", "not a valid intent name", intent=intent)
            if mention is not None:
                entities.append(_mention(text, mention))
            if procedure_code is not None:
                self._check_procedure(procedure_code)
        row_values = dict(
            text=text,
            decision=decision,
            intent=intent,
            predicted_intent=predicted_intent,
            entities=entities,
            procedure_code=None if decision == "ignored" else procedure_code,
            decided_by=by,
            decided_at=naive_utc(),
            written_at=None,
        )
        key = key_hash(text)
        with self._session() as session:
            row = session.execute(select(ReviewRow).where(ReviewRow.text_key == key)).scalar_one_or_none()
            if row is None:
                row = ReviewRow(text_key=key, **row_values)
                session.add(row)
            else:
                for name, value in row_values.items():
                    setattr(row, name, value)
            session.flush()
            return _review(row)

    def confirm(
        self, item: InboxItem, by: str, *, mention: tuple[int, int] | None = None, procedure_code: str | None = None
    ) -> Review:
        """The predicted intent is right."""
        return self.decide(
            item.text,
            "confirmed",
            by,
            intent=item.intent,
            predicted_intent=item.intent,
            mention=mention,
            procedure_code=procedure_code,
        )

    def change(
        self,
        item: InboxItem,
        intent: str,
        by: str,
        *,
        mention: tuple[int, int] | None = None,
        procedure_code: str | None = None,
    ) -> Review:
        """The text means ``intent`` (an existing intent or a new one; see :func:`bot.training.writer.add_intent`)."""
        decision = "confirmed" if intent == item.intent else "changed"
        return self.decide(
            item.text,
            decision,
            by,
            intent=intent,
            predicted_intent=item.intent,
            mention=mention,
            procedure_code=procedure_code,
        )

    def ignore(self, item: InboxItem, by: str) -> Review:
        """Not for training (noise, personal data, a one-off): the text leaves the inbox."""
        return self.decide(item.text, "ignored", by, predicted_intent=item.intent)

    def mark_procedure(
        self, key: str, by: str, *, mention: tuple[int, int] | None = None, procedure_code: str | None = None
    ) -> Review:
        """Add or replace the procedure mention of a decided text. :class:`TrainingError` ``no_review`` when the text
        has no confirmed or changed review."""
        if procedure_code is not None:
            self._check_procedure(procedure_code)
        with self._session() as session:
            row = session.execute(select(ReviewRow).where(ReviewRow.text_key == key)).scalar_one_or_none()
            if row is None or row.decision == "ignored":
                raise TrainingError("no_review", "the text has no confirmed or changed review", key=key)
            if mention is not None:
                row.entities = [_mention(row.text, mention)]
            if procedure_code is not None:
                row.procedure_code = procedure_code
            row.decided_by, row.decided_at, row.written_at = by, naive_utc(), None
            session.flush()
            return _review(row)

    def _check_procedure(self, code: str) -> None:
        if not _PROCEDURE_CODE.fullmatch(code or ""):
            raise TrainingError("unknown_procedure", "not a procedure code", procedure_code=code)
        if self.catalog is not None and self.catalog.get(code) is None:
            raise TrainingError("unknown_procedure", "no such procedure in the catalogue", procedure_code=code)

    # -- what the writer takes -------------------------------------------------------------------

    def reviews(self, decisions: Sequence[str] = ("confirmed", "changed"), unwritten: bool = False) -> list[Review]:
        """Decisions, oldest first; ``unwritten``: only those not yet in ``data/nlu/reviewed``."""
        query = select(ReviewRow).where(ReviewRow.decision.in_(list(decisions))).order_by(ReviewRow.id)
        if unwritten:
            query = query.where(ReviewRow.written_at.is_(None))
        with self._session() as session:
            return [_review(row) for row in session.execute(query).scalars()]

    def mark_written(self, keys: Iterable[str]) -> int:
        """Note that these reviews are in the training data now; returns how many rows changed."""
        keys = list(keys)
        if not keys:
            return 0
        with self._session() as session:
            rows = (
                session.execute(select(ReviewRow).where(ReviewRow.text_key.in_(keys), ReviewRow.written_at.is_(None)))
                .scalars()
                .all()
            )
            now = naive_utc()
            for row in rows:
                row.written_at = now
            return len(rows)
