"""The NLU inbox: grouping, filters, newest first, decisions and flags (temporary SQLite database)."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.conversations.models import ConversationRow, TurnRow
from bot.db import session_factory
from bot.settings import PROJECT_ROOT
from bot.training.data import TrainingIndex, key_hash, plain_text, text_key
from bot.training.errors import TrainingError
from bot.training.inbox import Inbox, InboxFilter

T0 = datetime(2026, 12, 1, 8, 0)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data" / "nlu").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "data" / "nlu" / "chitchat.yml", project / "data" / "nlu" / "chitchat.yml")
    return project


@pytest.fixture
def inbox(engine: Engine, root: Path) -> Inbox:
    sessions = session_factory(engine)
    with sessions() as session, session.begin():
        for sender, channel, rating in [("web-1", "socketio", None), ("tg-1", "telegram_ptb", 1), ("z-1", "zalo", 5)]:
            session.add(ConversationRow(sender_id=sender, channel=channel, started_at=T0, last_at=T0, turns=1,
                                        fallbacks=0, handed_off=False, paused=False, rating=rating))  # fmt: skip
        turns = [
            ("web-1", 1, "Gửi xe ở đâu", "ask_where", 0.4, True),
            ("tg-1", 2, "gửi  xe ở ĐÂU", "ask_where", 0.45, True),
            ("z-1", 3, "xin chào", "greet", 0.99, False),  # in the training data
            ("z-1", 4, "mấy giờ mở cửa", "ask_processing_time", 0.8, False),
            ("tg-1", 5, "phí làm hộ chiếu", "ask_fee", 0.3, False),
            ("web-1", 6, "cảm ơn nhiều nha", "thank", 0.6, False),
        ]
        for sender, minute, text, intent, confidence, fallback in turns:
            session.add(TurnRow(sender_id=sender, at=T0 + timedelta(minutes=minute), author="citizen", text=text,
                                intent=intent, confidence=confidence, fallback=fallback,
                                entities=[{"entity": "procedure", "value": "x", "start": 0, "end": 1}]))  # fmt: skip
        session.add(TurnRow(sender_id="web-1", at=T0, author="bot", text="bot text", fallback=False))
    return Inbox(engine, TrainingIndex(root))


def texts(items: list) -> list[str]:
    return [i.text for i in items]


def test_grouped_newest_first_and_not_in_the_training_data(inbox: Inbox) -> None:
    items = inbox.list()
    assert texts(items) == ["cảm ơn nhiều nha", "phí làm hộ chiếu", "mấy giờ mở cửa", "gửi  xe ở ĐÂU"]
    where = items[-1]
    assert where.count == 2 and where.channels == ("socketio", "telegram_ptb")
    assert (where.intent, where.confidence, where.fallback) == ("ask_where", 0.45, True)
    assert where.entities[0]["entity"] == "procedure" and where.key == key_hash("gửi xe ở đâu")
    assert len(inbox.list(limit=2)) == 2


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (InboxFilter(fallback=True), ["gửi  xe ở ĐÂU"]),
        (InboxFilter(fallback=False), ["cảm ơn nhiều nha", "phí làm hộ chiếu", "mấy giờ mở cửa"]),
        (InboxFilter(confidence_below=0.5), ["phí làm hộ chiếu", "gửi  xe ở ĐÂU"]),
        (InboxFilter(intent="ask_fee"), ["phí làm hộ chiếu"]),
        (InboxFilter(channel="zalo"), ["mấy giờ mở cửa"]),
        (InboxFilter(rating_at_most=2), ["phí làm hộ chiếu", "gửi  xe ở ĐÂU"]),
        (InboxFilter(since=T0 + timedelta(minutes=5)), ["cảm ơn nhiều nha", "phí làm hộ chiếu"]),
    ],
)
def test_filters(inbox: Inbox, filters: InboxFilter, expected: list[str]) -> None:
    assert texts(inbox.list(filters)) == expected


def test_flagged_filter(inbox: Inbox) -> None:
    assert inbox.list(InboxFilter(flagged=True)) == []
    turn = next(i for i in inbox.list() if i.text == "mấy giờ mở cửa").turn_id
    inbox.flag(turn, "trainer1", note="sai intent")
    inbox.flag(turn, "trainer2")  # kept once
    flagged = inbox.list(InboxFilter(flagged=True))
    assert texts(flagged) == ["mấy giờ mở cửa"] and flagged[0].flagged
    assert "mấy giờ mở cửa" not in texts(inbox.list(InboxFilter(flagged=False)))
    assert inbox.unflag(turn) and not inbox.unflag(turn)
    with pytest.raises(TrainingError) as err:
        inbox.flag(999, "trainer1")
    assert err.value.code == "unknown_turn"


def test_decisions_leave_the_inbox(inbox: Inbox) -> None:
    items = {i.text: i for i in inbox.list()}
    ignored = inbox.ignore(items["cảm ơn nhiều nha"], "trainer1")
    assert ignored.decision == "ignored" and ignored.intent is None
    confirmed = inbox.confirm(items["phí làm hộ chiếu"], "trainer1", mention=(3, 16), procedure_code="1.001234")
    assert (confirmed.decision, confirmed.intent) == ("confirmed", "ask_fee")
    assert confirmed.entities == ({"entity": "procedure", "start": 4, "end": 16, "value": "làm hộ chiếu"},)
    changed = inbox.change(items["gửi  xe ở ĐÂU"], "ask_parking", "trainer1")
    assert (changed.decision, changed.intent, changed.predicted_intent) == ("changed", "ask_parking", "ask_where")
    assert texts(inbox.list()) == ["mấy giờ mở cửa"]
    assert [r.intent for r in inbox.reviews()] == ["ask_fee", "ask_parking"]
    marked = inbox.mark_procedure(changed.key, "trainer2", mention=(0, 6))
    assert marked.entities[0]["value"] == "gửi  x" and marked.decided_by == "trainer2"
    assert inbox.mark_written([confirmed.key]) == 1
    assert [r.intent for r in inbox.reviews(unwritten=True)] == ["ask_parking"]


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"decision": "maybe", "intent": "ask_fee"}, "bad_decision"),
        ({"decision": "changed", "intent": "Bad Name"}, "bad_intent_name"),
        ({"decision": "confirmed", "intent": "ask_fee", "mention": (5, 50)}, "bad_span"),
        ({"decision": "confirmed", "intent": "ask_fee", "mention": (3, 4)}, "bad_span"),
        ({"decision": "confirmed", "intent": "ask_fee", "procedure_code": "no such"}, "unknown_procedure"),
    ],
)
def test_bad_decisions_are_refused(inbox: Inbox, kwargs: dict, code: str) -> None:
    with pytest.raises(TrainingError) as err:
        inbox.decide("phí làm hộ chiếu", by="trainer1", **kwargs)
    assert err.value.code == code


def test_a_catalogue_checks_the_procedure_code(engine: Engine, root: Path) -> None:
    class Catalog:
        def get(self, code: str, province: str | None = None) -> object | None:
            return object() if code == "1.001234" else None

    inbox = Inbox(engine, TrainingIndex(root), catalog=Catalog())
    inbox.decide("phí", "confirmed", "t", intent="ask_fee", procedure_code="1.001234")
    with pytest.raises(TrainingError):
        inbox.decide("phí", "confirmed", "t", intent="ask_fee", procedure_code="1.999999")


def test_training_index_strips_annotations_and_follows_file_changes(root: Path) -> None:
    index = TrainingIndex(root)
    assert index.intents_of("XIN  chào") == {"greet"} and "xin chao" in index
    assert "xin chào ạ ạ ạ" not in index
    assert plain_text('[cccd](procedure) ở [đâu]{"entity": "x"}') == "cccd ở đâu" and text_key(" A  b ") == "a b"
    extra = root / "data" / "nlu" / "reviewed" / "ask_fee.yml"
    extra.parent.mkdir()
    extra.write_text('version: "3.1"\nnlu:\n- intent: ask_fee\n  examples: |\n    - phí [hộ chiếu](procedure)\n',
                     encoding="utf-8")  # fmt: skip
    assert index.intents_of("phí hộ chiếu") == {"ask_fee"}
    extra.write_text("nlu: [", encoding="utf-8")
    assert "phí hộ chiếu" not in index and str(extra) in index.errors
