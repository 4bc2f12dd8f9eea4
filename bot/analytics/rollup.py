"""The daily roll-up: one Vietnam calendar day of the record, the help desk and the dossier log, summed.

:meth:`Rollup.day` recomputes every row of one day (delete, then insert, in one transaction), so
running it twice changes nothing. :meth:`Rollup.pending` rolls up every day that is not yet
*closed*: a day closes when it is rolled up :data:`CLOSE_AFTER` after it ended, and a closed day is
never recomputed (the retention purge deletes its transcripts later; its figures must stay).
``make run``'s housekeeping process calls :meth:`Rollup.pending` every ``ANALYTICS_ROLLUP_MINUTES``;
the purge calls :meth:`Rollup.ensure_closed` before it deletes a conversation.

Definitions (``docs/ANALYTICS.md`` is their one description; :data:`METRICS` names them):

- a *conversation* is a run of one sender's citizen messages with no gap over :data:`SESSION_GAP`
  (Rasa's ``session_expiration_time``), counted on the day it started;
- it is *contained* when no handoff was opened during it, its last citizen message got an answer
  citing a procedure (the turn holds a ``procedure_code`` and did not fall back), and no rating of
  1-2 was given in it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

from bot.analytics.models import DailyRow, DayRow, DurationRow, UnansweredRow
from bot.conversations.models import ConversationRow, TurnRow
from bot.db import engine_for
from bot.db.clock import VN_TZ, naive_utc, today_vn
from bot.dossiers.models import AuditRow as DossierAuditRow
from bot.helpdesk.hours import OfficeCalendar
from bot.helpdesk.models import HandoffRow
from bot.privacy import mask_text
from bot.text import fold

__all__ = [
    "CLOSE_AFTER",
    "LOOKUP_GROUPS",
    "METRICS",
    "NOT_QUESTIONS",
    "SESSION_GAP",
    "Rollup",
    "day_window",
    "unanswered_key",
]

_LOG = logging.getLogger(__name__)

#: A gap longer than this between two citizen messages starts a new conversation (domain.yml's 60 min).
SESSION_GAP = timedelta(minutes=60)
#: A day is final once rolled up this long after its end (late events from the broker have arrived).
CLOSE_AFTER = timedelta(hours=2)
#: Outcomes of the dossier log's ``lookup`` rows, grouped as the dashboard shows them.
LOOKUP_GROUPS = {
    "verified": "verified",
    "wrong_phone": "refused",
    "not_found": "refused",
    "invalid_code": "refused",
    "invalid_digits": "refused",
    "locked_out": "locked",
    "throttled": "locked",
    "unavailable": "unavailable",
}
#: Every metric of ``analytics_daily`` and what its ``key`` holds.
METRICS = {
    "conversations": "",
    "contained": "",
    "answered": "",
    "citizens": "",
    "citizens_week": "",  # on the week's Monday: distinct senders that week
    "turns": "",
    "fallback_turns": "",
    "handoff_conversations": "",
    "handoffs": "reason",
    "handoff_ends": "end reason (closed handoffs, by the day they were opened)",
    "ratings": "target:score, target bot or staff",
    "lookups": "outcome group (LOOKUP_GROUPS)",
    "procedure_answers": "procedure code|intent",
}
# How far past midnight a conversation that started on a day is followed (then it is cut there).
_MAX_OVERNIGHT = timedelta(days=2)
#: Citizen messages that are not questions: they leave "did the last question get an answer" as it was.
NOT_QUESTIONS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "rate", "bot_challenge", "cancel"})
_RATE_ACTION = "action_rate"
_STAFF = "staff"
_MAX_UNANSWERED = 200


def day_window(day: date) -> tuple[datetime, datetime]:
    """The naive-UTC ``[start, end)`` of a Vietnam calendar day."""
    start = datetime.combine(day, time.min, VN_TZ)
    return naive_utc(start), naive_utc(start + timedelta(days=1))


def unanswered_key(text: str) -> str:
    """How an unanswered message is kept: masked, folded (no diacritics, lower case, single spaces), 200 chars."""
    return fold(mask_text(text or ""))[:_MAX_UNANSWERED]


def _vn_day(at: datetime) -> date:
    return today_vn(at.replace(tzinfo=None))


@dataclass
class _Conversation:
    sender_id: str
    channel: str
    started: datetime
    last: datetime
    model_id: str = ""
    turns: int = 0
    fallbacks: int = 0
    last_cited: bool = False
    low_rating: bool = False
    handed_off: bool = False


@dataclass
class _Figures:
    """The rows of one day, summed in memory before they are written."""

    daily: Counter = field(default_factory=Counter)  # (channel, model, metric, key) -> value
    durations: list[dict[str, Any]] = field(default_factory=list)
    unanswered: Counter = field(default_factory=Counter)  # (channel, text) -> count

    def add(self, channel: str, model: str, metric: str, key: str = "", value: float = 1) -> None:
        self.daily[(channel, model or "", metric, key)] += value


class Rollup:
    """Computes and writes the roll-ups over ``engine`` (the configured database by default).

    ``calendar`` gives office hours for the "office hours only" durations (None: they equal the
    plain ones); ``clock`` returns naive-UTC now.
    """

    def __init__(
        self,
        engine: Engine | None = None,
        calendar: OfficeCalendar | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine or engine_for()
        self.calendar = calendar
        self.clock = clock or (lambda: naive_utc())

    # -- which days ---------------------------------------------------------------------------

    def is_closed(self, conn: Connection, day: date) -> bool:
        return bool(conn.scalar(select(DayRow.closed).where(DayRow.day == day)))

    def open_days(self, until: date | None = None) -> list[date]:
        """Days with data that are not closed, oldest first, up to ``until`` (default: today in Vietnam)."""
        until = until or today_vn(self.clock())
        with self.engine.connect() as conn:
            first = conn.scalar(select(func.min(TurnRow.at)))
            first_handoff = conn.scalar(select(func.min(HandoffRow.opened_at)))
            starts = [_vn_day(x) for x in (first, first_handoff) if x is not None]
            if not starts:
                return []
            closed = set(conn.scalars(select(DayRow.day).where(DayRow.closed.is_(True), DayRow.day >= min(starts))))
        out, day = [], min(starts)
        while day <= until:
            if day not in closed:
                out.append(day)
            day += timedelta(days=1)
        return out

    def pending(self, progress: Callable[[date], None] | None = None) -> list[date]:
        """Roll up every open day (see the module docstring); return the days rolled up."""
        days = self.open_days()
        for day in days:
            self.day(day)
            if progress:
                progress(day)
        return days

    def ensure_closed(self, days: Iterable[date]) -> None:
        """Roll up those of ``days`` that are not closed (the purge calls this before deleting their transcripts)."""
        with self.engine.connect() as conn:
            todo = sorted(d for d in set(days) if not self.is_closed(conn, d))
        for day in todo:
            self.day(day)

    # -- one day ------------------------------------------------------------------------------

    def day(self, day: date, *, force: bool = False) -> bool:
        """Recompute ``day``'s rows; False (nothing written) when the day is closed and not ``force``."""
        now = self.clock()
        with self.engine.begin() as conn:
            if self.is_closed(conn, day) and not force:
                return False
            figures = self._compute(conn, day)
            self._write(conn, day, figures)
            if _week_open(conn, day) or force:
                self._write_week(conn, day)
            closed = now >= day_window(day)[1] + CLOSE_AFTER
            conn.execute(delete(DayRow).where(DayRow.day == day))
            conn.execute(insert(DayRow), [{"day": day, "rolled_at": now, "closed": closed}])
        return True

    def _compute(self, conn: Connection, day: date) -> _Figures:
        lo, hi = day_window(day)
        figures = _Figures()
        conversations = self._conversations(conn, day, figures)
        self._handoffs(conn, lo, hi, figures, conversations)
        for conv in conversations:
            contained = conv.last_cited and not conv.handed_off and not conv.low_rating
            figures.add(conv.channel, conv.model_id, "conversations")
            figures.add(conv.channel, conv.model_id, "answered", value=int(conv.last_cited))
            figures.add(conv.channel, conv.model_id, "contained", value=int(contained))
            figures.add(conv.channel, conv.model_id, "handoff_conversations", value=int(conv.handed_off))
        self._lookups(conn, lo, hi, figures)
        return figures

    def _conversations(self, conn: Connection, day: date, figures: _Figures) -> list[_Conversation]:
        """The conversations that started on ``day`` (a conversation that began before it is counted there)."""
        lo, hi = day_window(day)
        # A conversation that started on this day may go on past midnight: read until every one of them
        # has been quiet for a session gap before the end of what was read.
        end = hi + SESSION_GAP
        while True:
            rows = self._citizen_turns(conn, lo - SESSION_GAP, end)
            last = _last_of_day_conversations(rows, lo, hi)
            if last is None or last < end - SESSION_GAP or end >= hi + _MAX_OVERNIGHT:
                break
            end += timedelta(hours=6)
        out: list[_Conversation] = []
        # Citizens: everyone who wrote on the day, whatever day their conversation started, under the
        # channel and model of their last message that day (a sender counts once).
        writers: dict[str, tuple[str, str]] = {}
        current: _Conversation | None = None
        for row in rows:
            if lo <= row.at < hi:
                writers[row.sender_id] = (row.channel, row.model_id or "")
            if current is None or current.sender_id != row.sender_id or row.at - current.last > SESSION_GAP:
                current = _Conversation(row.sender_id, row.channel, row.at, row.at)
                if lo <= row.at < hi:
                    out.append(current)
            current.last = row.at
            if not lo <= current.started < hi:
                continue  # a turn of a conversation counted on another day
            model = row.model_id or ""
            current.model_id = model
            current.turns += 1
            figures.add(row.channel, model, "turns")
            cited = bool(row.procedure_code) and not row.fallback
            if cited or row.fallback or row.intent not in NOT_QUESTIONS:  # "có" to "Ý anh/chị là…?" answers
                current.last_cited = cited
            if row.fallback:
                current.fallbacks += 1
                figures.add(row.channel, model, "fallback_turns")
                key = unanswered_key(row.text)
                if key:
                    figures.unanswered[(row.channel, key)] += 1
            if cited and row.intent:
                figures.add(row.channel, model, "procedure_answers", f"{row.procedure_code}|{row.intent}"[:120])
            rating = _turn_rating(row) if _RATE_ACTION in (row.actions or ()) else None
            if rating is not None:
                target = "staff" if str(row.rating_target or "").startswith(_STAFF) else "bot"
                figures.add(row.channel, model, "ratings", f"{target}:{rating}")
                current.low_rating = current.low_rating or rating <= 2
        for channel, model in writers.values():
            figures.add(channel, model, "citizens")
        return out

    @staticmethod
    def _citizen_turns(conn: Connection, start: datetime, end: datetime) -> list[Any]:
        """Citizen turns in ``[start, end)`` with their conversation's channel and rating, by sender then time."""
        return conn.execute(
            select(
                TurnRow.sender_id, TurnRow.at, TurnRow.author, TurnRow.intent, TurnRow.procedure_code,
                TurnRow.fallback, TurnRow.model_id, TurnRow.text, TurnRow.actions, TurnRow.entities,
                ConversationRow.channel, ConversationRow.rating, ConversationRow.rating_target,
            )
            .join(ConversationRow, ConversationRow.sender_id == TurnRow.sender_id)
            .where(TurnRow.at >= start, TurnRow.at < end, TurnRow.author == "citizen")
            .order_by(TurnRow.sender_id, TurnRow.at, TurnRow.id)
        ).all()

    def _handoffs(
        self, conn: Connection, lo: datetime, hi: datetime, figures: _Figures, conversations: list[_Conversation]
    ) -> None:
        """Handoffs opened in ``[lo, hi)``: by reason and end, their durations; mark their conversations."""
        table = HandoffRow.__table__
        handoffs = conn.execute(
            select(table).where(table.c.opened_at >= lo, table.c.opened_at < hi).order_by(table.c.id)
        ).all()
        if not handoffs:
            return
        by_sender: dict[str, list[_Conversation]] = defaultdict(list)
        for conv in conversations:
            by_sender[conv.sender_id].append(conv)
        senders = sorted({h.sender_id for h in handoffs})
        staff_turns: dict[str, list[datetime]] = defaultdict(list)
        for chunk in _chunks(senders):
            for sender_id, at in conn.execute(
                select(TurnRow.sender_id, TurnRow.at).where(
                    TurnRow.sender_id.in_(chunk), TurnRow.author == "staff", TurnRow.at >= lo
                ).order_by(TurnRow.at)
            ):
                staff_turns[sender_id].append(at)
        day = _vn_day(lo + timedelta(hours=12))
        for h in handoffs:
            owner = next((c for c in by_sender.get(h.sender_id, ()) if _during(c, h.opened_at)), None)
            model = owner.model_id if owner else ""
            if owner:
                owner.handed_off = True
            figures.add(h.channel, model, "handoffs", h.reason)
            if h.state == "closed" and h.end_reason:
                figures.add(h.channel, model, "handoff_ends", h.end_reason)
            if h.claimed_at is not None:
                figures.durations.append(self._duration(day, h.channel, "wait", h.opened_at, h.claimed_at))
            end = h.closed_at or datetime.max
            first = next((at for at in staff_turns.get(h.sender_id, ()) if h.opened_at <= at <= end), None)
            if first is not None:
                figures.durations.append(self._duration(day, h.channel, "first_reply", h.opened_at, first))

    def _duration(self, day: date, channel: str, kind: str, start: datetime, end: datetime) -> dict[str, Any]:
        seconds = max(0.0, (end - start).total_seconds())
        office = self.calendar.open_seconds(start, end) if self.calendar else seconds
        return {"day": day, "channel": channel, "kind": kind, "seconds": seconds, "office_seconds": office}

    def _lookups(self, conn: Connection, lo: datetime, hi: datetime, figures: _Figures) -> None:
        lo, hi = lo.replace(tzinfo=timezone.utc), hi.replace(tzinfo=timezone.utc)  # the dossier log's times are aware
        rows = conn.execute(
            select(DossierAuditRow.channel, DossierAuditRow.outcome, func.count())
            .where(DossierAuditRow.action == "lookup", DossierAuditRow.at >= lo, DossierAuditRow.at < hi)
            .group_by(DossierAuditRow.channel, DossierAuditRow.outcome)
        ).all()
        for channel, outcome, count in rows:
            figures.add(channel or "", "", "lookups", LOOKUP_GROUPS.get(outcome, "other"), count)

    def _write(self, conn: Connection, day: date, figures: _Figures) -> None:
        conn.execute(delete(DailyRow).where(DailyRow.day == day, DailyRow.metric != "citizens_week"))
        conn.execute(delete(DurationRow).where(DurationRow.day == day))
        rows = [
            {"day": day, "channel": c[:40], "model_id": m[:100], "metric": metric, "key": key, "value": value}
            for (c, m, metric, key), value in figures.daily.items()
            if value
        ]
        if rows:
            conn.execute(insert(DailyRow), rows)
        if figures.durations:
            conn.execute(insert(DurationRow), figures.durations)
        self._write_unanswered(conn, day, figures)

    @staticmethod
    def _write_unanswered(conn: Connection, day: date, figures: _Figures) -> None:
        conn.execute(delete(UnansweredRow).where(UnansweredRow.day == day))
        if figures.unanswered:
            conn.execute(
                insert(UnansweredRow),
                [{"day": day, "channel": c[:40], "text": t, "count": n} for (c, t), n in figures.unanswered.items()],
            )

    def unanswered_days(self, senders: Iterable[str]) -> set[date]:
        """The days whose unanswered messages may hold words of ``senders`` (their fallback turns' days, and
        the day before: a conversation is counted on the day it started)."""
        senders = sorted(set(senders))
        days: set[date] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(senders):
                for at in conn.scalars(
                    select(TurnRow.at).where(TurnRow.sender_id.in_(chunk), TurnRow.fallback.is_(True))
                ):
                    day = _vn_day(at)
                    days |= {day, day - timedelta(days=1)}
        return days

    def refresh_unanswered(self, days: Iterable[date]) -> None:
        """Recompute only the unanswered messages of ``days``, closed or not (after an erasure: a person's
        words leave the dashboard with them; the anonymous counts stay as they were)."""
        for day in sorted(set(days)):
            with self.engine.begin() as conn:
                self._write_unanswered(conn, day, self._compute(conn, day))

    def _write_week(self, conn: Connection, day: date) -> None:
        """Distinct senders of ``day``'s week (Monday-Sunday), kept on its Monday: not a sum of days'."""
        monday = day - timedelta(days=day.weekday())
        lo, hi = day_window(monday)[0], day_window(monday + timedelta(days=6))[1]
        rows = conn.execute(
            select(ConversationRow.channel, func.count(func.distinct(TurnRow.sender_id)))
            .join(ConversationRow, ConversationRow.sender_id == TurnRow.sender_id)
            .where(TurnRow.at >= lo, TurnRow.at < hi, TurnRow.author == "citizen")
            .group_by(ConversationRow.channel)
        ).all()
        conn.execute(delete(DailyRow).where(DailyRow.day == monday, DailyRow.metric == "citizens_week"))
        if rows:
            conn.execute(
                insert(DailyRow),
                [{"day": monday, "channel": c, "model_id": "", "metric": "citizens_week", "key": "", "value": n}
                 for c, n in rows],
            )  # fmt: skip


def _last_of_day_conversations(rows: list[Any], lo: datetime, hi: datetime) -> datetime | None:
    """The last turn of the conversations that started in ``[lo, hi)`` (rows by sender, then time)."""
    last: datetime | None = None
    sender, started, previous = None, None, None
    for row in rows:
        if row.sender_id != sender or previous is None or row.at - previous > SESSION_GAP:
            sender, started = row.sender_id, row.at
        previous = row.at
        if lo <= started < hi and (last is None or row.at > last):
            last = row.at
    return last


def _during(conv: _Conversation, at: datetime) -> bool:
    """Whether ``at`` (a handoff's opening) belongs to ``conv``: within a session gap of its messages."""
    return conv.started - SESSION_GAP <= at <= conv.last + SESSION_GAP


def _turn_rating(row: Any) -> int | None:
    """The 1-5 rating given in a turn: its ``csat_rating`` entity, else the conversation's last rating."""
    for entity in row.entities or ():
        if isinstance(entity, dict) and entity.get("entity") == "csat_rating":
            value = str(entity.get("value", "")).strip()
            if value.isdigit() and 1 <= int(value) <= 5:
                return int(value)
    rating = row.rating
    return rating if isinstance(rating, int) and 1 <= rating <= 5 else None


def _week_open(conn: Connection, day: date) -> bool:
    """Whether a day of ``day``'s week is open (a closed week's count must not shrink after a purge)."""
    monday = day - timedelta(days=day.weekday())
    closed = conn.scalar(
        select(func.count()).where(
            and_(DayRow.day >= monday, DayRow.day <= monday + timedelta(days=6), DayRow.closed.is_(True))
        )
    )
    return int(closed or 0) < 7


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

