"""The daily roll-up: exact figures for a hand-made day, idempotence, closed days, weeks, office hours."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from bot.analytics.models import DailyRow, DayRow, DurationRow, UnansweredRow
from bot.analytics.query import Dashboard, DashboardFilter
from bot.analytics.rollup import Rollup, day_window, unanswered_key
from bot.conversations import Recorder
from bot.conversations.models import TurnRow
from bot.db.clock import VN_TZ, naive_utc
from bot.dossiers.models import AuditRow
from bot.helpdesk.hours import OfficeCalendar, office_calendar, parse_schedule
from bot.helpdesk.models import HandoffRow

DAY = date(2026, 12, 2)  # a Wednesday
AFTER = naive_utc(datetime.combine(DAY + timedelta(days=1), time(6), VN_TZ))  # rolled up next morning: closed


def at(hour: int, minute: int = 0, day: date = DAY) -> float:
    """A Vietnam wall-clock time of ``day`` as a Unix timestamp."""
    return datetime.combine(day, time(hour, minute), VN_TZ).timestamp()


class Talk:
    """Events of one sender, as the event broker publishes them."""

    def __init__(self, sender_id: str, channel: str, model: str = "m1") -> None:
        self.sender_id, self.channel, self.model = sender_id, channel, model
        self.events: list[dict[str, Any]] = []

    def _add(self, ts: float, **fields: Any) -> None:
        self.events.append({"sender_id": self.sender_id, "timestamp": ts, **fields})

    def ask(self, ts: float, text: str, intent: str, code: str | None = None, fallback: bool = False,
            entities: list[dict[str, Any]] | None = None, action: str = "action_answer_procedure") -> Talk:  # fmt: skip
        self._add(ts, event="user", text=text, input_channel=self.channel, metadata={"model_id": self.model},
                  parse_data={"intent": {"name": "nlu_fallback" if fallback else intent, "confidence": 0.9},
                              "entities": entities or [], "text": text})  # fmt: skip
        self._add(ts + 0.1, event="action", name="action_fallback_ladder" if fallback else action)
        if code:
            self._add(ts + 0.2, event="slot", name="procedure_code", value=code)
        self._add(ts + 0.3, event="bot", text="Dạ …", metadata={})
        return self

    def rate(self, ts: float, score: int, target: str = "bot") -> Talk:
        rating = [{"entity": "csat_rating", "value": str(score)}]
        self.ask(ts, f"{score} sao", "rate", entities=rating, action="action_rate")
        self._add(ts + 0.4, event="slot", name="csat_rating", value=str(score))
        self._add(ts + 0.5, event="slot", name="csat_target", value=target)
        return self

    def staff(self, ts: float, text: str = "Dạ, em là cán bộ …") -> Talk:
        self._add(ts, event="bot", text=text, metadata={"agent": "canbo1"})
        return self


def seed_day(engine: Engine) -> None:
    """Six conversations of five citizens on DAY, a handoff, dossier lookups (see test_exact_figures)."""
    talks = [
        Talk("socketio:a", "socketio").ask(at(9), "lệ phí đăng ký khai sinh", "ask_fee", "1.001193")
        .rate(at(9, 2), 5).ask(at(15), "cần giấy tờ gì", "ask_documents", "1.001193"),
        Talk("telegram_ptb:b", "telegram_ptb").ask(at(10), "lam lai cccd o dau", "ask_where", fallback=True)
        .ask(at(10, 1), "cấp lại căn cước", "ask_where", "1.001612"),
        Talk("zalo:c", "zalo").ask(at(11), "thủ tục tạm trú", "ask_procedure_info", "1.004194")
        .ask(at(11, 1), "sdt toi 0912345678 doi ten cho con", "ask_fee", fallback=True),
        Talk("socketio:d", "socketio", "m2")
        .ask(at(10), "cho gặp cán bộ", "request_human", action="action_request_human").staff(at(10, 6)),
        Talk("socketio:e", "socketio").ask(at(13), "thời hạn cấp hộ chiếu", "ask_processing_time", "2.002287")
        .rate(at(13, 1), 2),
    ]  # fmt: skip
    Recorder(engine).apply([e for talk in talks for e in talk.events])
    opened = naive_utc(datetime.fromtimestamp(at(10, 0) + 1, VN_TZ))
    with engine.begin() as conn:
        conn.execute(insert(HandoffRow), [{
            "sender_id": "socketio:d", "channel": "socketio", "reason": "asked", "state": "closed", "agent": "canbo1",
            "end_reason": "answered", "opened_at": opened, "claimed_at": opened + timedelta(minutes=5),
            "closed_at": opened + timedelta(minutes=20),
        }])  # fmt: skip
        lookups = [("verified", "zalo"), ("verified", "socketio"), ("wrong_phone", "zalo"), ("locked_out", "zalo")]
        conn.execute(insert(AuditRow), [
            {"at": datetime.fromtimestamp(at(12), timezone.utc), "action": "lookup", "outcome": outcome,
             "channel": channel, "sender_ref": "ref", "dossier_code": None, "detail": None}
            for outcome, channel in lookups
        ])  # fmt: skip


def figures(engine: Engine, **kw: Any) -> Any:
    return Dashboard(engine, names=lambda codes: {}).figures(DashboardFilter(DAY, DAY, **kw))


def test_exact_figures_of_a_hand_made_day(engine: Engine) -> None:
    seed_day(engine)
    assert Rollup(engine, clock=lambda: AFTER).day(DAY)
    fig = figures(engine)
    t = fig.totals
    # a: two conversations (a gap of 6 hours), both answered with a citation, rated 5: contained.
    # b: a fallback then a cited answer: contained. c: its last question fell back. d: handed off.
    # e: answered but rated 2. So 6 conversations of 5 citizens, 3 contained.
    assert (t["conversations"], t["citizens"], t["contained"], t["answered"]) == (6, 5, 3, 4)
    assert (t["turns"], t["fallback_turns"], t["handoff_conversations"]) == (10, 2, 1)
    assert fig.handoff_reasons == {"asked": [1.0]}
    assert fig.handoff_ends == {"answered": 1.0}
    assert fig.lookups == {"locked": [1.0], "refused": [1.0], "verified": [2.0]}
    assert fig.ratings["bot"]["count"] == 2 and fig.ratings["bot"]["mean"] == 3.5
    assert fig.ratings["bot"]["dist"] == [0, 1, 0, 0, 1]
    assert fig.durations["wait"]["count"] == 1 and fig.durations["wait"]["mean"] == 5.0
    assert fig.durations["first_reply"]["median"] == round((6 * 60 - 1) / 60, 2)
    assert {c["name"]: c["conversations"] for c in fig.by_channel} == {"socketio": 4, "telegram_ptb": 1, "zalo": 1}
    assert {m["name"]: m["conversations"] for m in fig.by_model} == {"m1": 5, "m2": 1}
    codes = {p["code"]: p["answer_types"] for p in fig.procedures}
    assert codes["1.001193"] == {"ask_fee": 1, "ask_documents": 1}
    # The unanswered messages are kept masked and folded: the phone number never reaches a roll-up.
    texts = [u["text"] for u in fig.unanswered]
    assert "lam lai cccd o dau" in texts
    assert all("0912345678" not in x for x in texts) and any("doi ten cho con" in x for x in texts)
    assert fig.rates["containment"] == [0.5]


def test_channel_and_model_filters(engine: Engine) -> None:
    seed_day(engine)
    Rollup(engine, clock=lambda: AFTER).day(DAY)
    assert figures(engine, channel="zalo").totals["conversations"] == 1
    assert figures(engine, channel="zalo").lookups == {"locked": [1.0], "refused": [1.0], "verified": [1.0]}
    assert figures(engine, model_id="m2").totals["handoff_conversations"] == 1


def test_rolling_up_twice_changes_nothing(engine: Engine) -> None:
    seed_day(engine)
    rollup = Rollup(engine, clock=lambda: AFTER - timedelta(days=1))  # during the day: stays open
    rollup.day(DAY)
    with engine.connect() as conn:
        first = sorted(conn.execute(select(DailyRow.__table__)).all())
    rollup.day(DAY)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(DailyRow.__table__)).all()) == first
        assert conn.scalar(select(func.count()).select_from(DurationRow)) == 2


def test_a_closed_day_keeps_its_figures_after_the_purge(engine: Engine) -> None:
    seed_day(engine)
    rollup = Rollup(engine, clock=lambda: AFTER)
    rollup.day(DAY)
    with engine.begin() as conn:
        assert conn.scalar(select(DayRow.closed).where(DayRow.day == DAY)) is True
        conn.execute(delete(TurnRow))  # the retention purge deletes the transcripts
    assert rollup.day(DAY) is False  # closed: not recomputed
    rollup.ensure_closed({DAY})
    assert rollup.open_days(until=DAY) == []
    assert figures(engine).totals["conversations"] == 6


def test_open_days_starts_at_the_first_turn_and_skips_closed_days(engine: Engine) -> None:
    seed_day(engine)
    now = naive_utc(datetime.combine(DAY + timedelta(days=2), time(12), VN_TZ))
    rollup = Rollup(engine, clock=lambda: now)
    assert rollup.open_days() == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert rollup.pending() == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert rollup.open_days() == [DAY + timedelta(days=2)]  # today stays open


def test_a_week_counts_each_citizen_once(engine: Engine) -> None:
    talks = [Talk("zalo:w", "zalo").ask(at(9, day=DAY + timedelta(days=i)), "lệ phí", "ask_fee", "1.001193")
             for i in range(3)]  # fmt: skip
    Recorder(engine).apply([e for t in talks for e in t.events])
    rollup = Rollup(engine, clock=lambda: AFTER + timedelta(days=5))
    rollup.pending()
    week = Dashboard(engine, names=lambda c: {}).figures(DashboardFilter(DAY, DAY + timedelta(days=2), grain="week"))
    days = Dashboard(engine, names=lambda c: {}).figures(DashboardFilter(DAY, DAY + timedelta(days=2)))
    assert days.totals["citizens"] == 3  # citizen-days
    assert week.totals["citizens"] == 1 and week.totals["conversations"] == 3


def test_durations_in_office_hours_only(engine: Engine) -> None:
    calendar = OfficeCalendar(parse_schedule("mon-fri 07:30-11:30,13:30-17:00"), holiday_name=lambda d: None)
    opened = naive_utc(datetime.combine(DAY, time(16, 50), VN_TZ))
    claimed = naive_utc(datetime.combine(DAY + timedelta(days=1), time(7, 40), VN_TZ))
    with engine.begin() as conn:
        conn.execute(insert(HandoffRow), [{
            "sender_id": "zalo:late", "channel": "zalo", "reason": "asked", "state": "active", "agent": "a",
            "end_reason": None, "opened_at": opened, "claimed_at": claimed, "closed_at": None,
        }])  # fmt: skip
    Rollup(engine, calendar=calendar, clock=lambda: AFTER).day(DAY)
    d = figures(engine).durations["wait"]
    assert d["count"] == 1 and d["office_mean"] == 20.0 and d["mean"] == round((claimed - opened).seconds / 60, 2)


def test_unanswered_key_masks_and_folds() -> None:
    assert unanswered_key("Cho hỏi   SĐT 0912 345 678 của tôi") == unanswered_key("cho hoi sdt 0912345678 cua toi")
    assert "0912" not in unanswered_key("sđt 0912345678")
    assert len(unanswered_key("a " * 500)) == 200


def test_day_window_is_vietnam_midnight_to_midnight() -> None:
    lo, hi = day_window(DAY)
    assert lo == datetime(2026, 12, 1, 17, 0) and hi == datetime(2026, 12, 2, 17, 0)


def test_the_configured_calendar_counts_office_seconds() -> None:
    start = datetime(2026, 12, 2, 1, 0)  # 08:00 in Vietnam
    assert office_calendar().open_seconds(start, start + timedelta(minutes=30)) == 1800
    assert office_calendar().open_seconds(start, start - timedelta(minutes=30)) == 0


def test_unanswered_rows_are_grouped_by_day(engine: Engine) -> None:
    seed_day(engine)
    Rollup(engine, clock=lambda: AFTER).day(DAY)
    with engine.connect() as conn:
        rows = conn.execute(select(UnansweredRow.text, UnansweredRow.count)).all()
    assert sorted(n for _, n in rows) == [1, 1]


def test_a_conversation_past_midnight_keeps_its_messages_and_its_citizen(engine: Engine) -> None:
    """Five messages 50 minutes apart from 23:30: one conversation of DAY; the sender wrote on the next day too."""
    night = Talk("zalo:owl", "zalo")
    start = at(23, 30)
    for i in range(4):
        night.ask(start + i * 3000, "lệ phí khai sinh", "ask_fee", "1.001193")
    night.ask(start + 4 * 3000, "xyz không hiểu", "ask_fee", fallback=True)
    Recorder(engine).apply(night.events)
    rollup = Rollup(engine, clock=lambda: AFTER + timedelta(days=2))
    rollup.day(DAY)
    rollup.day(DAY + timedelta(days=1))
    first = figures(engine).totals
    assert (first["conversations"], first["turns"], first["fallback_turns"], first["contained"]) == (1, 5, 1, 0)
    tomorrow = DAY + timedelta(days=1)
    nxt = Dashboard(engine, names=lambda c: {}).figures(DashboardFilter(tomorrow, tomorrow))
    assert nxt.totals["citizens"] == 1 and nxt.totals["conversations"] == 0


def test_a_citizen_counts_once_when_the_model_changes_during_the_day(engine: Engine) -> None:
    talks = [Talk("zalo:same", "zalo", "m1").ask(at(9), "lệ phí", "ask_fee", "1.001193"),
             Talk("zalo:same", "zalo", "m2").ask(at(15), "giấy tờ", "ask_documents", "1.001193")]  # fmt: skip
    Recorder(engine).apply([e for t in talks for e in t.events])
    Rollup(engine, clock=lambda: AFTER).day(DAY)
    fig = figures(engine)
    assert fig.totals["citizens"] == 1 and fig.totals["conversations"] == 2
