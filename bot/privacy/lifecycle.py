"""The personal-data lifecycle: find, export and erase what is held about a person; hold; the retention purge.

Law 91/2025/QH15 and Decree 356/2025: keep personal data no longer than needed, delete it on request,
answer access requests. ``docs/PRIVACY.md`` says what is stored where and for how long.

Two databases: the application database (``DATABASE_URL``: the record of conversations, the help
desk, the console, dossier subscriptions and lookups, channel activity, the ``privacy_*`` tables) and
Rasa's tracker store (``events``, and our erasure tombstones ``privacy_erasures``). No Rasa import:
tables are reached by name through ``Base.metadata`` (every models module is loaded by
:func:`bot.db.schema.import_models`, the one place that names them), so this foundation module does not
import the services above it. :data:`SENDER_TABLES`, :data:`CONVERSATION_TABLES`, :data:`SPECIAL_TABLES`
and :data:`NO_PERSONAL_DATA` classify every table; a test fails when a new table is in none of them.

The caller (the command line, the console) chooses the engines and the conversation lock::

    life = DataLifecycle(app_engine, tracker_engine, lock=conversation_lock)
    life.resolve(Subject("phone", "0912 345 678"))         -> Resolution
    life.export(subject, reference="PYC-12", requested_by="an") -> dict (JSON-serialisable)
    life.erase(subject, reference="PYC-12", requested_by="an")  -> ErasureReport
    life.purge(dry_run=True)                                  -> PurgeReport
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Date, DateTime, MetaData, Table, delete, func, insert, inspect, or_, select, tuple_, update
from sqlalchemy.engine import Connection, Engine

from bot.db import Base, TransactionalStore
from bot.db.clock import VN_TZ, naive_utc, utcnow
from bot.db.schema import import_models
from bot.db.types import UTCDateTime
from bot.privacy.models import ERASURES, TRACKER_EVENTS, ensure_erasures
from bot.privacy.sealing import SealError, unseal
from bot.privacy.subjects import KNOWN_CHANNELS, Subject, channel_of, sender_key, sender_ref
from bot.settings import settings

__all__ = [
    "CONVERSATION_TABLES",
    "NO_PERSONAL_DATA",
    "SENDER_TABLES",
    "SPECIAL_TABLES",
    "DataLifecycle",
    "ErasureReport",
    "Hold",
    "LockFactory",
    "PurgeReport",
    "Resolution",
    "RetentionRule",
    "SubjectHeld",
    "default_tracker_url",
    "register_retention_rule",
    "retention_rules",
]

logger = logging.getLogger(__name__)

#: ``lock(sender_id)``: a context manager held while a conversation's tracker is deleted.
LockFactory = Callable[[str], AbstractContextManager[object]]

# Application tables that hold a conversation's rows under its Rasa sender id: table -> column.
SENDER_TABLES: dict[str, str] = {
    "conv_conversations": "sender_id",
    "conv_turns": "sender_id",  # masked text, and the sealed original
    "helpdesk_handoffs": "sender_id",
    "helpdesk_callbacks": "sender_id",  # the phone number, sealed
    "console_notes": "sender_id",
    "dossier_subscriptions": "sender_id",
}
# Keyed by conv_conversations.id.
CONVERSATION_TABLES: tuple[str, ...] = ("conv_procedures", "conv_intents", "conv_terms")
# Handled one by one in _erase_app (why: in the comments there).
SPECIAL_TABLES: dict[str, str] = {
    "console_audit": "target = sender id: replaced by erased:<reference>; the audit row stays",
    "dossier_audit_log": "sender_ref = keyed hash of (channel, sender id): set to NULL; the row stays",
    "dossier_verification_attempts": "sender_ref = keyed hash of (channel, sender id): deleted",
    "channel_user_activity": "(channel, platform user id) from the sender id: deleted",
    "privacy_holds": "sender_id: deleted with the conversation (erasure overriding the hold)",
    "privacy_requests": "names subjects by masked value or keyed hash only: kept audit_days",
    "training_flags": "conv_turns.id of a turn staff flagged for the trainer: deleted with the turn",
    "privacy_record_erasures": "keyed hash of an erased sender id (no one named): the record's tombstone",
}
# Tables without anything that leads to a citizen (checked by a test against every table of Base).
NO_PERSONAL_DATA: dict[str, str] = {
    "catalog_agencies": "the procedure catalogue",
    "catalog_procedures": "the procedure catalogue",
    "catalog_cases": "the procedure catalogue",
    "catalog_documents": "the procedure catalogue",
    "catalog_methods": "the procedure catalogue",
    "catalog_steps": "the procedure catalogue",
    "catalog_fees": "the procedure catalogue",
    "catalog_legal_bases": "the procedure catalogue",
    "dossiers": "the one-door system's data, not ours to erase (phone kept as HMACs only)",
    "dossier_status_history": "the one-door system's data",
    "webhook_receipts": "signature digests, purged when their signature expires",
    "channel_oauth_tokens": "the OA's own tokens",
    "channel_seen_events": "platform event ids kept a few minutes against replays",
    "helpdesk_presence": "staff presence",
    "helpdesk_calendar_days": "the office calendar",
    "console_users": "staff accounts",
    # sha1 of sender|type|timestamp|text of applied events: kept, so that a redelivered event of an
    # erased conversation cannot bring its record back (not reversible without the erased events).
    "conv_events_seen": "idempotency keys of the record",
    # bot.analytics registers its own retention rules (register_retention_rule).
    "analytics_daily": "anonymous daily figures",
    "analytics_durations": "anonymous handoff durations",
    "analytics_unanswered": "masked, folded words, counted per day (no sender)",
    "analytics_days": "which days are rolled up",
    "training_reviews": "a reviewed training example: masked text checked for personal data, no sender",
    "training_models": "the model registry: model files, data hashes, staff names",
    "training_runs": "training runs: progress, the training log's tail (masked, training data only), staff names",
    "training_model_events": "the model registry's audit: staff names and reasons",
}

_LOCKLESS: LockFactory = lambda sender_id: nullcontext()  # noqa: E731 - the default: no lock
_SCAN = 1000  # rows per page when scanning for a phone number or a dossier code
_ID_WORD = re.compile(r"[A-Za-z_]+:\S+")  # a namespaced conversation id quoted in a sentence
_TOMBSTONE_DAYS = 1  # a turn in flight when its conversation was erased is over long before this


class SubjectHeld(ValueError):
    """An erasure asked for conversations under a hold (a complaint); ``holds`` names the references."""

    def __init__(self, holds: Sequence[Hold]) -> None:
        refs = ", ".join(sorted({h.reference for h in holds}))
        super().__init__(
            f"{len(holds)} of the conversations are on hold ({refs}): release the hold first, or erase with the "
            "hold overridden when the complaint allows it"
        )
        self.holds = tuple(holds)


@dataclass(frozen=True)
class Hold:
    """A conversation kept out of the purge and of erasure."""

    sender_id: str
    reference: str
    reason: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Resolution:
    """The conversations a subject leads to: ``sender_ids`` (sorted) and, for each, where it was found."""

    subject: Subject
    sender_ids: tuple[str, ...]
    found_in: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class ErasureReport:
    """What one erasure did: the request's audit row, the conversations, and rows per table.

    ``rows`` counts deleted rows, except ``console_audit`` and ``dossier_audit_log``: rows anonymised.
    Tracker events are counted under ``events``.
    """

    request_id: int
    reference: str
    subject: str  # Subject.label
    sender_ids: tuple[str, ...]
    rows: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``table`` whose ``column`` (a date or date-time) is older than ``days`` go in the purge.

    ``days`` is a number, or the name of a retention setting: ``"transcript"``, ``"rollup"`` or
    ``"audit"`` (``RETENTION_*_DAYS``, read when the purge runs).
    """

    table: str
    column: str
    days: int | str

    def __post_init__(self) -> None:
        if isinstance(self.days, str) and self.days not in ("transcript", "rollup", "audit"):
            raise ValueError(f"retention days: a number or transcript|rollup|audit, not {self.days!r}")
        if isinstance(self.days, int) and self.days < 1:
            raise ValueError("retention days must be at least 1")

    def resolved_days(self) -> int:
        if isinstance(self.days, int):
            return self.days
        privacy = settings().privacy
        return {"transcript": privacy.transcript_days, "rollup": privacy.rollup_days, "audit": privacy.audit_days}[
            self.days
        ]


_RULES: list[RetentionRule] = [
    RetentionRule("console_audit", "at", "audit"),
    RetentionRule("dossier_audit_log", "at", "audit"),
    RetentionRule("privacy_requests", "at", "audit"),
    # Lockout bookkeeping: only its last hour matters; failures are kept under the requester's keyed
    # address, which no sender id leads to, so they go by age.
    RetentionRule("dossier_verification_attempts", "at", "transcript"),
]


def register_retention_rule(rule: RetentionRule) -> None:
    """Add an age rule to every later purge (``bot.analytics``: its roll-ups); registering twice is harmless."""
    if rule not in _RULES:
        _RULES.append(rule)


def retention_rules() -> tuple[RetentionRule, ...]:
    """The registered age rules."""
    return tuple(_RULES)


@dataclass
class PurgeReport:
    """What a purge did (or, with ``dry_run``, would do).

    ``sender_ids``: the conversations erased (or to erase), pseudonymous ids; ``skipped_held``: expired
    but on hold; ``skipped_recent``: old in the record but with recent tracker events; ``rows``: rows
    per table (conversations' rows and age rules together); ``days``: Vietnam days of the erased
    conversations (what ``before_delete`` was given).
    """

    cutoff: datetime
    dry_run: bool
    sender_ids: list[str] = field(default_factory=list)
    skipped_held: int = 0
    skipped_recent: int = 0
    batches: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    days: set[date] = field(default_factory=set)

    @property
    def conversations(self) -> int:
        return len(self.sender_ids)


def default_tracker_url() -> str:
    """The tracker store's URL: PostgreSQL from ``TRACKER_DB_*`` when set (endpoints.prod.yml), else SQLite
    ``<var_dir>/tracker.db`` (endpoints.yml, as the runner points it)."""
    prod = settings().production
    if prod.tracker_db_host:
        from sqlalchemy.engine import URL

        return URL.create(
            "postgresql",
            username=prod.tracker_db_user or None,
            password=prod.tracker_db_password.reveal() if prod.tracker_db_password else None,
            host=prod.tracker_db_host,
            port=prod.tracker_db_port,
            database=prod.tracker_db_name or None,
        ).render_as_string(hide_password=False)
    return f"sqlite:///{settings().core.var_dir / 'tracker.db'}"


def _tables() -> Mapping[str, Table]:
    import_models()
    return Base.metadata.tables


def _plain(value: Any) -> Any:
    """A column value as JSON: date-times and dates in ISO 8601."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _row(row: Any) -> dict[str, Any]:
    return {key: _plain(value) for key, value in row._mapping.items()}


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _platform_user(sender_id: str) -> tuple[str, str] | None:
    """(channel, platform user id) of a namespaced conversation id, as channel_user_activity keys it."""
    channel, sep, user = sender_id.partition(":")
    return (channel, user) if sep and channel in KNOWN_CHANNELS and user else None


def _vn_days(first: datetime, last: datetime) -> set[date]:
    """Every Vietnam calendar day from ``first`` to ``last`` (naive or aware UTC)."""
    start = (first if first.tzinfo else first.replace(tzinfo=timezone.utc)).astimezone(VN_TZ).date()
    end = (last if last.tzinfo else last.replace(tzinfo=timezone.utc)).astimezone(VN_TZ).date()
    if end < start:
        start, end = end, start
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}


def _epoch(value: float | None) -> datetime:
    return datetime.fromtimestamp(value or 0.0, tz=timezone.utc)


class DataLifecycle(TransactionalStore):
    """Personal data of citizens across the application database and the tracker store.

    ``engine``: the application database (default: ``DATABASE_URL``), at the newest schema.
    ``tracker_engine``: Rasa's tracker store (default: :func:`default_tracker_url`). ``lock``: held
    around each conversation's deletion (default: none; ``bot.runtime.conversation_lock`` gives Rasa's).
    ``clock``: aware UTC now.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        tracker_engine: Engine | None = None,
        *,
        lock: LockFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(engine)
        if tracker_engine is None:
            from bot.db import engine_for

            tracker_engine = engine_for(default_tracker_url())
        self.tracker = tracker_engine
        self.lock: LockFactory = lock or _LOCKLESS
        self.clock = clock
        self.t = _tables()
        self._events_seen = False
        self._erasures_ready = False

    # ------------------------------------------------------------------ helpers

    def _has_events(self) -> bool:
        """Whether the tracker database has Rasa's ``events`` table (not before Rasa's first start)."""
        if not self._events_seen:  # once there, it stays: no more look-ups (a purge asks per batch)
            self._events_seen = inspect(self.tracker).has_table("events")
        return self._events_seen

    def _ensure_erasures(self) -> None:
        if not self._erasures_ready:
            ensure_erasures(self.tracker)
            self._erasures_ready = True

    def _record_request(
        self, conn: Connection, kind: str, subject_kind: str, subject: str, reference: str, by: str, result: Any
    ) -> int:
        table = self.t["privacy_requests"]
        values = {
            "reference": reference[:100],
            "kind": kind,
            "subject_kind": subject_kind,
            "subject": subject[:200],
            "requested_by": by[:100],
            "at": naive_utc(self.clock()),
            "result": result,
        }
        return int(conn.execute(insert(table).values(**values)).inserted_primary_key[0])

    @staticmethod
    def _check_request(reference: str, requested_by: str) -> None:
        if not reference or not reference.strip():
            raise ValueError("a reference is required: the number of the citizen's request or of the decision")
        if not requested_by or not requested_by.strip():
            raise ValueError("requested_by is required: who handles the request")

    # ------------------------------------------------------------------ holds

    def hold(self, sender_id: str, *, reference: str, reason: str, created_by: str) -> Hold:
        """Keep a conversation out of the purge and of erasure; ValueError when already held or incomplete."""
        sender = Subject("sender", sender_id).value
        self._check_request(reference, created_by)
        if not reason or not reason.strip():
            raise ValueError("a reason is required (e.g. the complaint it is kept for)")
        if not self.resolve(Subject("sender", sender)).sender_ids:
            # A mistyped id would protect nothing while the real conversation is purged.
            raise ValueError(f"no conversation {sender!r} in any store: check the channel prefix and the id")
        table = self.t["privacy_holds"]
        now = naive_utc(self.clock())
        with self.engine.begin() as conn:
            existing = conn.execute(select(table.c.reference).where(table.c.sender_id == sender)).scalar()
            if existing is not None:
                raise ValueError(f"this conversation is already on hold under {existing}")
            conn.execute(
                insert(table).values(
                    sender_id=sender,
                    reference=reference.strip()[:100],
                    reason=reason.strip(),
                    created_by=created_by.strip()[:100],
                    created_at=now,
                )
            )
            self._record_request(
                conn, "hold", "sender", Subject("sender", sender).label, reference.strip(), created_by.strip(), None
            )
        return Hold(sender, reference.strip(), reason.strip(), created_by.strip(), now)

    def release(self, sender_id: str, *, released_by: str) -> bool:
        """Lift a hold; False when there was none."""
        sender = Subject("sender", sender_id).value
        table = self.t["privacy_holds"]
        with self.engine.begin() as conn:
            reference = conn.execute(select(table.c.reference).where(table.c.sender_id == sender)).scalar()
            if reference is None:
                return False
            conn.execute(delete(table).where(table.c.sender_id == sender))
            self._record_request(
                conn, "release", "sender", Subject("sender", sender).label, reference, released_by or "?", None
            )
        return True

    def holds(self) -> list[Hold]:
        """Every hold, oldest first."""
        table = self.t["privacy_holds"]
        with self.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.created_at, table.c.sender_id)).all()
        return [Hold(r.sender_id, r.reference, r.reason, r.created_by, r.created_at) for r in rows]

    def _held(self, conn: Connection, senders: Iterable[str]) -> list[Hold]:
        table = self.t["privacy_holds"]
        out: list[Hold] = []
        for chunk in _chunks(sorted(set(senders)), 500):
            rows = conn.execute(select(table).where(table.c.sender_id.in_(chunk))).all()
            out += [Hold(r.sender_id, r.reference, r.reason, r.created_by, r.created_at) for r in rows]
        return out

    # ------------------------------------------------------------------ resolve

    def resolve(self, subject: Subject) -> Resolution:
        """The conversations (sender ids) that ``subject`` leads to, and where each was found.

        sender: itself, when any store holds it (otherwise none). phone: call-backs with the number,
        turns and tracker messages whose sealed original (or stored text) holds it, staff notes that
        mention it. dossier: subscriptions to the code, turns and tracker events that mention it.
        """
        found: dict[str, set[str]] = {}

        def add(sender: str, where: str) -> None:
            found.setdefault(sender, set()).add(where)

        if subject.kind == "sender":
            for where in self._stores_holding(subject.value):
                add(subject.value, where)
        elif subject.kind == "phone":
            self._resolve_phone(subject, add)
        else:
            self._resolve_dossier(subject, add)
        return Resolution(subject, tuple(sorted(found)), {s: tuple(sorted(w)) for s, w in sorted(found.items())})

    def _stores_holding(self, sender: str) -> list[str]:
        where = []
        with self.engine.connect() as conn:
            for name, column in SENDER_TABLES.items():
                table = self.t[name]
                if conn.execute(select(table.c[column]).where(table.c[column] == sender).limit(1)).first():
                    where.append(name)
            audit = self.t["console_audit"]
            if conn.execute(select(audit.c.id).where(audit.c.target == sender).limit(1)).first():
                where.append("console_audit")
            user = _platform_user(sender)
            if user:
                activity = self.t["channel_user_activity"]
                hit = conn.execute(
                    select(activity.c.user_id).where(activity.c.channel == user[0], activity.c.user_id == user[1])
                ).first()
                if hit:
                    where.append("channel_user_activity")
            refs = self._refs(conn, [sender])
            attempts = self.t["dossier_verification_attempts"]
            if conn.execute(select(attempts.c.id).where(attempts.c.sender_ref.in_(refs)).limit(1)).first():
                where.append("dossier_verification_attempts")
        if self._has_events():
            with self.tracker.connect() as conn:
                e = TRACKER_EVENTS
                if conn.execute(select(e.c.id).where(e.c.sender_id == sender).limit(1)).first():
                    where.append("events")
        return where

    def _scan(self, conn: Connection, table: Table, columns: Sequence[Any], where: Any) -> Iterator[Any]:
        """Rows of ``table`` matching ``where``, by pages of ids (a long scan never holds one huge result)."""
        last = None
        while True:
            query = select(table.c.id, *columns).where(where)
            if last is not None:
                query = query.where(table.c.id > last)
            rows = conn.execute(query.order_by(table.c.id).limit(_SCAN)).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].id

    def _resolve_phone(self, subject: Subject, add: Callable[[str, str], None]) -> None:
        tail = subject.value[-4:]  # masked text keeps no more than the last 2 digits: a clear number has these 4
        # The person's own number: their call-back requests and what they typed (sealed originals). Staff
        # notes are not searched: a note may name someone else's number (and is masked when written).
        callbacks, turns = self.t["helpdesk_callbacks"], self.t["conv_turns"]
        with self.engine.connect() as conn:
            for row in conn.execute(select(callbacks.c.sender_id, callbacks.c.phone)):
                if self._opened_has(subject, row.phone):  # sealed (bot.helpdesk.callbacks)
                    add(row.sender_id, "helpdesk_callbacks")
            where = or_(turns.c.sealed.isnot(None), turns.c.text.contains(tail), turns.c.reply.contains(tail))
            for row in self._scan(conn, turns, (turns.c.sender_id, turns.c.text, turns.c.reply, turns.c.sealed), where):
                if self._opened_has(subject, row.sealed) or subject.found_in(row.text) or subject.found_in(row.reply):
                    add(row.sender_id, "conv_turns")
        if self._has_events():
            e = TRACKER_EVENTS
            with self.tracker.connect() as conn:
                where = or_(e.c.data.contains('"sealed"'), e.c.data.contains(tail))
                for row in self._scan(conn, e, (e.c.sender_id, e.c.data), where):
                    if subject.found_in(row.data) or self._opened_has(subject, _sealed_of(row.data)):
                        add(row.sender_id, "events")

    @staticmethod
    def _opened_has(subject: Subject, sealed: str | None) -> bool:
        if not sealed:
            return False
        try:
            return subject.found_in(unseal(sealed))
        except SealError:
            return False  # sealed under another SEAL_KEY: nothing to read, counted by nobody

    def _resolve_dossier(self, subject: Subject, add: Callable[[str, str], None]) -> None:
        seq = subject.value[-4:]
        subs, turns = self.t["dossier_subscriptions"], self.t["conv_turns"]
        with self.engine.connect() as conn:
            for sender in conn.execute(select(subs.c.sender_id).where(subs.c.dossier_code == subject.value)).scalars():
                add(sender, "dossier_subscriptions")
            where = or_(turns.c.text.contains(seq), turns.c.reply.contains(seq))
            for row in self._scan(conn, turns, (turns.c.sender_id, turns.c.text, turns.c.reply), where):
                if subject.found_in(row.text) or subject.found_in(row.reply):
                    add(row.sender_id, "conv_turns")
        if self._has_events():
            e = TRACKER_EVENTS
            with self.tracker.connect() as conn:
                for row in self._scan(conn, e, (e.c.sender_id, e.c.data), e.c.data.contains(seq)):
                    if subject.found_in(row.data):
                        add(row.sender_id, "events")

    # ------------------------------------------------------------------ export

    def export(self, subject: Subject, *, reference: str, requested_by: str) -> dict[str, Any]:
        """Everything held about the subject's conversations, store by store, as JSON-ready data.

        Shape: ``{"subject", "reference", "generated_at", "sender_ids", "found_in", "stores": {"events":
        {sender: [event…]}, "conv_turns": [row…], …}}``. Turns carry ``original``: the sealed original,
        opened (it is the person's own message). Console notes are included: staff wrote them about the
        person. The request is recorded in ``privacy_requests``. ValueError without a reference.
        """
        self._check_request(reference, requested_by)
        resolution = self.resolve(subject)
        senders = list(resolution.sender_ids)
        stores: dict[str, Any] = {}
        with self.engine.connect() as conn:
            conv = self.t["conv_conversations"]
            ids = (
                list(conn.execute(select(conv.c.id).where(conv.c.sender_id.in_(senders))).scalars()) if senders else []
            )
            for name, column in SENDER_TABLES.items():
                table = self.t[name]
                rows = (
                    [
                        _row(r)
                        for r in conn.execute(
                            select(table).where(table.c[column].in_(senders)).order_by(*table.primary_key.columns)
                        )
                    ]
                    if senders
                    else []
                )
                if name == "conv_turns":
                    for r in rows:
                        r["original"] = _open(r.pop("sealed", None))
                if name == "helpdesk_callbacks":
                    for r in rows:
                        r["phone"] = _open(r["phone"])  # the person's own number, kept sealed
                stores[name] = rows
            for name in CONVERSATION_TABLES:
                table = self.t[name]
                stores[name] = [_row(r) for r in conn.execute(select(table).where(table.c.conversation_id.in_(ids)))]
            audit = self.t["console_audit"]
            stores["console_audit"] = (
                [_row(r) for r in conn.execute(select(audit).where(audit.c.target.in_(senders)).order_by(audit.c.id))]
                if senders
                else []
            )
            refs = self._refs(conn, senders)
            for name in ("dossier_verification_attempts", "dossier_audit_log"):
                table = self.t[name]
                stores[name] = (
                    [
                        _row(r)
                        for r in conn.execute(select(table).where(table.c.sender_ref.in_(refs)).order_by(table.c.id))
                    ]
                    if refs
                    else []
                )
            activity = self.t["channel_user_activity"]
            pairs = [p for p in (_platform_user(s) for s in senders) if p]
            stores["channel_user_activity"] = (
                [
                    _row(r)
                    for r in conn.execute(
                        select(activity).where(tuple_(activity.c.channel, activity.c.user_id).in_(pairs))
                    )
                ]
                if pairs
                else []
            )
            holds = self.t["privacy_holds"]
            stores["privacy_holds"] = [
                _row(r) for r in conn.execute(select(holds).where(holds.c.sender_id.in_(senders)))
            ]
        events: dict[str, list[Any]] = {}
        if senders and self._has_events():
            e = TRACKER_EVENTS
            with self.tracker.connect() as conn:
                for sender in senders:
                    data = conn.execute(select(e.c.data).where(e.c.sender_id == sender).order_by(e.c.id)).scalars()
                    events[sender] = [_opened_event(_json(d)) for d in data]
        stores["events"] = events
        with self.engine.begin() as conn:
            counts = {name: len(rows) for name, rows in stores.items()}
            self._record_request(
                conn,
                "export",
                subject.kind,
                subject.label,
                reference.strip(),
                requested_by.strip(),
                {"senders": len(senders), "rows": counts},
            )
        return {
            "subject": {"kind": subject.kind, "value": subject.value},
            "reference": reference.strip(),
            "generated_at": self.clock().isoformat(),
            "sender_ids": senders,
            "found_in": {s: list(w) for s, w in resolution.found_in.items()},
            "stores": stores,
        }

    # ------------------------------------------------------------------ erase

    def erase(
        self, subject: Subject, *, reference: str, requested_by: str, override_hold: bool = False
    ) -> ErasureReport:
        """Delete every trace of the subject's conversations from both databases; record the request.

        Each conversation's tracker events are deleted while ``lock(sender_id)`` is held, and a tombstone
        keeps the tracker store from writing them back. Raises :class:`SubjectHeld` when one is on hold
        (unless ``override_hold``), ValueError without a reference. Finding nothing is not an error: the
        request is recorded with zero rows.
        """
        self._check_request(reference, requested_by)
        senders = list(self.resolve(subject).sender_ids)
        if subject.kind == "sender" and subject.value not in senders:
            senders.append(subject.value)  # nothing found; a tombstone still guards a turn in flight
        with self.engine.connect() as conn:
            held = self._held(conn, senders)
        if held and not override_hold:
            raise SubjectHeld(held)
        rows: Counter[str] = Counter()
        for chunk in _chunks(senders, 200):
            rows.update(self._erase_senders(chunk, f"erased:{reference.strip()}", scrub_reasons=True))
        result = {"senders": len(senders), "rows": dict(sorted(rows.items()))}
        with self.engine.begin() as conn:
            request_id = self._record_request(
                conn, "erase", subject.kind, subject.label, reference.strip(), requested_by.strip(), result
            )
        logger.info("erasure %s: %d conversations, %d rows", request_id, len(senders), sum(rows.values()))
        return ErasureReport(
            request_id, reference.strip(), subject.label, tuple(sorted(senders)), dict(sorted(rows.items()))
        )

    def _erase_senders(
        self, senders: Sequence[str], marker: str, *, scrub_reasons: bool = False, audit: tuple[str, str] | None = None
    ) -> Counter[str]:
        """Erase ``senders`` from the tracker (one transaction) then the application database (one
        transaction), holding every conversation's lock. ``audit``: (reference, by) of a purge batch,
        recorded in the same transaction as the deletions."""
        counts: Counter[str] = Counter()
        with ExitStack() as stack:
            for sender in senders:
                stack.enter_context(self.lock(sender))
            counts.update(self._erase_tracker(senders))
            counts.update(self._erase_app(senders, marker, scrub_reasons=scrub_reasons, audit=audit, tracker=counts))
        return counts

    def _erase_tracker(self, senders: Sequence[str]) -> Counter[str]:
        counts: Counter[str] = Counter()
        erased_at = self.clock().timestamp()
        keys = [sender_key(s) for s in senders]
        self._ensure_erasures()
        with self.tracker.begin() as conn:
            if self._has_events():
                counts["events"] = conn.execute(
                    delete(TRACKER_EVENTS).where(TRACKER_EVENTS.c.sender_id.in_(senders))
                ).rowcount
            # Tombstones: the tracker store writes none of these conversations' older events again.
            conn.execute(delete(ERASURES).where(ERASURES.c.sender_key.in_(keys)))
            conn.execute(insert(ERASURES), [{"sender_key": k, "erased_at": erased_at} for k in keys])
        return counts

    def _refs(self, conn: Connection, senders: Sequence[str]) -> list[str]:
        """The dossier store's sender refs of these conversations, under every channel they were seen on."""
        if not senders:
            return []
        channels: dict[str, set[str]] = {s: {channel_of(s), "rest"} for s in senders}
        # The input channel the dossier service hashed is the id's prefix (or "rest" when Rasa had none);
        # the record's channel covers ids written before the channels namespaced them.
        for name in ("conv_conversations",):
            table = self.t[name]
            for chunk in _chunks(list(senders), 500):
                for sender, channel in conn.execute(
                    select(table.c.sender_id, table.c.channel).distinct().where(table.c.sender_id.in_(chunk))
                ):
                    channels[sender].add(channel)
        return sorted({sender_ref(ch, s) for s, chs in channels.items() for ch in chs})

    def _erase_app(
        self,
        senders: Sequence[str],
        marker: str,
        *,
        scrub_reasons: bool,
        audit: tuple[str, str] | None,
        tracker: Mapping[str, int],
    ) -> Counter[str]:
        t = self.t
        counts: Counter[str] = Counter()
        with self.engine.begin() as conn:
            conv = t["conv_conversations"]
            ids = list(conn.execute(select(conv.c.id).where(conv.c.sender_id.in_(senders))).scalars())
            refs = self._refs(conn, senders)
            if ids:
                for name in CONVERSATION_TABLES:
                    table = t[name]
                    counts[name] += conn.execute(delete(table).where(table.c.conversation_id.in_(ids))).rowcount
            turns, flags = t["conv_turns"], t["training_flags"]
            counts["training_flags"] += conn.execute(
                delete(flags).where(flags.c.turn_id.in_(select(turns.c.id).where(turns.c.sender_id.in_(senders))))
            ).rowcount
            # The record's tombstones: events of these conversations that reach the record later (a lagging
            # consumer, a replica publishing what it kept during a broker outage) are dropped there.
            tombstones = t["privacy_record_erasures"]
            keys = [sender_key(s) for s in senders]
            conn.execute(delete(tombstones).where(tombstones.c.sender_key.in_(keys)))
            erased_at = self.clock().timestamp()
            conn.execute(insert(tombstones), [{"sender_key": k, "erased_at": erased_at} for k in keys])
            for name, column in SENDER_TABLES.items():
                table = t[name]
                counts[name] += conn.execute(delete(table).where(table.c[column].in_(senders))).rowcount
            if refs:
                # Lookups and lockouts of the conversation: its state, not an audit trail.
                attempts = t["dossier_verification_attempts"]
                counts["dossier_verification_attempts"] += conn.execute(
                    delete(attempts).where(attempts.c.sender_ref.in_(refs))
                ).rowcount
                # The dossier audit keeps the row (a code was looked up at that time, with that outcome),
                # not who asked: no sender ref means nothing links it to a person any more.
                log = t["dossier_audit_log"]
                counts["dossier_audit_log"] += conn.execute(
                    update(log).where(log.c.sender_ref.in_(refs)).values(sender_ref=None)
                ).rowcount
            # The console's audit stays (who looked at what, when): the conversation it names does not.
            console = t["console_audit"]
            counts["console_audit"] += conn.execute(
                update(console).where(console.c.target.in_(senders)).values(target=marker[:200])
            ).rowcount
            # A reason typed by staff may quote the conversation id.
            counts["console_audit"] += self._scrub_reasons(conn, senders, marker, every_form=scrub_reasons)
            pairs = [p for p in (_platform_user(s) for s in senders) if p]
            if pairs:
                activity = t["channel_user_activity"]
                counts["channel_user_activity"] += conn.execute(
                    delete(activity).where(tuple_(activity.c.channel, activity.c.user_id).in_(pairs))
                ).rowcount
            holds = t["privacy_holds"]
            counts["privacy_holds"] += conn.execute(delete(holds).where(holds.c.sender_id.in_(senders))).rowcount
            if audit is not None:
                reference, by = audit
                rows = {k: v for k, v in sorted((counts + Counter(tracker)).items()) if v}
                self._record_request(
                    conn,
                    "purge",
                    "retention",
                    f"{len(senders)} conversations",
                    reference,
                    by,
                    {"senders": len(senders), "rows": rows},
                )
        return Counter({k: v for k, v in counts.items() if v})

    def _scrub_reasons(self, conn: Connection, senders: Sequence[str], marker: str, *, every_form: bool) -> int:
        """Replace the conversation ids quoted in console_audit reasons by ``marker``; the rows changed.

        ``every_form`` (a request: a few ids): a LIKE per id, so a bare id is found too. Otherwise (a purge
        batch of hundreds): one pass over the reasons holding a colon, matching ``channel:id`` words
        against the batch, instead of a LIKE per id over the whole audit.
        """
        console = self.t["console_audit"]
        changed: dict[int, str] = {}
        if every_form:
            for sender in senders:
                query = select(console.c.id, console.c.reason).where(console.c.reason.contains(sender))
                for row in conn.execute(query):
                    changed[row.id] = changed.get(row.id, row.reason).replace(sender, marker)
        else:
            wanted = set(senders)
            for row in conn.execute(select(console.c.id, console.c.reason).where(console.c.reason.contains(":"))):
                words = {
                    w for tok in _ID_WORD.findall(row.reason) for w in (tok, tok.rstrip(".,;:!?)'\"")) if w in wanted
                }
                if words:
                    reason = row.reason
                    for word in sorted(words, key=len, reverse=True):
                        reason = reason.replace(word, marker)
                    changed[row.id] = reason
        for row_id, reason in changed.items():
            conn.execute(update(console).where(console.c.id == row_id).values(reason=reason))
        return len(changed)

    # ------------------------------------------------------------------ purge

    def purge(
        self,
        now: datetime | None = None,
        *,
        dry_run: bool = False,
        batch_size: int = 1000,
        progress: Callable[[int, int], object] | None = None,
        before_delete: Callable[[set[date]], object] | None = None,
        rules: Sequence[RetentionRule] | None = None,
        requested_by: str = "retention",
    ) -> PurgeReport:
        """Erase conversations idle for ``RETENTION_TRANSCRIPT_DAYS``, then apply the age rules.

        A conversation is idle when its record's ``last_at`` and its latest tracker event are both
        older than the cutoff (a conversation only in the tracker store counts by its latest event);
        held ones are skipped. Conversations go ``batch_size`` at a time, each batch its own pair of
        transactions recorded in ``privacy_requests``: an interrupted purge resumes by running again.
        ``before_delete(days)`` gets each batch's Vietnam days before anything of it is deleted (the
        analytics roll-ups must exist first); if it raises, the purge stops there. ``progress(done,
        total)`` after each batch. Age rules: :func:`retention_rules` plus ``rules``; tombstones older
        than a day go too. ``dry_run`` deletes nothing and reports what would go.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        now = now or self.clock()
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        cutoff = now - timedelta(days=settings().privacy.transcript_days)
        report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
        candidates = self._expired(cutoff, report)
        total = len(candidates)
        totals: Counter[str] = Counter()
        for start in range(0, total, batch_size):
            batch = candidates[start : start + batch_size]
            senders = [s for s, _ in batch]
            recent = self._recent_in_tracker(senders, cutoff)
            if recent:
                report.skipped_recent += len(recent)
                batch = [(s, d) for s, d in batch if s not in recent]
                senders = [s for s, _ in batch]
            days = set().union(*(d for _, d in batch)) if batch else set()
            if senders and not dry_run:
                if before_delete is not None:
                    before_delete(days)
                totals.update(self._erase_senders(senders, "erased:retention", audit=("retention", requested_by)))
                report.batches += 1
            report.sender_ids += senders
            report.days |= days
            if progress is not None:
                progress(len(batch) + len(recent), total)
        if dry_run:
            totals.update(self._count_conversation_rows(report.sender_ids))
        totals.update(self._apply_rules(now, dry_run, list(retention_rules()) + list(rules or ())))
        report.rows = dict(sorted((k, v) for k, v in totals.items() if v))
        return report

    def _expired(self, cutoff: datetime, report: PurgeReport) -> list[tuple[str, set[date]]]:
        """(sender id, its Vietnam days) of every idle conversation not on hold: the record's, then the
        tracker's conversations that the record does not know."""
        conv, holds = self.t["conv_conversations"], self.t["privacy_holds"]
        with self.engine.connect() as conn:
            held = set(conn.execute(select(holds.c.sender_id)).scalars())
            rows = conn.execute(
                select(conv.c.sender_id, conv.c.started_at, conv.c.last_at)
                .where(conv.c.last_at < naive_utc(cutoff))
                .order_by(conv.c.last_at, conv.c.id)
            ).all()
        out: list[tuple[str, set[date]]] = []
        for sender, started, last in rows:
            if sender in held:
                report.skipped_held += 1
            else:
                out.append((sender, _vn_days(started, last)))
        if not self._has_events():
            return out
        e = TRACKER_EVENTS
        with self.tracker.connect() as tconn:
            old = tconn.execute(
                select(e.c.sender_id, func.min(e.c.timestamp), func.max(e.c.timestamp))
                .group_by(e.c.sender_id)
                .having(func.max(e.c.timestamp) < cutoff.timestamp())
            ).all()
        by_sender = {r[0]: r for r in old}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(by_sender), 500):
                known = set(conn.execute(select(conv.c.sender_id).where(conv.c.sender_id.in_(chunk))).scalars())
                for sender in chunk:
                    if sender in known:
                        continue  # the record decides (recorded and old: already above; recent: kept)
                    if sender in held:
                        report.skipped_held += 1
                        continue
                    _, first, last = by_sender[sender]
                    out.append((sender, _vn_days(_epoch(first), _epoch(last))))
        return out

    def _recent_in_tracker(self, senders: Sequence[str], cutoff: datetime) -> set[str]:
        """Of ``senders``, those with a tracker event at or after the cutoff (the record missed them)."""
        if not senders or not self._has_events():
            return set()
        e = TRACKER_EVENTS
        with self.tracker.connect() as conn:
            return set(
                conn.execute(
                    select(e.c.sender_id)
                    .distinct()
                    .where(e.c.sender_id.in_(senders), e.c.timestamp >= cutoff.timestamp())
                ).scalars()
            )

    def _count_conversation_rows(self, senders: Sequence[str]) -> Counter[str]:
        """Rows an erasure of ``senders`` would delete (dry run): tracker events and the record's tables."""
        counts: Counter[str] = Counter()
        for chunk in _chunks(list(senders), 500):
            with self.engine.connect() as conn:
                conv = self.t["conv_conversations"]
                ids = list(conn.execute(select(conv.c.id).where(conv.c.sender_id.in_(chunk))).scalars())
                for name, column in SENDER_TABLES.items():
                    table = self.t[name]
                    counts[name] += (
                        conn.scalar(select(func.count()).select_from(table).where(table.c[column].in_(chunk))) or 0
                    )
                for name in CONVERSATION_TABLES:
                    table = self.t[name]
                    counts[name] += (
                        conn.scalar(select(func.count()).select_from(table).where(table.c.conversation_id.in_(ids)))
                        or 0
                    )
                # What the erasure changes besides: the same rows as _erase_app counts.
                refs = self._refs(conn, chunk)
                if refs:  # (its verification attempts are old too: the age rule counts them)
                    log = self.t["dossier_audit_log"]
                    counts["dossier_audit_log"] += (
                        conn.scalar(select(func.count()).select_from(log).where(log.c.sender_ref.in_(refs))) or 0
                    )
                console = self.t["console_audit"]
                counts["console_audit"] += (
                    conn.scalar(select(func.count()).select_from(console).where(console.c.target.in_(chunk))) or 0
                )
                pairs = [p for p in (_platform_user(x) for x in chunk) if p]
                if pairs:
                    activity = self.t["channel_user_activity"]
                    counts["channel_user_activity"] += (
                        conn.scalar(
                            select(func.count()).select_from(activity)
                            .where(tuple_(activity.c.channel, activity.c.user_id).in_(pairs))
                        )
                        or 0
                    )  # fmt: skip
            if self._has_events():
                with self.tracker.connect() as tconn:
                    counts["events"] += (
                        tconn.scalar(
                            select(func.count())
                            .select_from(TRACKER_EVENTS)
                            .where(TRACKER_EVENTS.c.sender_id.in_(chunk))
                        )
                        or 0
                    )
        return counts

    def _apply_rules(self, now: datetime, dry_run: bool, rules: Sequence[RetentionRule]) -> Counter[str]:
        """Delete (or count) rows older than each rule's days; a rule whose table is not there is skipped."""
        counts: Counter[str] = Counter()
        existing = set(inspect(self.engine).get_table_names())
        for rule in rules:
            if rule.table not in existing:
                logger.info("retention rule for %s skipped: no such table", rule.table)
                continue
            table = Base.metadata.tables.get(rule.table)
            if table is None:  # a table without a model here: reflect it
                table = Table(rule.table, MetaData(), autoload_with=self.engine)
            column = table.c[rule.column]
            limit = now - timedelta(days=rule.resolved_days())
            bound: Any
            if isinstance(column.type, UTCDateTime):
                bound = limit
            elif isinstance(column.type, DateTime):
                bound = naive_utc(limit)
            elif isinstance(column.type, Date):
                bound = limit.astimezone(VN_TZ).date()  # roll-up days are Vietnam days
            else:
                raise ValueError(f"retention rule {rule.table}.{rule.column}: not a date or date-time column")
            with self.engine.begin() as conn:
                if dry_run:
                    counts[rule.table] += (
                        conn.scalar(select(func.count()).select_from(table).where(column < bound)) or 0
                    )
                else:
                    counts[rule.table] += conn.execute(delete(table).where(column < bound)).rowcount
        # Tombstones outlive any turn in flight by far after a day.
        if not dry_run:
            self._ensure_erasures()
            with self.tracker.begin() as tconn:
                old = (now - timedelta(days=_TOMBSTONE_DAYS)).timestamp()
                counts["privacy_erasures"] += tconn.execute(delete(ERASURES).where(ERASURES.c.erased_at < old)).rowcount
        return counts


def _json(data: str | None) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return data  # not JSON: as stored


def _opened_event(event: Any) -> Any:
    """A stored tracker event for an export: a sealed original (``metadata.sealed``) opened as ``original``."""
    if isinstance(event, dict) and isinstance(event.get("metadata"), dict) and "sealed" in event["metadata"]:
        metadata = dict(event["metadata"])
        metadata["original"] = _open(metadata.pop("sealed"))
        return {**event, "metadata": metadata}
    return event


def _sealed_of(data: str | None) -> str | None:
    """The sealed original in a stored tracker event (``metadata.sealed`` of a user message), if any."""
    event = _json(data)
    if isinstance(event, dict):
        metadata = event.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("sealed"), str):
            return metadata["sealed"]
    return None


def _open(sealed: str | None) -> str | None:
    if not sealed:
        return None
    try:
        return unseal(sealed)
    except SealError:
        return "(sealed with another SEAL_KEY: cannot be opened)"
