"""Personal data masked at rest by the tracker store (bot.runtime.tracker_store), field by field.

What Rasa stores for a turn: the user message's text and parse data (intent ranking, entities,
response selector, the parse data's copy of the metadata), slot values of any shape, bot messages
(text, buttons, custom payloads, metadata) and other events' metadata. Every one of them is masked,
while what the dialogue runs on (intents, procedure and dossier codes, the form's slots) is left as
it was. The same redacted events reach the event broker (in memory, and RabbitMQ when it runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
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

from bot.privacy import mask_text, unseal
from bot.privacy.masking import _MAY_HOLD_PII, _for_matching
from bot.runtime.tracker_store import SEALED_KEY, PrivateSQLTrackerStore, redact

CODE = "000.00.00.H99-261120-0001"
PHONE = "0912345678"
CCCD = "001099012345"
EMAIL = "nguyen.van.a@gmail.com"
SECRETS = (PHONE, "912345678", CCCD, "1099012345", EMAIL, "nguyen.van.a")
REQUESTER = "ip:0123450987abcdef0123450987abcdef"  # a keyed hash: its digits are not a phone
_DIGIT_RUN = re.compile(r"\d{7,}")


def _clear_values_in(value: Any) -> list[str]:
    """The clear values in ``value`` rendered as stored (JSON), timestamps left out."""
    if isinstance(value, Event):
        value = value.as_dict()
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "timestamp"}
    raw = json.dumps(value, ensure_ascii=False)
    return [s for s in SECRETS if s in raw]


def _message(text: str = f"cccd {CCCD}, sđt {PHONE}, email {EMAIL}", intent: str = "out_of_scope") -> UserUttered:
    event = UserUttered(
        text,
        {"name": intent, "confidence": 0.61},
        [
            {
                "entity": "phone",
                "value": PHONE,
                "start": 21,
                "end": 31,
                "extractor": "RegexEntityExtractor",
                "text": PHONE,
            },
            {
                "entity": "email",
                "value": EMAIL,
                "start": 39,
                "end": 61,
                "extractor": "DIETClassifier",
                "confidence_entity": 0.9,
            },
            {
                "entity": "id_number",
                "value": 1099012345,
                "extractor": "DucklingEntityExtractor",
                "additional_info": {"value": 1099012345, "raw": CCCD},
            },
        ],
        metadata={"requester": REQUESTER, "channel": "telegram", "contact": {"phone_number": PHONE}},
        input_channel="telegram_ptb",
    )
    event.parse_data["intent_ranking"] = [{"name": intent, "confidence": 0.61}, {"name": "greet", "confidence": 0.2}]
    event.parse_data["response_selector"] = {
        "all_retrieval_intents": ["faq"],
        "default": {
            "response": {"responses": [{"text": f"gọi {PHONE}"}], "intent_response_key": "faq/contact",
                         "utter_action": "utter_faq/contact", "confidence": 0.4},
            "ranking": [{"intent_response_key": "faq/contact", "confidence": 0.4}],
        },
    }  # fmt: skip
    event.parse_data["text_tokens"] = [[0, 4], [5, 17]]
    return event


# -- user messages ---------------------------------------------------------------------------------


def test_user_message_text_parse_data_and_metadata_are_masked() -> None:
    event = _message()
    redact([event])
    assert _clear_values_in(event) == [], json.dumps(event.as_dict(), ensure_ascii=False)
    assert event.text == "cccd *********345, sđt 091*****78, email n***@gmail.com"
    assert event.parse_data["text"] == event.text and "text_tokens" not in event.parse_data
    phone, email, number = event.parse_data["entities"]
    assert (phone["value"], phone["text"], email["value"]) == ("091*****78", "091*****78", "n***@gmail.com")
    assert number["value"] == "*******345" and number["additional_info"]["raw"] == "*********345"
    assert "091*****78" in json.dumps(event.parse_data["response_selector"], ensure_ascii=False)
    assert event.metadata["contact"] == {"phone_number": "091*****78"}
    assert event.parse_data["metadata"]["contact"] == {"phone_number": "091*****78"}


def test_what_the_dialogue_runs_on_is_unchanged() -> None:
    event = _message()
    redact([event])
    assert event.intent == {"name": "out_of_scope", "confidence": 0.61}
    assert event.parse_data["intent_ranking"] == [
        {"name": "out_of_scope", "confidence": 0.61},
        {"name": "greet", "confidence": 0.2},
    ]
    assert [e["entity"] for e in event.entities] == ["phone", "email", "id_number"]
    assert [(e.get("start"), e.get("end")) for e in event.entities] == [(21, 31), (39, 61), (None, None)]
    sel = event.parse_data["response_selector"]["default"]
    assert sel["response"]["intent_response_key"] == "faq/contact" and sel["ranking"][0]["confidence"] == 0.4
    assert event.metadata["requester"] == REQUESTER and event.metadata["channel"] == "telegram"
    assert event.input_channel == "telegram_ptb"


def test_the_original_is_sealed_not_kept_in_clear() -> None:
    typed = f"cccd {CCCD}, sđt {PHONE}, email {EMAIL}"
    event = _message(typed)
    redact([event])
    sealed = event.metadata[SEALED_KEY]
    assert not any(s in sealed for s in SECRETS)  # ciphertext: no clear value inside
    assert unseal(sealed) == typed


def test_a_message_without_personal_data_is_left_as_typed() -> None:
    event = UserUttered(
        "đăng ký tạm trú 1.004194 cần giấy tờ gì, hạn 26/11/2026",
        {"name": "ask_documents", "confidence": 0.97},
        [{"entity": "procedure", "value": "tạm trú", "start": 7, "end": 15}],
        metadata={"requester": REQUESTER},
    )
    before = json.dumps(event.as_dict(), ensure_ascii=False)
    redact([event])
    assert json.dumps(event.as_dict(), ensure_ascii=False) == before
    assert SEALED_KEY not in event.metadata


def test_dossier_flow_hides_the_digits_in_every_field() -> None:
    """The answer to "the last 4 digits": hidden in the text, the entities, the metadata, everywhere."""
    digits = UserUttered(
        "6789",
        {"name": "provide_phone_digits", "confidence": 0.99},
        [{"entity": "phone_last4", "value": "6789", "start": 0, "end": 4, "text": "6789"}],
        metadata={"requester": REQUESTER, "raw": "6789"},
    )
    digits.parse_data["response_selector"] = {"default": {"response": {"responses": [{"text": "6789"}]}}}
    events = [
        UserUttered(
            f"tra cứu hồ sơ {CODE}",
            {"name": "track_dossier"},
            [{"entity": "dossier_code", "value": CODE, "start": 14, "end": 39}],
        ),
        ActionExecuted("dossier_form"),
        ActiveLoop("dossier_form"),
        SlotSet("dossier_code", CODE),
        SlotSet("requested_slot", "phone_last4"),
        ActionExecuted("action_listen"),
        digits,
        SlotSet("phone_last4", "received"),
    ]
    redact(events)
    stored = json.dumps([{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in events])
    assert "6789" not in stored
    assert digits.text == "••••" and digits.entities == [] and digits.metadata["raw"] == "••••"
    assert digits.intent["name"] == "provide_phone_digits"
    assert digits.metadata["requester"] == REQUESTER  # a hash, not the digits: kept
    assert events[0].entities[0]["value"] == CODE and events[3].value == CODE and events[7].value == "received"


def test_text_that_cannot_hold_personal_data_skips_matching() -> None:
    """mask_text's fast path: every character read as a digit or an "@" for matching is in the class
    it checks first (over the whole of Unicode), so skipping the scans never skips personal data."""
    everything = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)
    probe = _for_matching(everything)
    assert len(probe) == len(everything)
    read_as = [i for i, ch in enumerate(probe) if ch in "0123456789@"]
    missed = [hex(ord(everything[i])) for i in read_as if not _MAY_HOLD_PII.match(everything[i])]
    assert missed == []
    assert mask_text("Dạ, thủ tục đăng ký tạm trú cần tờ khai CT01") == "Dạ, thủ tục đăng ký tạm trú cần tờ khai CT01"
    assert mask_text("sđt ⁰⁹¹²³⁴⁵⁶⁷⁸") != "sđt ⁰⁹¹²³⁴⁵⁶⁷⁸"  # superscript digits: no fast path


# -- slots -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"gọi {PHONE}", "gọi 091*****78"),
        ([PHONE, EMAIL], ["091*****78", "n***@gmail.com"]),
        (
            {"phone": PHONE, "more": {"email": EMAIL, "ids": [CCCD]}},
            {"phone": "091*****78", "more": {"email": "n***@gmail.com", "ids": ["*********345"]}},
        ),
        (912345678, "******678"),  # a phone that lost its leading 0, in a number slot
    ],
)
def test_slot_values_of_any_shape_are_masked(value: Any, expected: Any) -> None:
    event = SlotSet("contact", value)
    redact([event])
    assert event.value == expected
    assert _clear_values_in(event) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("procedure_code", "1.004222"),
        ("procedure_choices", ["1.004222", "1.004194", "2.000908"]),
        ("offered_intent", "ask_fee"),
        ("fallback_count", 2),
        ("dossier_code", CODE),
        ("verified_dossier", CODE),
        ("phone_last4", "received"),
        ("callback_phone", "received"),
        ("csat_rating", "5"),
        ("csat_target", "bot"),
        ("requested_slot", "phone_last4"),
        ("procedure_code", None),
        ("csat_comment", "rất tốt, hạn 26/11/2026, lệ phí 15.000 đồng"),
        ("session_started_metadata", {"requester": REQUESTER, "channel": "telegram", "language": "vi"}),
    ],
)
def test_slots_the_dialogue_reads_are_unchanged(name: str, value: Any) -> None:
    event = SlotSet(name, value)
    redact([event])
    assert event.value == value


def test_slot_holding_the_digits_or_a_bad_code_is_dropped() -> None:
    events = [SlotSet("phone_last4", "6789"), SlotSet("dossier_code", PHONE)]
    redact(events)
    assert [e.value for e in events] == [None, None]


# -- bot messages and other events -----------------------------------------------------------------


def test_bot_message_text_buttons_custom_and_metadata_are_masked() -> None:
    event = BotUttered(
        f"Em đã ghi số {PHONE} và email {EMAIL} ạ.",
        data={
            "buttons": [
                {"title": f"Gọi {PHONE}", "payload": f'/inform{{"phone": "{PHONE}"}}'},
                {"title": "Lệ phí", "payload": '/ask_fee{"procedure_code": "1.004194"}'},
            ],
            "custom": {"card": {"lines": [f"CCCD {CCCD}"]}},
        },
        metadata={"agent": "agent-lan", "model_id": "20261207-085353-brisk-quiz", "note": EMAIL},
    )
    redact([event])
    assert _clear_values_in(event) == [], event.as_dict()
    assert event.text == "Em đã ghi số 091*****78 và email n***@gmail.com ạ."
    assert event.data["buttons"][1] == {"title": "Lệ phí", "payload": '/ask_fee{"procedure_code": "1.004194"}'}
    assert event.metadata["agent"] == "agent-lan" and event.metadata["model_id"] == "20261207-085353-brisk-quiz"


def test_a_staff_reply_is_masked_and_not_kept_in_the_bot_text_cache() -> None:
    """The bot's own replies are cached once masked; what a staff member typed is not kept in memory."""
    from bot.runtime.tracker_store import _mask_bot_text

    typed = f"Em đã ghi số {PHONE} của anh ạ ({uuid.uuid4().hex})."
    event = BotUttered(typed, metadata={"agent": "agent-lan"})
    before = _mask_bot_text.cache_info().currsize  # type: ignore[attr-defined]
    redact([event])
    assert event.text.startswith("Em đã ghi số 091*****78 của anh ạ")
    assert _mask_bot_text.cache_info().currsize == before  # type: ignore[attr-defined]


def test_other_events_metadata_entities_and_action_text_are_masked() -> None:
    events = [
        SessionStarted(metadata={"requester": REQUESTER, "contact": PHONE}),
        EntitiesAdded([{"entity": "email", "value": EMAIL}]),
        ActionExecuted(action_text=f"số {PHONE}"),
        ActionExecuted("action_listen", metadata={"model_id": "m1", "assistant_id": "a1"}),
    ]
    redact(events)
    assert all(_clear_values_in(e) == [] for e in events), [e.as_dict() for e in events]
    assert events[0].metadata["requester"] == REQUESTER
    assert events[3].metadata == {"model_id": "m1", "assistant_id": "a1"}


def test_stored_events_are_not_masked_twice() -> None:
    """Events read back from the store were redacted when saved: a sealed original is not resealed."""
    first = _message()
    redact([first])
    sealed = first.metadata[SEALED_KEY]
    redact([first])  # not yet marked stored: masking an already masked text changes nothing
    assert first.metadata[SEALED_KEY] == sealed


# -- property: no phone survives in any slot shape ------------------------------------------------

_WORDS = st.sampled_from(["số", "của tôi", "gọi", "hồ sơ", "1.004222", "26/11/2026", "", "ạ"])


@st.composite
def _phone_written(draw: st.DrawFn) -> tuple[str, str]:
    """(the 9 digits after the trunk 0, a phone as someone writes it)."""
    rest = draw(st.sampled_from("35789")) + draw(st.text("0123456789", min_size=8, max_size=8))
    prefix = draw(st.sampled_from(["0", "+84", "84", "+84 ", "(+84) "]))
    sep = draw(st.sampled_from(["", " ", ".", "-"]))
    grouped = sep.join([rest[:2], rest[2:5], rest[5:]]) if sep else rest
    return rest, f"{draw(_WORDS)} {prefix}{grouped} {draw(_WORDS)}".strip()


_SHAPES = st.recursive(
    _phone_written().map(lambda p: ("text", p)),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: ("list", xs)),
        st.dictionaries(st.sampled_from(["a", "b", "phone"]), inner, min_size=1, max_size=3).map(lambda d: ("dict", d)),
    ),
    max_leaves=6,
)


def _build(shape: Any, tails: list[str]) -> Any:
    kind, body = shape
    if kind == "text":
        tails.append(body[0])
        return body[1]
    if kind == "list":
        return [_build(s, tails) for s in body]
    return {k: _build(s, tails) for k, s in body.items()}


@settings(max_examples=200, deadline=None)
@given(shape=_SHAPES)
def test_property_no_phone_survives_in_any_slot_shape(shape: Any) -> None:
    tails: list[str] = []
    event = SlotSet("anything", _build(shape, tails))
    redact([event])
    stored = json.dumps(event.value, ensure_ascii=False)
    runs = "|".join(_DIGIT_RUN.findall(re.sub(r"(?<=\d)[ .\-)(+]+(?=\d)", "", stored)))
    assert not any(tail in runs for tail in tails), stored


@settings(max_examples=200, deadline=None)
@given(value=st.recursive(
    st.one_of(st.text(st.characters(blacklist_categories=("Nd", "Cs")), max_size=20).filter(lambda t: "@" not in t),
              st.integers(-99_999_999, 99_999_999), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
))  # fmt: skip
def test_property_values_without_digits_or_at_sign_are_unchanged(value: Any) -> None:
    """Slot values that cannot hold personal data come back as they were (booleans, small numbers, words)."""
    from bot.text import nfc

    event = SlotSet("anything", value)
    redact([event])

    def normalised(v: Any) -> Any:  # masking returns text in NFC
        if isinstance(v, str):
            return nfc(v)
        if isinstance(v, list):
            return [normalised(x) for x in v]
        if isinstance(v, dict):
            return {k: normalised(x) for k, x in v.items()}
        return v

    assert event.value == normalised(value)


# -- what is stored and what is published -----------------------------------------------------------


class _Captured(EventBroker):
    """An event broker that keeps what it is given."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(json.loads(json.dumps(event)))

    def is_ready(self) -> bool:
        return True


def _turns() -> list[Event]:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(metadata={"requester": REQUESTER}),
        ActionExecuted("action_listen"),
        _message(),
        SlotSet("contact", {"phone": PHONE, "email": EMAIL}),
        ActionExecuted("action_out_of_scope"),
        BotUttered(f"Dạ, số {PHONE} đã được ghi ạ.", data={"buttons": [{"title": EMAIL, "payload": "/x"}]}),
        ActionExecuted("action_listen"),
    ]


def test_saved_rows_and_published_events_hold_no_clear_value(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    broker = _Captured()
    store = PrivateSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db), event_broker=broker)

    async def scenario() -> DialogueStateTracker | None:
        await store.save(DialogueStateTracker.from_events("telegram_ptb:1", _turns()[:4]))
        tracker = await store.retrieve("telegram_ptb:1")
        assert tracker is not None
        for event in _turns()[4:]:
            tracker.update(event)
        await store.save(tracker)
        return await store.retrieve("telegram_ptb:1")

    loaded = asyncio.run(scenario())
    assert loaded is not None
    rows = sqlite3.connect(db).execute("SELECT id, type_name, intent_name, action_name, data FROM events").fetchall()
    assert len(rows) == len(_turns())
    for row in rows:
        assert _clear_values_in(json.loads(row[4])) == [], row
        assert not any(s in str(row[:4]) for s in SECRETS), row
    assert len(broker.published) == len(_turns())
    for body in broker.published:
        assert _clear_values_in(body) == [], body
    contact = next(e for e in loaded.events if isinstance(e, SlotSet) and e.key == "contact")
    assert contact.value == {"phone": "091*****78", "email": "n***@gmail.com"}
    assert loaded.latest_message is not None and loaded.latest_message.intent["name"] == "out_of_scope"


# -- the production broker: RabbitMQ ---------------------------------------------------------------

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672


def test_rabbitmq_messages_hold_no_clear_value(tmp_path: Path) -> None:
    """The production profile's path: the tracker store publishes through Rasa's Pika broker; every
    message on the queue is read back and scanned. Skipped when RabbitMQ is not running."""
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_HOST}:{RABBIT_PORT}: {type(exc).__name__}")
    import aio_pika
    from rasa.core.brokers.pika import PikaEventBroker

    suffix = uuid.uuid4().hex[:10]
    queue, exchange = f"test_pii_{suffix}", f"test-pii-exchange-{suffix}"
    url = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"

    async def scenario() -> list[dict[str, Any]]:
        broker = PikaEventBroker(
            RABBIT_HOST, "guest", "guest", port=RABBIT_PORT, queues=[queue], exchange_name=exchange,
            event_loop=asyncio.get_running_loop(), connection_attempts=1, raise_on_failure=True,
        )  # fmt: skip
        await broker.connect()
        store = PrivateSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "t.db"), event_broker=broker)
        try:
            await store.save(DialogueStateTracker.from_events("zalo:42", _turns()))
            while broker._background_tasks:
                await asyncio.gather(*list(broker._background_tasks))
        finally:
            await broker.close()
        connection = await aio_pika.connect(url)
        bodies: list[dict[str, Any]] = []
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            while (message := await declared.get(no_ack=True, fail=False)) is not None:
                bodies.append(json.loads(message.body))
            with contextlib.suppress(Exception):
                await declared.delete(if_unused=False, if_empty=False)
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
        return bodies

    bodies = asyncio.run(scenario())
    assert len(bodies) == len(_turns())
    for body in bodies:
        assert _clear_values_in(body) == [], body
    user = next(b for b in bodies if b["event"] == "user")
    assert user["text"] == "cccd *********345, sđt 091*****78, email n***@gmail.com"
    assert user["parse_data"]["intent"]["name"] == "out_of_scope"
