"""What every channel checks on the way in (bot.channels.inbound)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.inbound import (
    clean_text,
    client_address,
    conversation_id,
    platform_user_id,
    requester_key,
    too_long,
    too_long_reply,
    valid_sender,
)
from bot.settings import settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  xin chào  ", "xin chào"),
        ("a\x00b\x1bc", "abc"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        # Only the server may trigger EXTERNAL_ intents (through the authenticated API).
        ('/EXTERNAL_dossier_update{"status": "9"}', 'EXTERNAL_dossier_update{"status": "9"}'),
        ("/ external_dossier_update", "external_dossier_update"),
        # Our own buttons keep working.
        ('/ask_documents{"procedure_code": "1.004222"}', '/ask_documents{"procedure_code": "1.004222"}'),
        ("/greet", "/greet"),
        # Malformed, deep or surrogate-carrying payloads become plain words.
        ('/ask_documents{"case": ', 'ask_documents{"case":'),
        ('/ask_documents{"a": [[[[[1]]]]]}', 'ask_documents{"a": [[[[[1]]]]]}'),
        ('/ask_documents{"case": "\\ud800"}', 'ask_documents{"case": "\\ud800"}'),
        # Only the domain's intents and entities: Rasa would print anything else whole in a warning.
        ("/6789", "6789"),
        ("/sdt 0912345678", "sdt 0912345678"),
        ('/ask_fee{"phone_last4": "6789"}', 'ask_fee{"phone_last4": "6789"}'),
        ('/ask_fee{"procedure_code": ["1.004222"]}', 'ask_fee{"procedure_code": ["1.004222"]}'),
        ("/no_such_intent", "no_such_intent"),
        # Digits typed on a full-width or another script's keyboard.
        ("６７８９", "6789"),
        ("٦٧٨٩", "6789"),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@given(st.text(max_size=300))
def test_clean_text_never_returns_surrogates_or_server_intents(raw: str) -> None:
    text = clean_text(raw)
    assert not any("\ud800" <= ch <= "\udfff" for ch in text)
    assert not text.lower().lstrip().startswith("/external_")
    text.encode("utf-8")  # always encodable


@pytest.mark.parametrize(
    ("sender", "ok"),
    [("me", True), ("a" * 128, True), ("user-1@web:x.y", True), ("", False), ("a" * 129, False), (None, False),
     (5, False), (["x"], False), ("tab\there", False), ("\ud800", False), ("a b", False), ("a/b", False),
     ("tên", False)],
)  # fmt: skip
def test_valid_sender(sender: object, ok: bool) -> None:
    assert valid_sender(sender) is ok


def test_conversation_ids_are_namespaced_by_channel() -> None:
    assert conversation_id("rest", "me") == "rest:me"
    assert conversation_id("telegram_ptb", 42) == "telegram_ptb:42"
    assert platform_user_id("telegram_ptb:42", "telegram_ptb") == "42"
    assert platform_user_id("42", "telegram_ptb") == "42"  # already a platform id
    assert platform_user_id("rest:42", "telegram_ptb") == "rest:42"  # another channel's id is not stripped


def test_requester_key_is_keyed_and_stable() -> None:
    a = requester_key("ip", "203.0.113.9")
    assert a == requester_key("ip", "203.0.113.9") and a.startswith("rq:")
    assert a != requester_key("ip", "203.0.113.10") and a != requester_key("telegram_ptb", "203.0.113.9")
    assert "203.0.113.9" not in a


def test_client_address_ignores_forwarded_for_without_a_configured_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)  # the running test bot sets it for the session
    settings.cache_clear()
    assert client_address("127.0.0.1", "198.51.100.7") == "127.0.0.1"


def test_client_address_believes_only_trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1,::1")
    settings.cache_clear()
    # From the trusted local proxy: the nearest hop it appended.
    assert client_address("127.0.0.1", "198.51.100.7") == "198.51.100.7"
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.7") == "198.51.100.7"  # a client-forged first hop
    # Straight from a client: its header is ignored.
    assert client_address("198.51.100.7", "1.2.3.4") == "198.51.100.7"
    assert client_address("127.0.0.1", "not-an-ip") == "127.0.0.1"
    assert client_address("127.0.0.1", None) == "127.0.0.1"


def test_message_length_limit() -> None:
    limit = settings().core.max_message_chars
    assert not too_long("a" * limit) and too_long("a" * (limit + 1))
    assert "2.000" in too_long_reply() and too_long_reply().startswith("Dạ")


@pytest.mark.parametrize(
    "request_data",
    [None, 5, [], {}, {"session_id": "abc"}, {"session_id": "abc", "session_token": "\ud800"},
     {"session_id": "\ud800", "session_token": "x"}, {"session_id": "a" * 65, "session_token": "x"}],
)  # fmt: skip
def test_a_session_is_resumed_only_with_its_token(request_data: object) -> None:
    from bot.channels.socketio import _resumable, session_token

    assert _resumable(request_data) is None
    assert _resumable({"session_id": "abc", "session_token": session_token("abc")}) == "abc"
