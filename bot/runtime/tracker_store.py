"""Rasa's SQL tracker store, with personal data and the dossier second factor kept out of what it stores.

Configured in ``endpoints.yml`` (SQLite) and ``endpoints.prod.yml`` (PostgreSQL) as
``type: bot.runtime.tracker_store.PrivateSQLTrackerStore``; it takes the same options
as Rasa's ``SQL`` store. Before a turn's new events are written (and published to the
event broker, which reads the same event objects):

- in a message of the dossier flow (the answer to "the last 4 digits of your phone",
  any message while the dossier form is open or right after a lookup, any message
  holding a dossier code) every digit outside a dossier code becomes ``•``: the 4
  digits unlock a dossier and must not be stored anywhere;
- every other message has phone numbers, ID numbers and e-mails masked
  (:func:`bot.privacy.mask_text`), and so does every string of its parse data (entities
  with their ``value`` and ``text``, the response selector, the parse data's copy of the
  metadata; not the intent names, which the dialogue needs), of every slot value (lists
  and dicts included), of bot messages (text, buttons, custom payloads) and of any event's
  metadata (except the keys holding hashes, model ids or ciphertext); a user message that
  masking changed keeps its original encrypted in ``metadata["sealed"]``
  (:func:`bot.privacy.seal`) for the console's audited "unmask";
- a ``phone_last4`` slot keeps only "received"/"invalid", and a ``dossier_code`` slot
  only a well-formed code.

The live turn is unaffected: actions see the message as typed, because redaction
happens when the turn is saved, after the actions have run. Intents, procedure codes,
dossier codes and the slots the dialogue reads are left as they are.

Where it lives: the issue asked for this store "in bot/privacy", but ``bot.privacy`` is a
foundation package and imports no Rasa (docs/ARCHITECTURE.md, tests/test_architecture.py).
So the masking rules live in :mod:`bot.privacy` (``mask_text``, ``seal``), and this module is
only the Rasa adapter that applies them to Rasa's events, in ``bot.runtime``, the one layer
allowed to subclass Rasa. ``tests/e2e/test_pii_at_rest.py`` scans what it stored, the
application database and the logs after real conversations; ``bench/masking_bench.py``
measures what it adds to a save.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    EntitiesAdded,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.dossiers.codes import code_spans, is_valid_code
from bot.privacy import mask_id, mask_text, seal
from bot.privacy.models import ERASURES, ensure_erasures
from bot.privacy.subjects import sender_key
from bot.runtime.rasa_speedups import DIALOGUE_STATES_ATTR

# Set on events read back from the store: they were redacted when they were saved.
_STORED = "_dvc_stored"
SECOND_FACTOR_SLOT = "phone_last4"
DOSSIER_SLOT = "dossier_code"
DOSSIER_FORM = "dossier_form"
DOSSIER_ACTION = "action_dossier_status"
_SLOT_MARKERS = frozenset({"received", "invalid"})
_LISTEN = "action_listen"
DIGIT_MASK = "•"
#: Metadata key of a user message's sealed original (read by bot.conversations).
SEALED_KEY = "sealed"
Scrub = Callable[[str], str]
# Parse-data keys left as they are: the dialogue's intent names, and what _redact_user sets itself.
_PARSE_KEPT = frozenset({"intent", "intent_ranking", "text", "entities", "message_id"})
# Metadata keys that hold no text a person typed: a keyed hash, the model's ids, the sealed ciphertext
# (scrubbing could only damage them).
_METADATA_KEPT = frozenset({SEALED_KEY, "requester", "model_id", "assistant_id"})
# Integers of 9 to 12 digits (a CMND, a phone without its trunk 0, a CCCD without its leading zeros).
_LONG_NUMBER = 100_000_000
_TOO_LONG_NUMBER = 1_000_000_000_000


def hide_digits(text: str) -> str:
    """``text`` with every digit outside a dossier code replaced by ``•``."""
    out = list(text)
    keep = [range(a, b) for a, b in code_spans(text)]
    for i, ch in enumerate(out):
        if ch.isdigit() and not any(i in span for span in keep):
            out[i] = DIGIT_MASK
    return "".join(out)


# Rasa's event classes are ABCs: isinstance goes through ABCMeta, which made walking a long tracker
# the largest part of redact. The kind of each event class is worked out once.
_KIND_BASES: tuple[tuple[str, type[Event]], ...] = (
    ("user", UserUttered),
    ("slot", SlotSet),
    ("loop", ActiveLoop),
    ("action", ActionExecuted),
    ("bot", BotUttered),
    ("entities", EntitiesAdded),
    ("session", SessionStarted),
)
_KINDS: dict[type, str] = {}


def _kind(event: Event) -> str:
    cls = type(event)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _KINDS[cls] = next((name for name, base in _KIND_BASES if issubclass(cls, base)), "")
    return kind


def _dossier_flow_messages(events: list[Event]) -> set[int]:
    """Indices of user messages of the dossier flow: sent while the form is open or right after a
    lookup (a retry of the digits), or followed by a lookup in the same turn."""
    flow: set[int] = set()
    requested: Any = None
    loop: Any = None
    last_action: str | None = None
    last_user: int | None = None
    event: Any  # its class is known from its kind
    for i, event in enumerate(events):
        kind = _kind(event)
        if kind == "slot" and event.key == "requested_slot":
            requested = event.value
        elif kind == "loop":
            loop = event.name
        elif kind == "user":
            last_user = i
            if requested == SECOND_FACTOR_SLOT or loop == DOSSIER_FORM or last_action == DOSSIER_ACTION:
                flow.add(i)
        elif kind == "action" and event.action_name != _LISTEN:
            last_action = event.action_name
            if last_action == DOSSIER_ACTION and last_user is not None:
                flow.add(last_user)
    return flow


def _set_text(event: UserUttered, text: str) -> None:
    event.text = text
    event.parse_data["text"] = text
    event.parse_data.pop("text_tokens", None)


def _hide_and_mask(text: str) -> str:
    """A dossier-flow text: every digit outside a dossier code hidden, then personal data masked."""
    return mask_text(hide_digits(text))


def _scrubbed(value: Any, scrub: Scrub) -> Any:
    """``value`` with ``scrub`` applied to every string in it, however deep (lists, tuples, dicts' values,
    except under the keys of ``_METADATA_KEPT``).

    An integer of 9 to 12 digits (a phone or an ID number read as a number, which lost its leading
    zeros) is stored as masked text; shorter ones (counters, ratings) and longer ones are kept.
    """
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        # A copy of a message's metadata turns up elsewhere too (the session_started_metadata slot).
        return {k: v if k in _METADATA_KEPT else _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrubbed(v, scrub) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and _LONG_NUMBER <= abs(value) < _TOO_LONG_NUMBER:
        digits = str(abs(value))
        masked = scrub(digits)
        # Without its leading zeros an ID or a phone may no longer look like one: masked as an ID.
        return masked if masked != digits else mask_id(digits)
    return value


def _scrubbed_metadata(metadata: dict[str, Any] | None, scrub: Scrub) -> dict[str, Any] | None:
    """Metadata scrubbed, except the keys that hold no text a person typed (hashes, ids, ciphertext)."""
    return _scrubbed(metadata, scrub) if metadata else metadata


def _redact_user(event: UserUttered, in_flow: bool) -> None:
    text = event.text or ""
    dossier = in_flow or bool(code_spans(text))
    scrub: Scrub = _hide_and_mask if dossier else mask_text
    redacted = scrub(text)
    entities = event.entities
    if dossier:
        # The 4 digits may have been read as an entity of any kind: keep only digit-free values and codes.
        entities = [
            e for e in entities
            if not any(ch.isdigit() for ch in str(e.get("value"))) or is_valid_code(str(e.get("value")))
        ]  # fmt: skip
    kept = [_scrubbed(e, scrub) for e in entities]
    if redacted != text and not dossier:
        # Outside the dossier flow the original stays readable, encrypted, for a supervisor
        # who gives a reason in the console (bot.privacy.sealing); the 4 digits never are.
        event.metadata = {**(event.metadata or {}), SEALED_KEY: seal(text)}
    if redacted != text:
        _set_text(event, redacted)
    if kept != event.entities:
        event.entities = kept
        event.parse_data["entities"] = list(kept)
    # Everything else the NLU and the channel put in the parse data (its copy of the metadata, the
    # response selector's answers, an entity's "text", ...); the intent names are the dialogue's.
    for key, value in event.parse_data.items():
        if key == "metadata":
            event.parse_data[key] = _scrubbed_metadata(value, scrub)
        elif key not in _PARSE_KEPT and value:
            event.parse_data[key] = _scrubbed(value, scrub)
    event.metadata = _scrubbed_metadata(event.metadata, scrub)


def _redact_slot(event: SlotSet) -> None:
    if event.key == SECOND_FACTOR_SLOT:
        if event.value not in _SLOT_MARKERS:
            event.value = None
    elif event.key == DOSSIER_SLOT:
        if event.value is not None and not is_valid_code(str(event.value)):
            event.value = None
    else:
        # Strings, and phones or e-mails inside lists and dicts (a form may collect a contact as one).
        event.value = _scrubbed(event.value, mask_text)


# The bot's own words repeat (replies, button titles and payloads): masked once, then remembered,
# as the record of conversations does (bot.conversations.recorder). What a person typed (a citizen's
# message, a staff reply: metadata "agent") is not kept in the cache.
_mask_bot_text: Scrub = lru_cache(maxsize=2048)(mask_text)


def _redact_bot(event: BotUttered) -> None:
    scrub = mask_text if (event.metadata or {}).get("agent") else _mask_bot_text
    if event.text:
        event.text = scrub(event.text)
    if event.data:
        event.data = _scrubbed(event.data, scrub)  # buttons' titles and payloads, custom payloads


def redact(events: Iterable[Event]) -> None:
    """Redact, in place, the events not yet stored (see the module docstring)."""
    events = list(events)
    flow = _dossier_flow_messages(events)
    event: Any  # its class is known from its kind
    for i, event in enumerate(events):
        if getattr(event, _STORED, False):
            continue
        kind = _kind(event)
        if kind == "user":
            _redact_user(event, i in flow)
            continue
        if kind == "slot":
            _redact_slot(event)
        elif kind == "bot":
            _redact_bot(event)
        elif kind == "entities":
            event.entities = _scrubbed(event.entities, mask_text)
        elif kind == "action" and event.action_text:
            event.action_text = mask_text(event.action_text)
        # Any event may carry metadata (a session start copies the message's; a staff reply names its agent).
        metadata = getattr(event, "metadata", None)
        if metadata:
            event.metadata = _scrubbed_metadata(metadata, mask_text)


def _slot_values(tracker: DialogueStateTracker) -> dict[int, Any]:
    """The values of the tracker's slot events not yet stored, by event identity, before redaction."""
    return {
        id(event): event.value
        for event in tracker.events
        if _kind(event) == "slot" and not getattr(event, _STORED, False)
    }


def _user_parts(tracker: DialogueStateTracker) -> list[tuple[Any, ...]]:
    """What the dialogue states read of the user messages not yet stored: text and entity types."""
    return [
        (event.text, tuple(e.get("entity") for e in event.entities))
        for event in tracker.events
        if _kind(event) == "user" and not getattr(event, _STORED, False)
    ]


def _sync_redacted_slots(tracker: DialogueStateTracker, before: dict[int, Any]) -> None:
    """Give the tracker's slots the values redaction stored, as if the tracker had been read back.

    The tracker stays in memory for the conversation's next turn (:class:`TrackerCache`); its slots
    hold copies of the values the events had before redaction (the 4 digits, say), which a tracker
    read from the store would not have.
    """
    event: Any
    for event in tracker.events:
        old = before.get(id(event), event)
        if old is event or old == event.value or event.key not in tracker.slots:
            continue
        slot = tracker.slots[event.key]
        if slot.value == old:
            slot.value = event.value


def _mark_stored(tracker: DialogueStateTracker | None) -> DialogueStateTracker | None:
    if tracker is not None:
        for event in tracker.events:
            setattr(event, _STORED, True)
    return tracker


_ERASURES_READY = "_dvc_erasures_ready"
_ERASURES_RETRY = "_dvc_erasures_retry"
_log = logging.getLogger(__name__)


def _ready_erasures(store: SQLTrackerStore) -> None:
    """Make the erasure tombstones' table once per process (``python -m bot privacy erase`` writes it).

    A database user without CREATE rights must not stop the bot: the turn is saved without the
    guard, a warning says why, and the table is tried again ten minutes later (an eraser with the
    rights creates it too).
    """
    if getattr(store, _ERASURES_READY, False) or time.monotonic() < getattr(store, _ERASURES_RETRY, 0.0):
        return
    try:
        ensure_erasures(store.engine)
    except SQLAlchemyError as exc:
        setattr(store, _ERASURES_RETRY, time.monotonic() + 600)
        _log.warning("privacy_erasures cannot be created in the tracker store (%s): erasures are not "
                       "guarded against a turn in flight until it exists", type(exc).__name__)  # fmt: skip
        return
    setattr(store, _ERASURES_READY, True)


def _erased_at(store: SQLTrackerStore, session: Any, sender_id: str) -> float | None:
    """When the conversation was erased (epoch seconds), from its tombstone; None when it never was."""
    if not getattr(store, _ERASURES_READY, False):
        return None  # save() makes the table before anything is written
    query = select(ERASURES.c.erased_at).where(ERASURES.c.sender_key == sender_key(sender_id))
    value = session.execute(query).scalar()
    return None if value is None else float(value)


# What a tracker object knows of the store: how many of its events are stored (Rasa's count since the
# session start) and, for the whole conversation, the stored row count and highest row id.
_STORED_LEN = "_dvc_stored_len"
_MARK = "_dvc_store_mark"


class TrackerCache:
    """The trackers this process saved last, by conversation, for the next turn (``TRACKER_CACHE_SIZE``).

    A turn *takes* its tracker (so a turn that fails before saving leaves nothing behind) and the save
    puts it back. The store only uses a taken tracker when the conversation's stored row count and
    highest id are still what this process saw at the save: another replica's turn, an erasure or a
    purge changes them, and the tracker is then read from the database as usual.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._trackers: OrderedDict[str, DialogueStateTracker] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def take(self, sender_id: str) -> DialogueStateTracker | None:
        """The tracker saved last for ``sender_id``, removed from the cache; None when absent."""
        return self._trackers.pop(sender_id, None)

    def put(self, tracker: DialogueStateTracker) -> None:
        """Keep ``tracker`` (just saved), evicting the least recently saved beyond ``size``."""
        if self.size <= 0:
            return
        self._trackers[tracker.sender_id] = tracker
        self._trackers.move_to_end(tracker.sender_id)
        while len(self._trackers) > self.size:
            self._trackers.popitem(last=False)

    def clear(self) -> None:
        """Forget every tracker (another model's domain may have other slots)."""
        self._trackers.clear()

    def __len__(self) -> int:
        return len(self._trackers)


def _engine_options(url: Any) -> dict[str, Any]:
    """Rasa's engine options plus ``pool_pre_ping``: a connection that PostgreSQL closed (a restart,
    ``pg_terminate_backend``, a failover) is replaced before use instead of failing the turn.

    SQLite (the embedded default) gets a pool too: SQLAlchemy 1.4 opens and closes a file database's
    connection for every session, and closing the last connection to a WAL database checkpoints it;
    that was 15 % of the Rasa server's time under load.
    """
    from rasa.core.tracker_store import create_engine_kwargs
    from sqlalchemy.pool import QueuePool

    if str(url).startswith("sqlite"):
        return {"poolclass": QueuePool, "pool_size": 5, "connect_args": {"check_same_thread": False}}
    return {**create_engine_kwargs(url), "pool_pre_ping": True}


class PrivateSQLTrackerStore(SQLTrackerStore):
    """:class:`rasa.core.tracker_store.SQLTrackerStore` that redacts before it stores (module docstring),
    reconnects after the database dropped its connections, and keeps recent trackers between turns.

    Rasa rebuilds the tracker from every event of the session on each turn, so a turn's cost grew with
    the conversation (turn 80 took 2.4 times turn 10). Here a turn reuses the tracker this process
    saved, after one indexed query checks that the store still holds exactly what was saved; a save
    writes the events beyond what is stored without counting them again.
    """

    def __init__(self, *args: Any, cache_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import sqlalchemy as sa

        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, **_engine_options(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        if cache_size is None:
            from bot.settings import settings

            cache_size = settings().runtime.tracker_cache_size
        self.cache = TrackerCache(cache_size)

    @property
    def domain(self) -> Any:
        """The domain trackers are built with; setting another one (a new model) empties the cache."""
        return self._domain

    @domain.setter
    def domain(self, domain: Any) -> None:
        if domain is not getattr(self, "_domain", None) and getattr(self, "cache", None) is not None:
            self.cache.clear()
        SQLTrackerStore.domain.fset(self, domain)  # type: ignore[attr-defined]  # None becomes an empty domain

    def _mark(self, session: Any, sender_id: str) -> tuple[int, int]:
        """(stored rows, highest row id) of the conversation, all sessions: one indexed query."""
        table = self.SQLEvent
        count, top = session.execute(select(func.count(), func.max(table.id)).where(table.sender_id == sender_id)).one()
        return int(count), int(top or 0)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's tracker since its last session start: this process's copy when the store
        still holds exactly what it saved, else read from the database."""
        cached = self.cache.take(sender_id)
        # A turn still holding the object (or one that failed half-way) has added events since its save.
        if cached is not None and len(cached.events) == getattr(cached, _STORED_LEN, -1):
            with self.session_scope() as session:
                if self._mark(session, sender_id) == getattr(cached, _MARK, None):
                    self.cache.hits += 1
                    return cached
        self.cache.misses += 1
        return await self._retrieve(sender_id, fetch_events_from_all_sessions=False)

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            mark = self._mark(session, sender_id)
        tracker = _mark_stored(await super()._retrieve(sender_id, fetch_events_from_all_sessions))
        if tracker is not None and not fetch_events_from_all_sessions:
            setattr(tracker, _STORED_LEN, len(tracker.events))
            setattr(tracker, _MARK, mark)
        return tracker

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publish the turn's new events: those beyond the stored count, as :meth:`save` stores them.

        Rasa's own version reads the whole tracker back and diffs it on every turn, which made a turn
        with the record of conversations about 15 % slower (bench/webhook_bench.py --record-cost).
        """
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Redact the turn's new events, store them, then publish them to the event broker.

        Published after the commit: an event the broker carries (the record of conversations, the
        console) is one the tracker store holds.
        """
        before = _slot_values(tracker)
        typed = _user_parts(tracker)
        redact(tracker.events)
        _sync_redacted_slots(tracker, before)
        if _user_parts(tracker) != typed:
            # Dialogue states remembered from the unredacted message (bot.runtime.rasa_speedups) go.
            tracker.__dict__.pop(DIALOGUE_STATES_ATTR, None)
        _ready_erasures(self)
        with self.session_scope() as session:
            known = getattr(tracker, _MARK, None)
            if known is not None and self._mark(session, tracker.sender_id) == known:
                new_events = list(itertools.islice(tracker.events, getattr(tracker, _STORED_LEN), None))
                count, top = known
            else:  # another process wrote, erased or purged since: Rasa's count, with the erasure guard
                new_events = list(self._additional_events(session, tracker))
                count, top = self._mark(session, tracker.sender_id)
            rows = [self._row(tracker.sender_id, event) for event in new_events]
            session.add_all(rows)
            session.flush()
            if rows:  # read before the commit, which expires the rows (one SELECT each)
                count, top = count + len(rows), max(top, *(row.id for row in rows))
            session.commit()
        for event in new_events:
            setattr(event, _STORED, True)
        if any(_kind(event) == "session" for event in new_events):
            # Read back, a new session starts at its SessionStarted; this object still holds what came
            # before it. Not kept: the next turn reads the session from the store.
            for name in (_STORED_LEN, _MARK):
                if hasattr(tracker, name):
                    delattr(tracker, name)
        else:
            setattr(tracker, _STORED_LEN, len(tracker.events))
            setattr(tracker, _MARK, (count, top))
            if tracker.events:  # Rasa saves a new, empty tracker before its first turn even starts
                self.cache.put(tracker)
        if self.event_broker is not None and new_events:
            await self._stream_new_events(self.event_broker, list(new_events), tracker.sender_id)

    def _row(self, sender_id: str, event: Event) -> Any:
        """One ``events`` row, as Rasa's own save writes it."""
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events beyond the stored count (Rasa's rule), except those older than an erasure of the conversation.

        Rasa counts what is stored and writes the rest: after an erasure the count is 0, so a turn
        that was in flight would write the whole conversation back, and publish it to the record.
        A normal turn's new events were never stored: then nothing is looked up (no cost per turn).
        When events already stored come back, the tombstone (``privacy_erasures``, written by
        bot.privacy.lifecycle) says when the conversation was erased: what survives is the tracker's
        events from then on, and the count applies to those (so a second save of the same turn
        writes only what is new again).
        """
        events = list(super()._additional_events(session, tracker))
        if not any(getattr(e, _STORED, False) for e in events):
            return iter(events)
        erased_at = _erased_at(self, session, tracker.sender_id)
        if erased_at is None:
            return iter(events)
        stored = len(tracker.events) - len(events)  # Rasa's count of what the store holds
        return iter([e for e in tracker.events if (e.timestamp or 0.0) >= erased_at][stored:])
