"""The recorder (bot.conversations.recorder): turns from Rasa's events, idempotency, masking."""

from __future__ import annotations

import logging
import random
from datetime import datetime

import pytest
from sqlalchemy.engine import Engine

from bot.conversations import ConversationRecord, Recorder
from bot.conversations.recorder import event_key
from tests.conversations.conftest import T0, Chat, snapshot


def _talk() -> list[dict]:
    chat = Chat("socketio:abc")
    return [
        chat.action("action_session_start"),
        chat.user("Lệ phí đăng ký tạm trú bao nhiêu?", entities=[{"entity": "procedure", "value": "tạm trú",
                                                                  "start": 18, "end": 25}]),
        chat.action("action_answer_procedure"),
        chat.slot("procedure_code", "1.004194"),
        chat.bot("Lệ phí: 15.000 đồng."),
        chat.bot("Anh/chị cần gì thêm?"),
        chat.action("action_listen"),
        *chat.exchange("còn thủ tục khác", "Xin lỗi, tôi chưa hiểu.", intent="nlu_fallback", confidence=0.31,
                       action="action_fallback_ladder"),
    ]  # fmt: skip


def test_a_citizen_message_and_what_followed_make_one_turn(db: Engine) -> None:
    assert Recorder(db).apply(_talk()) == 11
    record = ConversationRecord(db)
    first, second = record.transcript("socketio:abc")
    assert (first.author, first.text, first.intent, first.confidence) == (
        "citizen", "Lệ phí đăng ký tạm trú bao nhiêu?", "ask_fee", 0.93)  # fmt: skip
    assert first.reply == "Lệ phí: 15.000 đồng.\nAnh/chị cần gì thêm?"
    assert first.actions == ("action_answer_procedure",)  # action_listen left out
    assert first.procedure_code == "1.004194" and first.model_id == "model-1"
    assert first.entities == ({"entity": "procedure", "value": "tạm trú", "start": 18, "end": 25},)
    assert first.at == datetime(2024, 12, 7, 5, 40, 1, 125000)
    assert (second.intent, second.actions, second.procedure_code) == ("nlu_fallback", ("action_fallback_ladder",), None)
    summary = record.get("socketio:abc")
    assert summary is not None
    assert (summary.channel, summary.turns, summary.fallbacks, summary.lowest_confidence) == ("socketio", 2, 1, 0.31)
    assert summary.procedures == ("1.004194",) and summary.model_id == "model-1"
    assert summary.started_at == datetime(2024, 12, 7, 5, 40, 0, 625000)
    assert summary.last_at == datetime.utcfromtimestamp(_talk()[-1]["timestamp"])
    assert record.last_citizen_at("socketio:abc") == second.at
    assert record.get("nobody") is None and record.transcript("nobody") == []


def test_a_turn_is_completed_across_batches_and_recorders(db: Engine) -> None:
    events = _talk()
    Recorder(db).apply(events)
    whole = [(t.author, t.text, t.reply, t.actions, t.procedure_code)
             for t in ConversationRecord(db).transcript("socketio:abc")]  # fmt: skip
    for cut in (2, 3, 4, 5, 9):  # the user event in one batch, its action, slot or bot messages in the next
        sender = f"rest:x{cut}"
        later = [{**e, "sender_id": sender} for e in events]
        for part in (later[:cut], later[cut:]):
            assert Recorder(db).apply(part) == len(part)  # a new recorder each time: nothing kept in memory
        assert [(t.author, t.text, t.reply, t.actions, t.procedure_code)
                for t in ConversationRecord(db).transcript(sender)] == whole  # fmt: skip


def test_one_event_at_a_time_gives_the_same_record(db: Engine) -> None:
    events = _talk()
    Recorder(db).apply(events)
    one_by_one = [{**e, "sender_id": "socketio:one"} for e in events]
    for event in one_by_one:
        assert Recorder(db).apply([event]) == 1
    record = ConversationRecord(db)
    a, b = record.get("socketio:abc"), record.get("socketio:one")
    assert a is not None and b is not None and a == b.__class__(**{**b.__dict__, "sender_id": a.sender_id})
    strip = [(t.author, t.text, t.reply, t.actions, t.intent, t.procedure_code)
             for t in record.transcript("socketio:abc")]  # fmt: skip
    assert [(t.author, t.text, t.reply, t.actions, t.intent, t.procedure_code)
            for t in record.transcript("socketio:one")] == strip  # fmt: skip


def test_the_same_batch_twice_changes_nothing(db: Engine) -> None:
    recorder = Recorder(db)
    assert recorder.apply(_talk()) == 11
    before = snapshot(db)
    assert recorder.apply(_talk()) == 0
    assert snapshot(db) == before


def test_overlapping_batches_and_shuffled_duplicates_change_nothing(db: Engine) -> None:
    events = _talk()
    reference = [
        ("citizen", "Lệ phí đăng ký tạm trú bao nhiêu?", "Lệ phí: 15.000 đồng.\nAnh/chị cần gì thêm?",
         ("action_answer_procedure",)),
        ("citizen", "còn thủ tục khác", "Xin lỗi, tôi chưa hiểu.", ("action_fallback_ladder",)),
    ]  # fmt: skip
    recorder = Recorder(db)
    assert recorder.apply(events[:6]) == 6
    assert recorder.apply(events[3:10]) == 4
    assert recorder.apply(events[8:]) == 1
    after = snapshot(db)
    duplicates = events[:]
    random.Random(7).shuffle(duplicates)
    assert recorder.apply(duplicates + duplicates[:5]) == 0
    assert snapshot(db) == after
    turns = ConversationRecord(db).transcript("socketio:abc")
    assert [(t.author, t.text, t.reply, t.actions) for t in turns] == reference


def test_duplicates_inside_one_batch_are_applied_once(db: Engine) -> None:
    events = _talk()
    assert Recorder(db).apply([events[0], events[1], events[1], events[2], events[1], *events[3:], events[4]]) == 11
    assert ConversationRecord(db).transcript("socketio:abc")[0].reply == "Lệ phí: 15.000 đồng.\nAnh/chị cần gì thêm?"


def test_event_key_is_sender_type_timestamp_and_name_or_text() -> None:
    assert event_key("a", "user", 1, "hi") == event_key("a", "user", 1.0, "hi")
    assert len({event_key("a", "user", 1.0, "hi"), event_key("b", "user", 1.0, "hi"),
                event_key("a", "bot", 1.0, "hi"), event_key("a", "user", 1.5, "hi"),
                event_key("a", "user", 1.0, "ho")}) == 5  # fmt: skip


PHONE, CCCD = "0912345678", "001099012345"


def test_phone_and_id_numbers_are_never_stored(db: Engine) -> None:
    chat = Chat("zalo:77")
    Recorder(db).apply([
        chat.user(f"số tôi {PHONE}, căn cước {CCCD}", entities=[{"entity": "phone", "value": PHONE},
                                                                {"entity": "id", "value": int(CCCD)}]),
        chat.action("action_answer_procedure"),
        chat.slot("procedure_code", f"{PHONE}"),
        chat.bot(f"Đã ghi nhận số {PHONE} và {CCCD}."),
        chat.bot(f"Cán bộ gọi lại {PHONE}", agent="lan"),
        chat.slot("csat_rating", "2"),
        chat.slot("csat_comment", f"gọi tôi {PHONE} / {CCCD}"),
    ])  # fmt: skip
    dump = repr(snapshot(db))
    for number in (PHONE, CCCD, "912345678", "1099012345", "12345678"):
        assert number not in dump
    turn = ConversationRecord(db).transcript("zalo:77")[0]
    assert "091" in turn.text and turn.entities[0]["value"] != PHONE


def test_a_sealed_original_is_kept_as_given(db: Engine) -> None:
    chat = Chat("socketio:s")
    Recorder(db).apply([chat.user(f"gọi {PHONE}", sealed="gAAAAABsealed-token==")])
    turn = ConversationRecord(db).transcript("socketio:s")[0]
    assert (turn.sealed, PHONE in turn.text) == ("gAAAAABsealed-token==", False)


def test_staff_replies_are_turns_of_their_own(db: Engine) -> None:
    chat = Chat("telegram_ptb:9")
    Recorder(db).apply([
        *chat.exchange("cho gặp người thật", "Đang chuyển cán bộ.", intent="request_human"),
        chat.pause(),
        chat.bot("Chào anh, tôi là Lan.", agent="lan"),
        chat.bot("Giấy tờ cần: CCCD.", agent="lan"),
        chat.resume(),
    ])  # fmt: skip
    record = ConversationRecord(db)
    turns = record.transcript("telegram_ptb:9")
    assert [(t.author, t.agent, t.text) for t in turns] == [
        ("citizen", None, "cho gặp người thật"),
        ("staff", "lan", "Chào anh, tôi là Lan."),
        ("staff", "lan", "Giấy tờ cần: CCCD."),
    ]
    assert turns[0].reply == "Đang chuyển cán bộ."
    summary = record.get("telegram_ptb:9")
    assert summary is not None and (summary.handed_off, summary.paused, summary.turns) == (True, False, 1)


def test_system_triggers_and_pushes(db: Engine) -> None:
    chat = Chat("socketio:p")
    Recorder(db).apply([
        chat.bot("Chào mừng bạn đến với cổng dịch vụ công."),  # nothing before it: a push
        chat.user("/EXTERNAL_dossier_update", intent="EXTERNAL_dossier_update", confidence=1.0),
        chat.action("action_notify_dossier_update"),
        chat.bot("Hồ sơ của bạn đã có kết quả."),
    ])  # fmt: skip
    record = ConversationRecord(db)
    push, system = record.transcript("socketio:p")
    assert (push.author, push.text, push.reply) == ("bot", "Chào mừng bạn đến với cổng dịch vụ công.", None)
    assert (system.author, system.text, system.reply) == (
        "system", "EXTERNAL_dossier_update", "Hồ sơ của bạn đã có kết quả.")  # fmt: skip
    assert system.actions == ("action_notify_dossier_update",)
    summary = record.get("socketio:p")
    assert summary is not None and (summary.turns, summary.lowest_confidence) == (0, None)
    assert record.last_citizen_at("socketio:p") is None


def test_ratings_and_pauses(db: Engine) -> None:
    chat = Chat("rest:r")
    Recorder(db).apply([*chat.exchange("hỏi", "đáp"), chat.pause(), chat.slot("csat_rating", 4),
                        chat.slot("csat_comment", "  tốt  "), chat.slot("csat_target", "staff:lan"),
                        chat.slot("csat_rating", None), chat.slot("csat_rating", 9)])  # fmt: skip
    s = ConversationRecord(db).get("rest:r")
    assert s is not None
    assert (s.rating, s.rating_comment, s.rating_target, s.handed_off, s.paused) == (4, "tốt", "staff:lan", True, True)


def test_malformed_events_are_skipped_without_their_text(db: Engine, caplog: pytest.LogCaptureFixture) -> None:
    chat = Chat("socketio:m")
    good = chat.user("bình thường")
    bad = [
        None, "user", 42, {}, {"event": "user"}, {"event": "user", "sender_id": "x"},
        {"event": "user", "sender_id": "x", "timestamp": "now", "text": "bí mật 1"},
        {"event": "user", "sender_id": "x", "timestamp": T0, "text": ["bí mật 2"]},
        {"event": "user", "sender_id": "", "timestamp": T0, "text": "bí mật 3"},
        {"event": "user", "sender_id": None, "timestamp": T0},
        {"event": "user", "sender_id": "x", "timestamp": float("nan")},
        {"event": "user", "sender_id": "x", "timestamp": 1e300},
        {"event": "user", "sender_id": "x", "timestamp": True},
        {"event": "action", "sender_id": "x", "timestamp": T0, "name": None},
        {"event": "slot", "sender_id": "x", "timestamp": T0},
        {"event": "user", "sender_id": "socketio:m", "timestamp": T0 + 9, "text": "ok",
         "parse_data": "not a dict", "metadata": None},
        {"event": "user", "sender_id": "socketio:m", "timestamp": T0 + 10, "text": None,
         "parse_data": {"intent": {"name": 5, "confidence": "high"}, "entities": [1, {"entity": None}, None]}},
        {"event": "bot", "sender_id": "socketio:m", "timestamp": T0 + 11, "text": None, "metadata": []},
        {"event": "slot", "sender_id": "socketio:m", "timestamp": T0 + 12, "name": "procedure_code", "value": {"a": 1}},
        {"event": "slot", "sender_id": "socketio:m", "timestamp": T0 + 13, "name": "csat_rating", "value": "bad"},
        {"event": "session_started", "sender_id": "socketio:m", "timestamp": T0},
        {"event": "restart", "sender_id": "socketio:m"},
        {"event": "followup", "sender_id": "socketio:m", "timestamp": T0, "name": "x"},
        {"event": "action", "sender_id": "socketio:m", "timestamp": T0 + 14, "name": "action_x", "metadata": "x"},
    ]  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="bot.conversations"):
        assert Recorder(db).apply([good, *bad]) == 7  # type: ignore[list-item]
    assert "bí mật" not in caplog.text
    turns = ConversationRecord(db).transcript("socketio:m")
    assert [t.text for t in turns] == ["bình thường", "ok", ""]
    assert turns[2].entities == () and turns[2].intent is None and turns[2].actions == ("action_x",)
    assert ConversationRecord(db).transcript("x") == []


def test_nothing_new_returns_zero(db: Engine) -> None:
    assert Recorder(db).apply([]) == 0
    assert Recorder(db).apply([{"event": "restart", "sender_id": "a", "timestamp": T0}]) == 0


def test_concurrent_recorders_apply_each_event_once(db: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    chats = [Chat(f"socketio:c{n}", T0 + n) for n in range(6)]
    events = [e for c in chats for e in c.exchange("đăng ký tạm trú", "Hồ sơ gồm tờ khai.", code="1.004194")]
    batches = [events[i : i + 7] for i in range(0, len(events), 7)]

    def deliver(_worker: int) -> int:  # each worker gets every batch, in order (redelivery to several)
        return sum(Recorder(db).apply(batch) for batch in batches)

    with ThreadPoolExecutor(3) as pool:
        counts = list(pool.map(deliver, range(3)))
    assert sum(counts) == len(events)
    record = ConversationRecord(db)
    for chat in chats:
        (turn,) = record.transcript(chat.sender_id)
        assert (turn.reply, turn.actions, turn.procedure_code) == (
            "Hồ sơ gồm tờ khai.", ("action_answer_procedure",), "1.004194")  # fmt: skip


def test_control_characters_and_lone_surrogates_do_not_break_a_batch(db: Engine) -> None:
    chat = Chat("socketio:u")
    weird = "a\x00b\ud800c\x07d"
    events = [
        chat.user(weird, intent="ask\x00_fee", entities=[{"entity": "x\ud800", "value": weird}], sealed="s\x00"),
        chat.action("action\x00_x"),
        chat.slot("procedure_code", "1.00\x004194"),
        chat.slot("csat_comment", weird),
        chat.bot(weird),
        chat.bot(weird, agent="l\x00an"),
        {"event": "user", "sender_id": "bad\x00id", "timestamp": T0, "text": "x"},
    ]
    assert Recorder(db).apply(events) == 6
    turns = ConversationRecord(db).transcript("socketio:u")
    assert [(t.text, t.reply, t.agent) for t in turns] == [("abcd", "abcd", None), ("abcd", None, "lan")]
    assert (turns[0].intent, turns[0].actions, turns[0].procedure_code, turns[0].sealed) == (
        "ask_fee", ("action_x",), "1.004194", "s")  # fmt: skip
    summary = ConversationRecord(db).get("socketio:u")
    assert summary is not None and summary.rating_comment == "abcd"
