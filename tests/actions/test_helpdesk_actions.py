"""The help desk's actions (actions/helpdesk.py) on a real database: queueing and pausing, call-backs, rating."""

from __future__ import annotations

import asyncio
from datetime import time
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.engine import Engine

import actions.helpdesk
from actions.helpdesk import (
    ActionGoodbye,
    ActionHandoffClosed,
    ActionRate,
    ActionRequestHuman,
    ValidateCallbackForm,
    ValidateCsatCommentForm,
)
from bot.helpdesk.callbacks import CallbackBook
from bot.helpdesk.hours import Interval, OfficeCalendar
from bot.helpdesk.service import CitizenDesk, StaffDesk


@pytest.fixture(autouse=True)
def desk(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> CitizenDesk:
    citizen = CitizenDesk(engine)
    monkeypatch.setattr(actions.helpdesk, "desk", lambda: citizen)
    return citizen


def open_all_day(monkeypatch: pytest.MonkeyPatch) -> None:
    whole_day = (Interval(time(0, 0), time(23, 59, 59)),)
    calendar = OfficeCalendar(dict.fromkeys(range(7), whole_day), holiday_name=lambda d: None)
    monkeypatch.setattr("bot.helpdesk.service.office_calendar", lambda days=None: calendar)


def tracker(text: str, intent: str, sender: str = "socketio:s1", entities: list[dict[str, Any]] | None = None,
            slots: dict[str, Any] | None = None) -> Tracker:  # fmt: skip
    message = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    events = [{"event": "user", "text": text, "parse_data": message}]
    return Tracker(sender, slots or {}, message, events, False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    buttons = [b for m in dispatcher.messages for b in (m.get("buttons") or [])]
    return "\n".join(m.get("text") or "" for m in dispatcher.messages), buttons, events


def test_request_human_queues_and_pauses(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    open_all_day(monkeypatch)
    StaffDesk(engine=engine, rasa=object()).seen("an")  # type: ignore[arg-type]
    reason = [{"entity": "handoff_reason", "value": "fallback"}]
    text, buttons, events = run(ActionRequestHuman(), tracker("/request_human", "request_human", entities=reason))
    assert "vị trí số 1" in text and buttons[0]["payload"] == "/cancel"
    assert {"event": "pause", "timestamp": None} in events
    from bot.helpdesk.handoff import HandoffDesk

    assert HandoffDesk(engine).current("socketio:s1").reason == "fallback"


def test_request_human_with_no_one_online_offers_a_call_back(monkeypatch: pytest.MonkeyPatch) -> None:
    open_all_day(monkeypatch)
    text, buttons, events = run(ActionRequestHuman(), tracker("gặp cán bộ", "request_human"))
    assert "gọi lại" in text and buttons[0]["payload"] == "/request_callback"
    assert not [e for e in events if e["event"] == "pause"]


def test_request_human_on_rest_gives_the_hotline() -> None:
    text, _, events = run(ActionRequestHuman(), tracker("gặp cán bộ", "request_human", sender="rest:x"))
    assert "tổng đài" in text and not [e for e in events if e["event"] == "pause"]


def test_call_back_number_is_kept_in_the_list_not_in_a_slot(engine: Engine) -> None:
    form = ValidateCallbackForm()
    d = CollectingDispatcher()
    assert asyncio.run(form.validate_callback_phone("abc", d, tracker("số tôi là abc", "inform"), {})) == {
        "callback_phone": None
    }
    again = tracker("/request_callback", "request_callback")
    assert asyncio.run(form.validate_callback_phone("received", d, again, {})) == {"callback_phone": None}
    assert len(d.messages) == 1  # the button itself is not "a number not recognised"
    got = asyncio.run(form.validate_callback_phone("x", d, tracker("0912 345 678", "inform", sender="zalo:9"), {}))
    assert got == {"callback_phone": "received"}
    (callback,) = CallbackBook(engine).pending()
    assert (callback.phone, callback.channel) == ("0912345678", "zalo")
    assert "0912345678" not in d.messages[-1]["text"]


def test_goodbye_asks_for_a_rating_once_after_an_answer() -> None:
    text, buttons, events = run(ActionGoodbye(), tracker("tạm biệt", "goodbye", slots={"procedure_code": "1.004194"}))
    assert [b["title"] for b in buttons] == ["1", "2", "3", "4", "5"] and "đánh giá" in text
    assert {"event": "slot", "timestamp": None, "name": "csat_target", "value": "bot"} in events
    slots = {"procedure_code": "1.004194", "csat_target": "bot"}
    _, buttons, _ = run(ActionGoodbye(), tracker("tạm biệt", "goodbye", slots=slots))
    assert buttons == []
    _, buttons, _ = run(ActionGoodbye(), tracker("tạm biệt", "goodbye"))
    assert buttons == []  # nothing was answered: no rating


def test_a_rating_is_kept_once_then_a_comment_is_asked() -> None:
    five = [{"entity": "csat_rating", "value": "5"}]
    text, _, events = run(ActionRate(), tracker('/rate{"csat_rating": "5"}', "rate", entities=five))
    values = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert "5/5" in text and values == {"csat_rating": 5, "csat_comment_wanted": True, "csat_target": "bot"}
    again = tracker('/rate{"csat_rating": "1"}', "rate", entities=[{"entity": "csat_rating", "value": "1"}],
                    slots={"csat_rating": 5})  # fmt: skip
    text, _, events = run(ActionRate(), again)
    assert "đã đánh giá" in text and events[0]["value"] is False
    form = ValidateCsatCommentForm()
    d = CollectingDispatcher()
    wanted = tracker("x", "rate", slots={"csat_comment_wanted": True})
    assert asyncio.run(form.required_slots(["csat_comment"], d, wanted, {})) == ["csat_comment"]
    assert asyncio.run(form.required_slots(["csat_comment"], d, tracker("x", "rate"), {})) == []


def test_a_rating_out_of_range_asks_again() -> None:
    nine = tracker("9 sao", "rate", entities=[{"entity": "csat_rating", "value": "9"}])
    _text, buttons, events = run(ActionRate(), nine)
    assert len(buttons) == 5 and not [e for e in events if e.get("name") == "csat_rating"]


def test_a_typed_rating_is_read_from_the_message() -> None:
    text, _, events = run(ActionRate(), tracker("5 sao", "rate"))
    assert "5/5" in text and {"event": "slot", "timestamp": None, "name": "csat_rating", "value": 5} in events
    text, buttons, _ = run(ActionRate(), tracker("3 hay 4 sao", "rate", slots={"csat_target": "staff:lan"}))
    assert "cán bộ" in text and len(buttons) == 5  # two numbers: ask again, about the staff member


def test_closing_by_staff_asks_the_citizen_to_rate_the_staff() -> None:
    external = tracker("", "EXTERNAL_handoff_closed", entities=[{"entity": "agent", "value": "lan"}])
    text, buttons, events = run(ActionHandoffClosed(), external)
    assert "kết thúc" in text and len(buttons) == 5
    assert {"event": "slot", "timestamp": None, "name": "csat_target", "value": "staff:lan"} in events
