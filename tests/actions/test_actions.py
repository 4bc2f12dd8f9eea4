"""Every custom action, run as the action server runs it, against a real catalogue database."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.common
import actions.dossiers
import actions.fallback
import actions.procedures
from actions.dossiers import (
    ActionDossierStatus,
    ActionNotifyDossierUpdate,
    ActionSubscribeDossier,
    ActionUnsubscribeDossier,
    ValidateDossierForm,
)
from actions.fallback import ActionFallbackLadder, ActionOutOfScope
from actions.procedures import ActionAnswerProcedure
from bot.answers import ProcedureAdvisor
from bot.catalog.loader import load_curated
from bot.catalog.service import ProcedureCatalog
from bot.db import make_engine
from bot.db.schema import ensure_schema

CITATION = re.compile(r"Mã thủ tục: \d\.\d{6} · Nguồn: https?://\S+ · Cập nhật: \d{2}/\d{2}/\d{4}")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcedureCatalog]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('actions') / 'bot.db'}")
    ensure_schema(engine)
    load_curated(engine=engine)
    yield ProcedureCatalog(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def _services(catalog: ProcedureCatalog, monkeypatch: pytest.MonkeyPatch, engine: Any) -> None:
    monkeypatch.setattr(actions.procedures, "advisor", lambda: ProcedureAdvisor(catalog))
    monkeypatch.setattr(actions.common, "advisor", lambda: ProcedureAdvisor(catalog))
    from bot.dossiers.demo import seed_demo
    from bot.dossiers.service import build_lookup

    seed_demo(engine)
    lookup = build_lookup(engine)
    monkeypatch.setattr(actions.dossiers, "lookup", lambda: lookup)


def tracker(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    ranking: list[dict[str, Any]] | None = None,
    sender: str = "citizen-1",
) -> Tracker:
    message = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
    }
    events = [{"event": "user", "text": text, "parse_data": message, "input_channel": "rest"}]
    return Tracker(sender, slots or {}, message, events, False, None, {}, "action_listen")


def run(action: Any, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages, events


def slot(events: list[dict[str, Any]], name: str) -> Any:
    return next(e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name)


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def proc_entity(value: str) -> list[dict[str, Any]]:
    return [{"entity": "procedure", "value": value, "start": 0, "end": len(value)}]


def test_documents_are_cited_and_remember_the_procedure() -> None:
    messages, events = run(
        ActionAnswerProcedure(), tracker("đăng ký tạm trú cần gì", "ask_documents", proc_entity("đăng ký tạm trú"))
    )
    text = text_of(messages)
    assert "1.004194" in text and CITATION.search(text)
    assert slot(events, "procedure_code") == "1.004194"


def test_follow_up_uses_the_previous_procedure() -> None:
    messages, events = run(
        ActionAnswerProcedure(), tracker("còn lệ phí thì sao?", "ask_fee", slots={"procedure_code": "1.004222"})
    )
    text = text_of(messages)
    assert "1.004222" in text and "đồng" in text
    assert slot(events, "procedure_code") == "1.004222"


@pytest.mark.parametrize("intent", ["ask_processing_time", "ask_where", "ask_how_online", "ask_procedure_info"])
def test_each_question_is_answered_with_a_citation(intent: str) -> None:
    messages, _ = run(ActionAnswerProcedure(), tracker("đổi gplx", intent, proc_entity("đổi gplx")))
    text = text_of(messages)
    assert CITATION.search(text), text
    assert "3.000347" in text


def test_fee_free_procedure_says_so_plainly() -> None:
    messages, _ = run(
        ActionAnswerProcedure(), tracker("đăng ký kết hôn có mất tiền không", "ask_fee", proc_entity("đăng ký kết hôn"))
    )
    text = text_of(messages)
    assert "1.000894" in text and CITATION.search(text)
    assert text.startswith("Dạ, thủ tục ") and "không mất phí, lệ phí ạ." in text, text
    assert "đồng" not in text and "•" not in text  # one plain sentence, no per-method fee list


def test_fee_free_only_in_some_cases_is_not_called_free() -> None:
    # Registering a death is free on time; late, the province sets the fee: the answer keeps both apart.
    messages, _ = run(ActionAnswerProcedure(), tracker("khai tử có mất tiền không", "ask_fee", proc_entity("khai tử")))
    text = text_of(messages)
    assert "1.000656" in text and CITATION.search(text)
    assert "miễn phí" in text and "mức thu không cố định" in text
    assert "không mất phí" not in text


def test_code_button_and_case_button() -> None:
    t = tracker(
        "/ask_documents",
        "ask_documents",
        [{"entity": "procedure_code", "value": "1.004222"}, {"entity": "case", "value": "1"}],
    )
    messages, events = run(ActionAnswerProcedure(), t)
    assert "1.004222" in text_of(messages)
    assert slot(events, "procedure_code") == "1.004222"


def test_ambiguous_mention_offers_at_most_four_buttons() -> None:
    messages, events = run(
        ActionAnswerProcedure(), tracker("bằng lái bao nhiêu tiền", "ask_fee", proc_entity("bằng lái"))
    )
    buttons = [b for m in messages for b in (m.get("buttons") or [])]
    assert 2 <= len(buttons) <= 4, messages
    assert all(b["payload"].startswith("/ask_fee{") for b in buttons)
    assert slot(events, "procedure_code") is None


def test_unknown_procedure_points_to_the_portal_and_a_person() -> None:
    messages, _ = run(
        ActionAnswerProcedure(), tracker("mua vé máy bay", "ask_documents", proc_entity("mua vé máy bay"))
    )
    text = text_of(messages)
    assert "dichvucong.gov.vn" in text
    assert any(b["payload"] == "/request_human" for m in messages for b in (m.get("buttons") or []))


def test_no_procedure_at_all_asks_which() -> None:
    messages, _ = run(ActionAnswerProcedure(), tracker("cần giấy tờ gì", "ask_documents"))
    assert "thủ tục nào" in text_of(messages)


def test_affirm_after_overview_shows_documents() -> None:
    t = tracker("có", "affirm", slots={"procedure_code": "1.001193", "offered_intent": "ask_documents"})
    messages, _ = run(ActionAnswerProcedure(), t)
    assert "1.001193" in text_of(messages)


def test_long_replies_are_split() -> None:
    messages, _ = run(
        ActionAnswerProcedure(), tracker("thường trú cần gì", "ask_documents", proc_entity("đăng ký thường trú"))
    )
    assert all(len(m.get("text") or "") <= 1200 for m in messages)


def test_fallback_ladder_guesses_then_offers_a_person() -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "ask_fee", "confidence": 0.4},
        {"name": "ask_documents", "confidence": 0.3},
    ]
    messages, events = run(ActionFallbackLadder(), tracker("abc", "nlu_fallback", ranking=ranking))
    assert "Ý anh/chị là" in text_of(messages)
    assert [b["payload"] for b in messages[-1]["buttons"]][:2] == ["/ask_fee", "/ask_documents"]
    assert slot(events, "fallback_count") == 1
    messages, events = run(
        ActionFallbackLadder(), tracker("xyz", "nlu_fallback", ranking=ranking, slots={"fallback_count": 1})
    )
    assert any(b["payload"].startswith("/request_human") for b in messages[-1]["buttons"])
    assert slot(events, "fallback_count") == 0


def test_dossier_form_validation() -> None:
    form = ValidateDossierForm()
    d = CollectingDispatcher()
    t = tracker("x", "track_dossier")
    assert form.validate_dossier_code("000.00.00.h99 261120 0001", d, t, {}) == {
        "dossier_code": "000.00.00.H99-261120-0001"
    }
    assert form.validate_dossier_code("12345", d, t, {}) == {"dossier_code": None}
    assert "000.00.12.H61-240831-0001" in d.messages[-1]["text"]  # the expected format, with an example
    # The slot says only that the digits were given: they stay in the message, never in a slot.
    asking = tracker("số cuối 6789", "provide_phone_digits", slots={"requested_slot": "phone_last4"})
    assert asyncio.run(form.extract_phone_last4(d, asking, {})) == {"phone_last4": "received"}
    declined = tracker("abc", "deny", slots={"requested_slot": "phone_last4"})
    assert asyncio.run(form.extract_phone_last4(d, declined, {})) == {}
    garbled = tracker("abc", "provide_phone_digits", slots={"requested_slot": "phone_last4"})
    assert asyncio.run(form.extract_phone_last4(d, garbled, {})) == {"phone_last4": "invalid"}
    assert asyncio.run(form.extract_phone_last4(d, tracker("6789", "provide_phone_digits"), {})) == {}
    assert form.validate_phone_last4("received", d, t, {}) == {"phone_last4": "received"}
    assert form.validate_phone_last4("invalid", d, t, {}) == {"phone_last4": None}
    assert "4 chữ số cuối" in d.messages[-1]["text"]


def test_dossier_status_verified_then_subscribe_then_unsubscribe() -> None:
    code = "000.00.00.H99-261120-0001"
    messages, events = run(
        ActionDossierStatus(),
        tracker("6789", "provide_phone_digits", slots={"dossier_code": code, "phone_last4": "received"}),
    )
    text = text_of(messages)
    assert "Đang xử lý" in text and "01/12/2026" in text
    assert "NGUYỄN VĂN DEMO" not in text.upper()  # never the applicant's name
    assert slot(events, "phone_last4") is None and slot(events, "verified_dossier") == code
    messages, _ = run(
        ActionSubscribeDossier(), tracker("báo cho tôi", "subscribe_dossier", slots={"verified_dossier": code})
    )
    assert code in text_of(messages)
    messages, _ = run(ActionUnsubscribeDossier(), tracker("hủy theo dõi", "unsubscribe_dossier"))
    assert "hủy theo dõi" in text_of(messages)


def test_dossier_status_wrong_digits_reveals_nothing() -> None:
    code = "000.00.00.H99-261120-0001"
    messages, events = run(
        ActionDossierStatus(),
        tracker("1111", "provide_phone_digits", slots={"dossier_code": code}, sender="stranger"),
    )
    text = text_of(messages)
    assert "Đang xử lý" not in text and "chưa khớp" in text
    assert not any(e.get("name") == "verified_dossier" for e in events)


def test_subscribe_without_verification_is_refused() -> None:
    messages, _ = run(
        ActionSubscribeDossier(),
        tracker(
            "báo cho tôi",
            "subscribe_dossier",
            slots={"dossier_code": "000.00.00.H99-261120-0001"},
            sender="someone-else",
        ),
    )
    assert "xác minh" in text_of(messages)


def test_pushed_update_tells_status_and_next_step_to_a_subscriber_only() -> None:
    code = "000.00.00.H99-261120-0001"
    ents = [{"entity": "dossier_code", "value": code}, {"entity": "status", "value": "9"}]
    messages, _ = run(ActionNotifyDossierUpdate(), tracker("", "EXTERNAL_dossier_update", ents, sender="follower"))
    assert messages == [], "trigger_intent can name any conversation: it must follow the dossier"
    run(ActionDossierStatus(), tracker("6789", "provide_phone_digits", slots={"dossier_code": code}, sender="follower"))
    run(ActionSubscribeDossier(), tracker("báo cho tôi", "subscribe_dossier", slots={"verified_dossier": code},
                                          sender="follower"))  # fmt: skip
    messages, _ = run(ActionNotifyDossierUpdate(), tracker("", "EXTERNAL_dossier_update", ents, sender="follower"))
    assert "Đã xử lý xong" in text_of(messages)


@pytest.mark.parametrize(
    ("code", "status"),
    [("000.00.00.H99-261120-0001", "99"), ("000.00.00.H99-261120-0001", "²"), ("xem http://evil.example", "9"),
     ("000.00.00.H99-261120-0001", "\ud800"), (5, ["9"])],
)  # fmt: skip
def test_malformed_push_says_nothing(code: Any, status: Any) -> None:
    ents = [{"entity": "dossier_code", "value": code}, {"entity": "status", "value": status}]
    messages, _ = run(ActionNotifyDossierUpdate(), tracker("", "EXTERNAL_dossier_update", ents))
    assert messages == []


def test_a_procedure_named_plainly_without_an_entity_is_answered() -> None:
    messages, events = run(
        ActionAnswerProcedure(), tracker("cho em hỏi thủ tục đăng ký kết hôn cần giấy tờ gì ạ", "ask_documents")
    )
    text = text_of(messages)
    assert "1.000894" in text and CITATION.search(text), text
    assert slot(events, "procedure_code") == "1.000894"


def test_a_code_typed_in_the_text_is_answered() -> None:
    messages, events = run(ActionAnswerProcedure(), tracker("thủ tục 1.004222 cần giấy tờ gì", "ask_documents"))
    assert "1.004222" in text_of(messages) and slot(events, "procedure_code") == "1.004222"


def test_an_unknown_topic_without_an_entity_still_asks_which() -> None:
    messages, events = run(ActionAnswerProcedure(), tracker("mua vé máy bay cần giấy tờ gì", "ask_documents"))
    assert "thủ tục nào" in text_of(messages)
    assert slot(events, "procedure_code") is None


def test_name_starting_with_thu_tuc_is_not_repeated() -> None:
    messages, _ = run(ActionAnswerProcedure(), tracker("đăng ký kết hôn mất bao lâu", "ask_processing_time"))
    text = text_of(messages)
    assert "1.000894" in text and "thủ tục đăng ký kết hôn" in text
    assert "thủ tục Thủ tục" not in text and "Thủ tục Thủ tục" not in text


# --- Issue 10: questions the NLU did not read as procedure questions, several asks, conditions, English ---


def test_a_bare_procedure_code_is_answered_not_a_dossier_prompt() -> None:
    messages, events = run(ActionDossierStatus(), tracker("1.004222", "provide_phone_digits"))
    text = text_of(messages)
    assert "1.004222" in text and CITATION.search(text) and "mã hồ sơ" not in text
    assert slot(events, "procedure_code") == "1.004222"


def test_markup_outside_a_lookup_is_not_a_dossier_prompt() -> None:
    messages, _ = run(ActionDossierStatus(), tracker("<script>alert(1)</script>", "provide_phone_digits"))
    text = text_of(messages)
    assert "mã hồ sơ" not in text and "4 số" not in text
    assert any(b["payload"].startswith("/request_human") for b in messages[-1]["buttons"])


def test_out_of_scope_still_answers_a_procedure_it_names() -> None:
    messages, events = run(ActionOutOfScope(), tracker("thủ tục đăng ký kết hôn cần những giấy tờ gì", "out_of_scope"))
    assert "1.000894" in text_of(messages) and slot(events, "procedure_code") == "1.000894"


def test_out_of_scope_chat_gets_the_polite_refusal() -> None:
    messages, events = run(ActionOutOfScope(), tracker("hôm nay trời đẹp quá", "out_of_scope"))
    assert "chưa hỗ trợ" in text_of(messages) and events == []


def test_out_of_scope_question_about_something_else_points_to_the_portal() -> None:
    messages, _ = run(ActionOutOfScope(), tracker("Mua vé tàu Tết về quê thì đặt ở đâu cho rẻ?", "out_of_scope"))
    text = text_of(messages)
    assert "dichvucong.gov.vn" in text and not re.search(r"\d\.\d{6}", text)


def test_several_asks_get_one_reply_in_order_with_one_citation() -> None:
    message = "Đổi bằng lái hết hạn hồ sơ gồm những gì, lệ phí bao nhiêu?"
    t = tracker(message, "ask_documents", proc_entity("đổi bằng lái"))
    messages, _ = run(ActionAnswerProcedure(), t)
    text = text_of(messages)
    assert text.index("chuẩn bị") < text.index("135.000")
    assert len(CITATION.findall(text)) == 1 and "3.000347" in text


def test_conditions_are_answered_from_the_record_with_the_legal_basis() -> None:
    t = tracker("khai sinh cho con quá hạn có bị phạt không", "ask_conditions", proc_entity("khai sinh"))
    messages, _ = run(ActionAnswerProcedure(), t)
    text = text_of(messages)
    assert "60 ngày" in text and "60/2014/QH13" in text and CITATION.search(text)


def test_a_question_in_english_is_answered_in_english() -> None:
    t = tracker("How much does the judicial record certificate cost?", "out_of_scope")
    messages, events = run(ActionOutOfScope(), t)
    text = text_of(messages)
    assert "3.000333" in text and "Vietnamese" in text and "200.000" in text
    assert slot(events, "procedure_code") == "3.000333"


def test_the_ladder_keeps_the_topic_and_guesses_only_questions() -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "greet", "confidence": 0.3},
        {"name": "subscribe_dossier", "confidence": 0.2},
    ]
    t = tracker("ưm cái đó thì sao", "nlu_fallback", ranking=ranking, slots={"procedure_code": "1.004194"})
    messages, events = run(ActionFallbackLadder(), t)
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert all(p.startswith(("/ask_", "/request_human")) for p in payloads), payloads
    assert any("1.004194" in p for p in payloads)
    assert "procedure_code" not in {e.get("name") for e in events}  # the topic survives the miss


def test_the_ladder_answers_a_follow_up_about_the_topic() -> None:
    t = tracker("quá hạn thì sao", "nlu_fallback", ranking=[{"name": "nlu_fallback", "confidence": 0.5}],
                slots={"procedure_code": "1.001193"})  # fmt: skip
    messages, events = run(ActionFallbackLadder(), t)
    assert "60 ngày" in text_of(messages) and slot(events, "procedure_code") == "1.001193"


def test_a_follow_up_typed_instead_of_a_click_gets_the_choices_again() -> None:
    messages, events = run(
        ActionAnswerProcedure(), tracker("bằng lái bao nhiêu tiền", "ask_fee", proc_entity("bằng lái"))
    )
    offered = slot(events, "procedure_choices")
    assert offered and len(offered.split()) >= 2
    t = tracker("mất bao lâu", "ask_processing_time", slots={"procedure_choices": offered})
    messages, events = run(ActionAnswerProcedure(), t)
    payloads = [b["payload"] for b in messages[-1]["buttons"]]
    assert payloads and all(p.startswith("/ask_processing_time{") for p in payloads)
    assert {c for p in payloads for c in re.findall(r"\d\.\d{6}", p)} == set(offered.split())


def test_a_code_the_catalogue_does_not_hold_points_to_the_portal() -> None:
    for action, intent in ((ActionDossierStatus(), "provide_phone_digits"), (ActionAnswerProcedure(), "ask_documents")):
        messages, _ = run(action, tracker("thủ tục 9.999999 cần gì", intent))
        text = text_of(messages)
        assert "9.999999" in text and "dichvucong.gov.vn" in text and "mã hồ sơ" not in text, text
