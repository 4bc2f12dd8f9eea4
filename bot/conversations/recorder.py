"""The recorder: Rasa's events in, the conversation record (``conv_*`` tables) out.

Input: event dicts as Rasa's event broker publishes them, ``{"sender_id": ..., **event.as_dict()}``
(``user``, ``bot``, ``action``, ``slot``, ``pause``, ``resume``; every other type is ignored, and a
malformed event is skipped with a debug log that holds no text).

Turns: a citizen message opens a turn; the bot messages and actions that follow, until the next
``user`` event, attach to it (``reply``, ``actions``). A ``user`` event with an ``EXTERNAL_`` intent
opens a ``system`` turn (text: the intent name). A bot message with ``metadata.agent`` is a turn of
its own (``staff``); a bot message before any opened turn (a push) is a ``bot`` turn.

Idempotent: every applied event's key (sha1 of sender|type|timestamp|name-or-text) is stored in
``conv_events_seen``, so redelivered or replayed events change nothing. A batch is one transaction,
and the state that links batches (the open turn of each conversation) lives in the database, so
events of one turn may arrive in separate batches and in separate processes. On PostgreSQL an
advisory lock serialises recorders, so turn ids are committed in increasing order (the console polls
"turns after id N").
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import Table

from bot.conversations.models import (
    ConversationRow,
    EventSeenRow,
    IntentRow,
    ProcedureRow,
    TermRow,
    TurnRow,
)
from bot.db import engine_for
from bot.privacy import mask_id, mask_text
from bot.privacy.models import RecordErasureRow
from bot.privacy.subjects import sender_key
from bot.text import UNWANTED_CHARS, words

__all__ = ["EXTERNAL_PREFIX", "FALLBACK_ACTIONS", "FALLBACK_INTENT", "Recorder", "event_key"]

_LOG = logging.getLogger(__name__)

EXTERNAL_PREFIX = "EXTERNAL_"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_fallback_ladder", "action_default_fallback"})
_HANDLED = frozenset({"user", "bot", "action", "slot", "pause", "resume"})
_MAX_TERM_CHARS = 40
_TOKEN_RE = re.compile(r"\w+")
_MAX_PLAIN_DIGITS = 6  # a longer numeric entity value is masked as an ID
_CHUNK = 500  # bound parameters per IN (...) query
_ATTEMPTS = 3  # a concurrent recorder committed the same events first: read them as seen, retry
# Key of the PostgreSQL advisory lock held while applying a batch (one recorder at a time).
_PG_RECORDER_LOCK = 0x7D5C_0008

_CONV = ConversationRow.__table__
_TURN = TurnRow.__table__
_CONV_FIELDS = (
    "channel", "started_at", "last_at", "last_citizen_at", "turns", "fallbacks", "lowest_confidence",
    "handed_off", "paused", "rating", "rating_comment", "rating_target", "model_id", "open_turn_id",
)  # fmt: skip
_TURN_FIELDS = (
    "sender_id", "at", "author", "text", "sealed", "intent", "confidence", "entities", "actions", "reply",
    "procedure_code", "agent", "model_id", "fallback",
)  # fmt: skip
_ENTITY_KEYS = ("entity", "start", "end", "role", "group", "extractor")


def event_key(sender_id: str, kind: str, timestamp: float, name_or_text: str) -> str:
    """The idempotency key of an event: sha1 hex of ``sender|type|repr(float timestamp)|name-or-text``."""
    raw = f"{sender_id}|{kind}|{float(timestamp)!r}|{name_or_text}"
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class _Event:
    key: str
    sender_id: str
    kind: str
    at: datetime  # naive UTC
    raw: Mapping[str, Any]


@dataclass(eq=False)
class _Turn:
    sender_id: str
    at: datetime
    author: str
    text: str
    id: int | None = None
    sealed: str | None = None
    intent: str | None = None
    confidence: float | None = None
    entities: list[dict[str, Any]] | None = None
    actions: list[str] | None = None
    reply: str | None = None
    procedure_code: str | None = None
    agent: str | None = None
    model_id: str | None = None
    fallback: bool = False
    dirty: bool = False

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _TURN_FIELDS}


@dataclass(eq=False)
class _Conv:
    sender_id: str
    channel: str
    started_at: datetime
    last_at: datetime
    id: int | None = None
    last_citizen_at: datetime | None = None
    turns: int = 0
    fallbacks: int = 0
    lowest_confidence: float | None = None
    handed_off: bool = False
    paused: bool = False
    rating: int | None = None
    rating_comment: str | None = None
    rating_target: str | None = None
    model_id: str | None = None
    open_turn_id: int | None = None
    open_turn: _Turn | None = None
    loaded_turn: _Turn | None = None  # the open turn read from the database (the only old turn a batch changes)
    intents: set[str] = field(default_factory=set)
    procedures: set[str] = field(default_factory=set)
    terms: set[str] = field(default_factory=set)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _CONV_FIELDS}


def _clean(value: str) -> str:
    """``value`` without control characters and lone surrogates (neither database stores them all)."""
    return UNWANTED_CHARS.sub("", value)


def _short(value: object, limit: int) -> str | None:
    """``value`` when it is a non-empty string, cleaned and cut to ``limit`` characters; else None."""
    return (_clean(value)[:limit] or None) if isinstance(value, str) and value else None


def _masked(value: object) -> str:
    """A text (None: "") cleaned and masked."""
    return mask_text(_clean(value)) if isinstance(value, str) and value else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _parse(raw: object) -> _Event | None:
    """The event, or None when it is not one we record (or is malformed: logged at debug, no text)."""
    if not isinstance(raw, Mapping):
        _LOG.debug("skipped an event that is not a mapping (%s)", type(raw).__name__)
        return None
    kind = raw.get("event")
    if kind not in _HANDLED:
        return None
    sender_id, ts = raw.get("sender_id"), _number(raw.get("timestamp"))
    if (
        not isinstance(sender_id, str)
        or not 0 < len(sender_id) <= 255
        or UNWANTED_CHARS.search(sender_id)
        or ts is None
    ):
        _LOG.debug("skipped a malformed %s event (sender id or timestamp)", kind)
        return None
    if kind in ("user", "bot"):
        body = raw.get("text")
        if body is not None and not isinstance(body, str):
            _LOG.debug("skipped a malformed %s event (text)", kind)
            return None
        ident = body or ""
    elif kind in ("action", "slot"):
        ident = raw.get("name")
        if not isinstance(ident, str) or not ident:
            _LOG.debug("skipped a malformed %s event (name)", kind)
            return None
    else:
        ident = ""
    try:
        at = datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        _LOG.debug("skipped a malformed %s event (timestamp out of range)", kind)
        return None
    return _Event(event_key(sender_id, kind, ts, ident), sender_id, kind, at, raw)


@lru_cache(maxsize=65536)
def _token_terms(token: str) -> tuple[str, ...]:
    """The search terms of one (lower-cased) word: :func:`bot.text.words` of it, at most 40 characters each."""
    return tuple(w for w in words(token) if len(w) <= _MAX_TERM_CHARS)


def _terms(masked: str) -> set[str]:
    """The search terms of a masked text, as :func:`bot.text.words` gives them (folded), folding each word once."""
    out: set[str] = set()
    for token in set(_TOKEN_RE.findall(masked.lower())):
        out.update(_token_terms(token))
    return out


@lru_cache(maxsize=4096)
def _bot_text(raw: str) -> tuple[str, frozenset[str]]:
    """A bot message masked, and its search terms (bot messages repeat: cached; citizen texts are not)."""
    masked = _masked(raw)
    return masked, frozenset(_terms(masked))


def _entities(value: object) -> list[dict[str, Any]]:
    """Entities with their values masked; anything that is not an entity dict is dropped."""
    out: list[dict[str, Any]] = []
    for item in value if isinstance(value, list) else ():
        if not isinstance(item, Mapping) or not isinstance(item.get("entity"), str):
            continue
        entity = {k: _short(item[k], 100) if isinstance(item[k], str) else item[k]
                  for k in _ENTITY_KEYS if isinstance(item.get(k), (str, int, float))}  # fmt: skip
        val = item.get("value")
        if isinstance(val, str):
            entity["value"] = _masked(val)
        elif isinstance(val, (int, float)) and not isinstance(val, bool):
            # A number lost its leading zeros ("001099012345" -> 1099012345): too long means an ID or a phone.
            digits = str(val)
            entity["value"] = mask_id(digits) if sum(ch.isdigit() for ch in digits) > _MAX_PLAIN_DIGITS else digits
        out.append(entity)
    return out


def _rating(value: object) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5:
        return value
    return None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping those whose primary key exists (SQLite and PostgreSQL)."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(pg_insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        conn.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)
    else:  # pragma: no cover - the project runs on SQLite and PostgreSQL
        raise NotImplementedError(f"insert_ignore: unsupported database {dialect}")


class Recorder:
    """Applies Rasa's events to the conversation record over ``engine`` (the configured database by default)."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or engine_for()

    def apply(self, events: Sequence[Mapping[str, Any]]) -> int:
        """Apply ``events`` (in delivery order) in one transaction; return how many were new.

        Events already applied (same key), of an ignored type or malformed are not counted.
        """
        parsed: list[_Event] = []
        keys: set[str] = set()
        for raw in events:
            event = _parse(raw)
            if event is not None and event.key not in keys:
                keys.add(event.key)
                parsed.append(event)
        if not parsed:
            return 0
        for attempt in range(_ATTEMPTS):
            try:
                with self.engine.begin() as conn:
                    return self._apply(conn, parsed)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
                _LOG.debug("a concurrent recorder applied some of these events first; retrying")
        return 0  # pragma: no cover - the loop returns or raises

    # -- internals ---------------------------------------------------------------------------

    def _apply(self, conn: Connection, parsed: list[_Event]) -> int:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_RECORDER_LOCK})
        seen: set[str] = set()
        all_keys = [e.key for e in parsed]
        for chunk in _chunks(all_keys):
            seen.update(conn.scalars(select(EventSeenRow.event_key).where(EventSeenRow.event_key.in_(chunk))))
        fresh = [e for e in parsed if e.key not in seen]
        if not fresh:
            return 0
        conn.execute(insert(EventSeenRow.__table__), [{"event_key": e.key} for e in fresh])
        fresh = self._not_erased(conn, fresh)
        if not fresh:
            return 0
        convs = self._load(conn, sorted({e.sender_id for e in fresh}))
        new_turns: list[_Turn] = []
        for event in fresh:
            conv = convs.get(event.sender_id)
            if conv is None:
                conv = convs[event.sender_id] = _Conv(
                    event.sender_id, _channel(event.sender_id, event.raw), event.at, event.at
                )
            self._handle(conv, event, new_turns)
        self._write(conn, list(convs.values()), new_turns)
        return len(fresh)

    @staticmethod
    def _not_erased(conn: Connection, events: list[_Event]) -> list[_Event]:
        """``events`` less those of an erased conversation from before its erasure (privacy_record_erasures)."""
        keys = {s: sender_key(s) for s in {e.sender_id for e in events}}
        erased: dict[str, float] = {}
        table = RecordErasureRow.__table__
        for chunk in _chunks(list(keys.values())):
            query = select(table.c.sender_key, table.c.erased_at).where(table.c.sender_key.in_(chunk))
            erased.update(conn.execute(query).all())
        if not erased:
            return events
        kept = [
            e for e in events
            if keys[e.sender_id] not in erased
            or e.at.replace(tzinfo=timezone.utc).timestamp() >= erased[keys[e.sender_id]]
        ]  # fmt: skip
        if len(kept) < len(events):
            dropped = len(events) - len(kept)
            _LOG.info("dropped %d event(s) of erased conversations that arrived after the erasure", dropped)
        return kept

    @staticmethod
    def _load(conn: Connection, senders: list[str]) -> dict[str, _Conv]:
        """The conversations of ``senders`` already recorded, with their open turns."""
        convs: dict[str, _Conv] = {}
        for chunk in _chunks(senders):
            for row in conn.execute(select(_CONV).where(_CONV.c.sender_id.in_(chunk))).mappings():
                conv = _Conv(row["sender_id"], row["channel"], row["started_at"], row["last_at"], id=row["id"])
                for name in _CONV_FIELDS:
                    setattr(conv, name, row[name])
                convs[conv.sender_id] = conv
        by_turn = {c.open_turn_id: c for c in convs.values() if c.open_turn_id is not None}
        for chunk in _chunks(list(by_turn)):
            for row in conn.execute(select(_TURN).where(_TURN.c.id.in_(chunk))).mappings():
                turn = _Turn(row["sender_id"], row["at"], row["author"], row["text"], id=row["id"])
                for name in _TURN_FIELDS:
                    setattr(turn, name, row[name])
                turn.actions = list(turn.actions or [])
                by_turn[turn.id].open_turn = by_turn[turn.id].loaded_turn = turn
        return convs

    def _handle(self, conv: _Conv, event: _Event, new_turns: list[_Turn]) -> None:
        raw, at = event.raw, event.at
        conv.started_at, conv.last_at = min(conv.started_at, at), max(conv.last_at, at)
        meta = _mapping(raw.get("metadata"))
        model_id = _short(meta.get("model_id"), 100)
        if model_id and event.kind in ("user", "bot"):
            conv.model_id = model_id
        if event.kind == "user":
            self._user(conv, event, meta, model_id, new_turns)
        elif event.kind == "bot":
            masked, terms = _bot_text(raw.get("text") or "")
            agent = _short(meta.get("agent"), 100)
            if agent is not None:
                new_turns.append(_Turn(conv.sender_id, at, "staff", masked, agent=agent, model_id=model_id))
            elif conv.open_turn is not None:
                if masked:
                    turn = conv.open_turn
                    turn.reply = f"{turn.reply}\n{masked}" if turn.reply else masked
                    turn.dirty = True
            elif masked:
                new_turns.append(_Turn(conv.sender_id, at, "bot", masked, model_id=model_id))
            conv.terms |= terms
        elif event.kind == "action":
            self._action(conv, raw["name"])
        elif event.kind == "slot":
            self._slot(conv, raw["name"], raw.get("value"))
        elif event.kind == "pause":
            conv.handed_off = conv.paused = True
        elif event.kind == "resume":
            conv.paused = False

    @staticmethod
    def _user(conv: _Conv, event: _Event, meta: Mapping[str, Any], model_id: str | None,
              new_turns: list[_Turn]) -> None:  # fmt: skip
        raw = event.raw
        parse = _mapping(raw.get("parse_data"))
        intent_data = _mapping(parse.get("intent"))
        intent = _short(intent_data.get("name"), 100)
        if conv.channel == "unknown" and _short(raw.get("input_channel"), 40):
            conv.channel = _short(raw["input_channel"], 40) or conv.channel
        if intent is not None:
            conv.intents.add(intent)
        if intent is not None and intent.startswith(EXTERNAL_PREFIX):
            turn = _Turn(conv.sender_id, event.at, "system", intent, intent=intent, model_id=model_id)
        else:
            masked = _masked(raw.get("text"))
            confidence = _number(intent_data.get("confidence"))
            turn = _Turn(
                conv.sender_id, event.at, "citizen", masked, sealed=_short(meta.get("sealed"), 100_000),
                intent=intent, confidence=confidence, entities=_entities(parse.get("entities")),
                model_id=model_id, fallback=intent == FALLBACK_INTENT,
            )  # fmt: skip
            conv.turns += 1
            conv.last_citizen_at = max(conv.last_citizen_at or event.at, event.at)
            if confidence is not None:
                conv.lowest_confidence = min(conv.lowest_confidence if conv.lowest_confidence is not None
                                             else confidence, confidence)  # fmt: skip
            if turn.fallback:
                conv.fallbacks += 1
            conv.terms |= _terms(masked)
        turn.actions = []
        conv.open_turn = turn
        new_turns.append(turn)

    @staticmethod
    def _action(conv: _Conv, name: str) -> None:
        if name == "action_listen":
            return
        turn = conv.open_turn
        if turn is not None:
            turn.actions = [*(turn.actions or []), _short(name, 100) or "?"]
            turn.dirty = True
        if name in FALLBACK_ACTIONS:
            if turn is None:
                conv.fallbacks += 1
            elif not turn.fallback:
                turn.fallback = True
                conv.fallbacks += 1

    @staticmethod
    def _slot(conv: _Conv, name: str, value: object) -> None:
        if name == "procedure_code":
            code = _short(_masked(value.strip()), 40) if isinstance(value, str) else None
            if code:
                conv.procedures.add(code)
                if conv.open_turn is not None:
                    conv.open_turn.procedure_code = code
                    conv.open_turn.dirty = True
        elif name == "csat_rating":
            rating = _rating(value)
            if rating is not None:
                conv.rating = rating
        elif name == "csat_comment":
            if isinstance(value, str) and value.strip():
                conv.rating_comment = _masked(value.strip()[:2000]) or None
        elif name == "csat_target":
            target = _short(value, 120)
            if target is not None:
                conv.rating_target = target

    @staticmethod
    def _allocate_ids(conn: Connection, count: int) -> list[int]:
        """``count`` new turn ids, increasing (inside the batch's transaction, which holds the write lock)."""
        if conn.dialect.name == "postgresql":
            return list(conn.scalars(
                text("SELECT nextval(pg_get_serial_sequence('conv_turns', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            ))  # fmt: skip
        top = conn.scalar(select(func.max(_TURN.c.id))) or 0
        return list(range(top + 1, top + 1 + count))

    def _write(self, conn: Connection, convs: list[_Conv], new_turns: list[_Turn]) -> None:
        if new_turns:
            for turn, turn_id in zip(new_turns, self._allocate_ids(conn, len(new_turns)), strict=True):
                turn.id = turn_id
            conn.execute(insert(_TURN), [{"id": t.id, **t.values()} for t in new_turns])
        changed = [t for c in convs if (t := c.loaded_turn) is not None and t.dirty]
        if changed:
            stmt = _TURN.update().where(_TURN.c.id == bindparam("b_id"))
            keep = ("actions", "reply", "procedure_code", "fallback")
            conn.execute(stmt, [{"b_id": t.id, **{k: getattr(t, k) for k in keep}} for t in changed])
        for conv in convs:
            conv.open_turn_id = conv.open_turn.id if conv.open_turn is not None else conv.open_turn_id
        fresh = [c for c in convs if c.id is None]
        if fresh:
            conn.execute(insert(_CONV), [{"sender_id": c.sender_id, **c.values()} for c in fresh])
            by_sender = {c.sender_id: c for c in fresh}
            for chunk in _chunks(list(by_sender)):
                for conv_id, sender_id in conn.execute(
                    select(_CONV.c.id, _CONV.c.sender_id).where(_CONV.c.sender_id.in_(chunk))
                ):
                    by_sender[sender_id].id = conv_id
        known = [c for c in convs if c not in fresh]
        if known:
            stmt = _CONV.update().where(_CONV.c.id == bindparam("b_id"))
            conn.execute(stmt, [{"b_id": c.id, **c.values()} for c in known])
        insert_ignore(
            conn,
            ProcedureRow.__table__,
            [{"conversation_id": c.id, "code": code} for c in convs for code in sorted(c.procedures)],
        )
        insert_ignore(
            conn,
            IntentRow.__table__,
            [{"conversation_id": c.id, "intent": i} for c in convs for i in sorted(c.intents)],
        )
        insert_ignore(conn, TermRow.__table__,
                      [{"term": term, "conversation_id": c.id} for c in convs for term in sorted(c.terms)])  # fmt: skip


def _channel(sender_id: str, raw: Mapping[str, Any]) -> str:
    """The channel prefix of ``sender_id`` ("socketio:abc" -> "socketio"), else the event's input channel."""
    prefix, sep, _ = sender_id.partition(":")
    if sep and prefix:
        return prefix[:40]
    return _short(raw.get("input_channel"), 40) or "unknown"
