"""The help desk's services (bot.helpdesk.service, callbacks, calendar days) on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.conversations.recorder import Recorder
from bot.db import make_engine
from bot.db.clock import VN_TZ
from bot.db.schema import ensure_schema
from bot.helpdesk.calendar_days import CalendarDayError, CalendarDays
from bot.helpdesk.callbacks import CallbackBook, CallbackError, phone_in
from bot.helpdesk.handoff import HandoffConflict, HandoffError
from bot.helpdesk.hours import Interval, OfficeCalendar, office_calendar, parse_schedule
from bot.helpdesk.service import (
    CLOSED_INTENT,
    CitizenDesk,
    NoticeNotSent,
    StaffDesk,
    channel_of,
    is_leave_request,
)
from bot.rasa_client import RasaUnavailable
from bot.settings import overridden

# Sunday 10:00 in Vietnam: closed.
SUNDAY = datetime(2026, 12, 6, 10, 0, tzinfo=VN_TZ)


class FakeRasa:
    """Records the calls the staff side makes to Rasa's HTTP API."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail = fail

    def append_events(self, conversation_id: str, events: Any, output_channel: str | None = None,
                      execute_side_effects: bool = False) -> dict[str, Any]:  # fmt: skip
        if self.fail:
            raise RasaUnavailable("Rasa append_events: no answer")
        self.calls.append(("append", (conversation_id, list(events), output_channel, execute_side_effects)))
        return {}

    def trigger_intent(self, conversation_id: str, intent: str, entities: Any = None,
                       output_channel: str | None = None) -> dict[str, Any]:  # fmt: skip
        self.calls.append(("trigger", (conversation_id, intent, dict(entities or {}), output_channel)))
        return {}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def citizen(engine: Engine) -> CitizenDesk:
    return CitizenDesk(engine)


def staff(engine: Engine, rasa: FakeRasa) -> StaffDesk:
    return StaffDesk(rasa=rasa, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "message",
    ["thôi", "Hủy", "thoi", "huy yeu cau", "thôi không chờ nữa", "ko cho nua, khong can nua", "thôi khỏi",
     "Huỷ nhé", "THÔI", "tôi không chờ nữa đâu", "thôi, em không chờ nữa"],
)
def test_leave_requests(message: str) -> None:
    assert is_leave_request(message)


@pytest.mark.parametrize(
    "message",
    ["", "cho tôi hỏi lệ phí đăng ký tạm trú", "cảm ơn anh", "/cancel", "vâng ạ", "thời gian chờ bao lâu",
     "tôi tên Huy", "anh Huy ơi", "tôi muốn hủy hồ sơ đã nộp", "khởi kiện thế nào", "thời tiết",
     "chờ đến khi nào thì hết thời hạn", "hủy đăng ký thường trú cần gì"],
)  # fmt: skip
def test_not_leave_requests(message: str) -> None:
    assert not is_leave_request(message)


def test_channel_of() -> None:
    assert [channel_of(s) for s in ("zalo:1", "socketio:ab", "telegram_ptb:9", "plain")] == [
        "zalo", "socketio", "telegram_ptb", "rest"
    ]  # fmt: skip


def test_request_queues_and_tells_position_and_wait(
    citizen: CitizenDesk, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.helpdesk.service.office_calendar", lambda days=None: _always_open())
    staff(engine, FakeRasa()).seen("an")
    first = citizen.request("socketio:a")
    second = citizen.request("socketio:b", "fallback")
    assert first.paused and second.paused
    assert "vị trí số 1" in first.reply.text and "vị trí số 2" in second.reply.text
    assert "khoảng 10 phút" in second.reply.text  # position 2 × HELPDESK_MINUTES_PER_CITIZEN (5)
    assert second.handoff is not None and second.handoff.reason == "fallback"
    assert first.reply.buttons[0].payload == "/cancel"
    again = citizen.request("socketio:a")
    assert again.paused and "vị trí số 1" in again.reply.text


def _now() -> datetime:
    return datetime.now(timezone.utc)


def test_outside_hours_says_when_and_offers_a_call_back(citizen: CitizenDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default schedule, whatever HELPDESK_SCHEDULE the end-to-end fixtures set for the session.
    weekly = parse_schedule("mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30")
    monkeypatch.setattr("bot.helpdesk.service.office_calendar", lambda days=None: OfficeCalendar(weekly))
    outcome = citizen.request("zalo:1", now=SUNDAY)
    assert not outcome.paused and outcome.handoff is None
    assert "thứ Hai" in outcome.reply.text and "07:30" in outcome.reply.text
    assert outcome.reply.buttons[0].payload == "/request_callback"


def test_no_one_online_offers_a_call_back(citizen: CitizenDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.helpdesk.service.office_calendar", lambda days=None: _always_open())
    outcome = citizen.request("telegram_ptb:7")
    assert not outcome.paused and "chưa có cán bộ" in outcome.reply.text
    assert outcome.reply.buttons[0].payload == "/request_callback"


def _always_open() -> OfficeCalendar:
    whole_day = (Interval(time(0, 0), time(23, 59, 59)),)
    return OfficeCalendar(dict.fromkeys(range(7), whole_day), holiday_name=lambda d: None)


def test_rest_cannot_be_handed_over(citizen: CitizenDesk) -> None:
    outcome = citizen.request("rest:x")
    assert not outcome.paused and "tổng đài" in outcome.reply.text


def test_unknown_reason_is_refused(citizen: CitizenDesk) -> None:
    with pytest.raises(HandoffError):
        citizen.request("socketio:a", "because")


def test_leaving_the_queue(citizen: CitizenDesk, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.helpdesk.service.office_calendar", lambda days=None: _always_open())
    staff(engine, FakeRasa()).seen("an")
    citizen.request("socketio:a")
    assert citizen.still_open("socketio:a")
    assert citizen.leave("socketio:a") and not citizen.still_open("socketio:a")
    assert not citizen.leave("socketio:a")


def test_a_waiting_citizen_is_given_back_to_the_bot_when_nobody_is_online(
    citizen: CitizenDesk, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.helpdesk.service.office_calendar", lambda days=None: _always_open())
    staff(engine, FakeRasa()).seen("an")
    citizen.request("socketio:a")
    assert not citizen.give_up_if_unstaffed("socketio:a")  # "an" is online
    assert citizen.left_reply("socketio:a").text == citizen.after_leaving().text
    from bot.helpdesk.models import PresenceRow

    with engine.begin() as conn:
        conn.execute(PresenceRow.__table__.delete())  # the last agent went home
    assert citizen.give_up_if_unstaffed("socketio:a") and not citizen.still_open("socketio:a")
    reply = citizen.left_reply("socketio:a")
    assert "chưa có cán bộ" in reply.text and reply.buttons[0].payload == "/request_callback"
    assert not citizen.give_up_if_unstaffed("socketio:a")  # nothing waits any more


def test_call_backs(citizen: CitizenDesk, engine: Engine) -> None:
    assert citizen.leave_call_back("zalo:1", "số em là abc") is None
    saved = citizen.leave_call_back("zalo:1", "0912 345 678 ạ")
    assert saved is not None and "0912345678" not in saved.text  # masked in the bot's reply
    book = CallbackBook(engine)
    citizen.leave_call_back("zalo:1", "à nhầm, 0987.654.321")  # the same request gets the new number
    (pending,) = book.pending()
    assert (pending.phone, pending.channel, pending.state) == ("0987654321", "zalo", "pending")
    done = book.mark(pending.id, "an", reached=False)
    assert (done.state, done.agent) == ("not_reached", "an") and book.pending() == []
    assert [c.id for c in book.recent(30)] == [pending.id]
    with pytest.raises(CallbackError):
        book.mark(999, "an", True)


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("0912345678", "0912345678"), ("+84 912 345 678", "0912345678"), ("84912345678", "0912345678"),
     ("gọi 024 3825 1234", "02438251234"), ("12345", None), ("mã 000.00.12.H61-240831-0001", None)],
)  # fmt: skip
def test_phone_in(typed: str, digits: str | None) -> None:
    assert phone_in(typed) == digits


def test_calendar_days_change_the_office_calendar(engine: Engine) -> None:
    days = CalendarDays(engine)
    monday = date(2026, 12, 7)
    saturday = date(2026, 12, 12)
    days.add(monday, "off", "nghỉ bù", by="admin")
    days.add(saturday, "work", "làm bù", by="admin")
    with pytest.raises(CalendarDayError):
        days.add(monday, "holiday", "", by="admin")
    calendar = office_calendar(days.split())
    assert not calendar.is_open(datetime(2026, 12, 7, 9, 0, tzinfo=VN_TZ))
    assert calendar.is_open(datetime(2026, 12, 12, 15, 0, tzinfo=VN_TZ))  # Monday's hours on a make-up Saturday
    assert [d.kind for d in days.list(2026)] == ["off", "work"]
    days.remove(monday)
    assert office_calendar(days.split()).is_open(datetime(2026, 12, 7, 9, 0, tzinfo=VN_TZ))


def _queue_one(engine: Engine, sender: str = "socketio:a") -> int:
    from bot.helpdesk.handoff import HandoffDesk

    return HandoffDesk(engine).open(sender, channel_of(sender)).id


def test_staff_claim_reply_close(engine: Engine) -> None:
    rasa = FakeRasa()
    desk = staff(engine, rasa)
    hid = _queue_one(engine)
    desk.claim(hid, "an")
    assert rasa.calls[-1][0] == "append" and rasa.calls[-1][1][2:] == ("socketio", True)
    delivery = desk.reply(hid, "an", "Dạ, em chào anh")
    (_, (sender, events, channel, side_effects)) = rasa.calls[-1]
    assert delivery.sent and (sender, channel, side_effects) == ("socketio:a", "socketio", True)
    assert events[0]["event"] == "bot" and events[0]["metadata"] == {"agent": "an"}
    with pytest.raises(HandoffConflict):
        desk.reply(hid, "binh", "không phải của tôi")
    with pytest.raises(HandoffError):
        desk.reply(hid, "an", "   ")
    desk.reply(hid, "an", "a\x00b\u202ec")
    assert rasa.calls[-1][1][1][0]["text"] == "abc"  # control and bidi characters dropped
    desk.transfer(hid, "an", "binh")
    with pytest.raises(HandoffConflict):
        desk.reply(hid, "an", "đã chuyển rồi")
    desk.close(hid, "binh", "answered")
    resume = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
    assert rasa.calls[-2] == ("append", ("socketio:a", resume, None, False))
    assert rasa.calls[-1] == ("trigger", ("socketio:a", CLOSED_INTENT, {"agent": "binh"}, "socketio"))
    with pytest.raises(HandoffConflict):
        desk.reply(hid, "binh", "đã đóng")


def test_a_waiting_handoff_cannot_be_replied_to(engine: Engine) -> None:
    hid = _queue_one(engine)
    with pytest.raises(HandoffConflict):
        staff(engine, FakeRasa()).reply(hid, "an", "chưa nhận")


def test_zalo_replies_only_inside_the_window(engine: Engine) -> None:
    rasa = FakeRasa()
    desk = staff(engine, rasa)
    hid = _queue_one(engine, "zalo:42")
    desk.claim(hid, "an")
    assert desk.reply(hid, "an", "chào anh").problem == "zalo_window"  # no message from the citizen on record
    Recorder(engine).apply([{"sender_id": "zalo:42", "event": "user", "timestamp": _now().timestamp(), "text": "alo",
                             "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}])  # fmt: skip
    assert desk.reply(hid, "an", "chào anh").sent


def test_zalo_window_counts_from_the_channels_receipt_too(engine: Engine) -> None:
    """The record lags by a turn (it is written when Rasa saves the tracker); the channel's own
    receipt time, when given, opens the window at once."""
    rasa = FakeRasa()
    seen: list[tuple[str, str]] = []

    def last_message_at(channel: str, user: str) -> datetime:
        seen.append((channel, user))
        return _now()

    desk = StaffDesk(rasa=rasa, engine=engine, last_message_at=last_message_at)  # type: ignore[arg-type]
    hid = _queue_one(engine, "zalo:77")
    desk.claim(hid, "an")
    assert desk.reply(hid, "an", "chào anh").sent and seen[-1] == ("zalo", "77")


def test_close_without_rasa_still_closes(engine: Engine) -> None:
    desk = staff(engine, FakeRasa(fail=True))
    hid = _queue_one(engine)
    desk.desk.claim(hid, "an")
    assert desk.reply(hid, "an", "xin chào").problem == "rasa_unavailable"
    with pytest.raises(NoticeNotSent):
        desk.close(hid, "an", "answered")
    assert desk.desk.current("socketio:a") is None  # the Rasa process resumes it on the next message


def test_presence_and_canned_replies(engine: Engine) -> None:
    desk = staff(engine, FakeRasa())
    assert desk.online() == []
    desk.seen("an")
    desk.seen("an")
    assert desk.online() == ["an"]
    keys = [k for k, _ in desk.canned_replies()]
    assert keys and all(k.startswith("staff.canned.") for k in keys)


@pytest.mark.parametrize(("hours", "paid", "problem"), [
    (47, "0", None), (49, "0", "zalo_free_window"), (49, "1", None), (24 * 8, "1", "zalo_window"),
])  # fmt: skip
def test_zalo_staff_replies_follow_the_free_48_hours(engine: Engine, hours: int, paid: str, problem: str | None):
    """Free for 48 hours after the citizen's last message; then billed, so sent only when the province funds it."""
    desk = StaffDesk(rasa=FakeRasa(), engine=engine,
                     last_message_at=lambda channel, user: _now() - timedelta(hours=hours))  # fmt: skip
    hid = _queue_one(engine, "zalo:48")
    desk.claim(hid, "an")
    with overridden(ZALO_PAID_MESSAGES=paid):
        delivery = desk.reply(hid, "an", "chào anh")
    assert delivery.problem == problem and delivery.sent is (problem is None)
