"""Listing, filtering and paging the conversation record (bot.conversations.query)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from bot.conversations import ConversationFilter, ConversationRecord, Recorder
from tests.conversations.conftest import DAY, T0, Chat


@pytest.fixture
def record(db: Engine) -> ConversationRecord:
    """Six conversations, one per day from 2024-12-07 (Vietnam), each with something to filter on."""
    events: list[dict] = []
    a = Chat("socketio:a", T0)  # plain, high confidence
    events += a.exchange("Lệ phí làm hộ chiếu?", "Lệ phí 200.000 đồng.", intent="ask_fee", code="2.001711")
    b = Chat("telegram_ptb:b", T0 + DAY)  # a fallback
    events += b.exchange("alo alo", "Xin lỗi, tôi chưa hiểu.", intent="nlu_fallback", confidence=0.2,
                         action="action_fallback_ladder")  # fmt: skip
    c = Chat("zalo:c", T0 + 2 * DAY)  # low confidence, rated 2
    events += [*c.exchange("thủ tục đăng ký tạm trú", "Hồ sơ gồm: tờ khai CT01.", intent="ask_documents",
                           confidence=0.45, code="1.004194"),
               c.slot("csat_rating", 2), c.slot("csat_target", "bot")]  # fmt: skip
    d = Chat("socketio:d", T0 + 3 * DAY)  # handed off, rated 5
    events += [*d.exchange("gặp cán bộ", "Đang chuyển.", intent="request_human"), d.pause(),
               d.bot("Tôi là Lan.", agent="lan"), d.slot("csat_rating", "5")]  # fmt: skip
    e = Chat("rest:e", T0 + 4 * DAY)  # the dossier notice only
    events += [e.user("/EXTERNAL_dossier_update", intent="EXTERNAL_dossier_update", confidence=1.0),
               e.bot("Hồ sơ đã có kết quả.")]  # fmt: skip
    f = Chat("socketio:f", T0 + 5 * DAY)  # several procedures
    events += f.exchange("cấp đổi căn cước", "Nộp tại công an.", intent="ask_documents", code="1.001") + f.exchange(
        "còn tạm trú", "Xem thủ tục tạm trú.", intent="ask_documents", code="1.004194"
    )
    Recorder(db).apply(events)
    return ConversationRecord(db)


def _ids(record: ConversationRecord, **kwargs: object) -> list[str]:
    return [s.sender_id for s in record.list(ConversationFilter(**kwargs)).items]  # type: ignore[arg-type]


def test_no_filter_lists_newest_first(record: ConversationRecord) -> None:
    page = record.list()
    assert [s.sender_id for s in page.items] == ["socketio:f", "rest:e", "socketio:d", "zalo:c", "telegram_ptb:b",
                                                 "socketio:a"]  # fmt: skip
    assert page.next_cursor is None
    assert page.items[0].procedures == ("1.001", "1.004194")


def test_filter_by_dates_in_vietnam(record: ConversationRecord) -> None:
    assert _ids(record, date_from=date(2024, 12, 9), date_to=date(2024, 12, 10)) == ["socketio:d", "zalo:c"]
    assert _ids(record, date_to=date(2024, 12, 7)) == ["socketio:a"]
    assert _ids(record, date_from=date(2024, 12, 12)) == ["socketio:f"]
    assert _ids(record, date_from=date(2024, 12, 13)) == []


def test_filter_by_channel(record: ConversationRecord) -> None:
    assert _ids(record, channel="socketio") == ["socketio:f", "socketio:d", "socketio:a"]
    assert _ids(record, channel="zalo") == ["zalo:c"]


def test_filter_by_fallback(record: ConversationRecord) -> None:
    assert _ids(record, fallback=True) == ["telegram_ptb:b"]
    assert "telegram_ptb:b" not in _ids(record, fallback=False) and len(_ids(record, fallback=False)) == 5


def test_filter_by_confidence_below(record: ConversationRecord) -> None:
    assert _ids(record, confidence_below=0.5) == ["zalo:c", "telegram_ptb:b"]
    assert _ids(record, confidence_below=0.1) == []


def test_filter_by_handed_off(record: ConversationRecord) -> None:
    assert _ids(record, handed_off=True) == ["socketio:d"]
    assert len(_ids(record, handed_off=False)) == 5


def test_filter_by_rating_at_most(record: ConversationRecord) -> None:
    assert _ids(record, rating_at_most=3) == ["zalo:c"]
    assert _ids(record, rating_at_most=5) == ["socketio:d", "zalo:c"]
    c = record.get("zalo:c")
    assert c is not None and (c.rating, c.rating_target) == (2, "bot")


def test_filter_by_procedure_code(record: ConversationRecord) -> None:
    assert _ids(record, procedure_code="1.004194") == ["socketio:f", "zalo:c"]
    assert _ids(record, procedure_code="9.999999") == []


def test_filter_by_intent(record: ConversationRecord) -> None:
    assert _ids(record, intent="ask_documents") == ["socketio:f", "zalo:c"]
    assert _ids(record, intent="EXTERNAL_dossier_update") == ["rest:e"]


def test_text_search_without_diacritics(record: ConversationRecord) -> None:
    assert _ids(record, text="dang ky tam tru") == ["zalo:c"]
    assert _ids(record, text="Đăng KÝ tạm trú") == ["zalo:c"]
    assert _ids(record, text="tam tru") == ["socketio:f", "zalo:c"]
    assert _ids(record, text="to khai CT01") == ["zalo:c"]  # in the bot's reply
    assert _ids(record, text="tam tru ho chieu") == []
    assert _ids(record, text="khongcochunay") == []


def test_filters_combine(record: ConversationRecord) -> None:
    assert _ids(record, channel="socketio", procedure_code="1.004194", text="can cuoc") == ["socketio:f"]
    assert _ids(record, channel="zalo", handed_off=True) == []


def test_keyset_pagination(db: Engine) -> None:
    events = []
    for n in range(7):
        chat = Chat(f"socketio:{n}", T0 + n * 60)
        events += chat.exchange(f"câu hỏi {n}", "trả lời")
    same = Chat("socketio:tie", T0 + 3 * 60)  # the same last activity as socketio:3
    events += same.exchange("câu hỏi 3", "trả lời")
    Recorder(db).apply(events)
    record = ConversationRecord(db)
    seen, cursor, sizes = [], None, []
    while True:
        page = record.list(limit=3, cursor=cursor)
        sizes.append(len(page.items))
        seen += [s.sender_id for s in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sizes == [3, 3, 2] and len(seen) == len(set(seen)) == 8
    assert [record.get(s).last_at for s in seen] == sorted((record.get(s).last_at for s in seen), reverse=True)  # type: ignore[union-attr]
    assert set(seen[3:5]) == {"socketio:3", "socketio:tie"}
    with pytest.raises(ValueError, match="cursor"):
        record.list(cursor="not-a-cursor!")
    with pytest.raises(ValueError, match="limit"):
        record.list(limit=0)


def test_a_page_after_new_activity_skips_nothing_that_did_not_move(db: Engine) -> None:
    chats = [Chat(f"rest:{n}", T0 + n * 60) for n in range(4)]
    Recorder(db).apply([e for c in chats for e in c.exchange("hỏi", "đáp")])
    record = ConversationRecord(db)
    first = record.list(limit=2)
    chats[0].t = T0 + 1000
    Recorder(db).apply(chats[0].exchange("hỏi lại", "đáp lại"))  # rest:0 moves to the top
    rest = record.list(limit=2, cursor=first.next_cursor)
    assert [s.sender_id for s in first.items] + [s.sender_id for s in rest.items] == ["rest:3", "rest:2", "rest:1"]


def test_transcript_order_and_turns_since(db: Engine) -> None:
    chat = Chat("socketio:t")
    other = Chat("socketio:other")
    Recorder(db).apply([*chat.exchange("một", "1"), *other.exchange("khác", "x"), *chat.exchange("hai", "2")])
    record = ConversationRecord(db)
    turns = record.transcript("socketio:t")
    assert [t.text for t in turns] == ["một", "hai"] and turns[0].id < turns[1].id
    assert record.turns_since("socketio:t", turns[0].id) == turns[1:]
    assert record.turns_since("socketio:t", turns[1].id) == []
    Recorder(db).apply([*chat.exchange("ba", "3")])
    new = record.turns_since("socketio:t", turns[1].id)
    assert [t.text for t in new] == ["ba"] and new[0].id > max(t.id for t in record.transcript("socketio:other"))


def test_common_values_give_the_same_answers(record: ConversationRecord, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value held by many conversations is checked row by row instead of listed: same results."""
    cases = [
        {"text": "dang ky tam tru"}, {"text": "tam tru"}, {"text": "tam tru ho chieu"}, {"procedure_code": "1.004194"},
        {"intent": "ask_documents"}, {"channel": "socketio", "procedure_code": "1.004194", "text": "can cuoc"},
    ]  # fmt: skip
    listed = [_ids(record, **case) for case in cases]
    monkeypatch.setattr("bot.conversations.query._RARE", 2)
    assert [_ids(record, **case) for case in cases] == listed
    monkeypatch.setattr("bot.conversations.query._RARE", 1)
    assert [_ids(record, **case) for case in cases] == listed
