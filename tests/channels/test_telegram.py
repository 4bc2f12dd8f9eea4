"""Telegram channel against a local fake Bot API (ptb's base_url) and a real sanic server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.channels.replies import from_rasa
from bot.channels.telegram import PAYLOADS, SECRET_HEADER, TelegramInput, TelegramOutput, keyboard_for
from tests.fakes import FakeRasa, FakeTelegram, run_aiohttp, run_channel, tg_callback_update, tg_text_update

TOKEN = "123456:TEST-token"
SECRET = "s3cret_Token-value"
CHAT = 5550001


@pytest.fixture
async def fake_tg() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram(TOKEN)
    async with run_aiohttp(fake.app()) as url:
        yield fake, f"{url}/bot"


@pytest.fixture
async def channel(fake_tg: tuple[FakeTelegram, str]) -> TelegramInput:
    _, base_url = fake_tg
    ch = TelegramInput.from_credentials({"token": TOKEN, "secret_token": SECRET, "base_url": base_url})
    assert isinstance(ch, TelegramInput)
    return ch


async def _post(url: str, body: dict[str, Any], secret: str | None) -> tuple[int, Any]:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_text_message_gets_reply_with_inline_keyboard(channel: TelegramInput, fake_tg: Any) -> None:
    fake, _ = fake_tg
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        status, _ = await _post(f"{base}/webhook", tg_text_update(1, CHAT, "đăng ký tạm trú cần giấy tờ gì"), SECRET)
    assert status == 200
    assert [m.text for m in rasa.received] == ["đăng ký tạm trú cần giấy tờ gì"]
    # The conversation id carries the channel; the requester is a keyed hash of the (signed) chat id.
    assert rasa.received[0].sender_id == f"telegram_ptb:{CHAT}"
    assert rasa.received[0].metadata["requester"].startswith("rq:")
    assert rasa.received[0].input_channel == "telegram_ptb"
    sent = fake.calls_to("sendMessage")
    assert len(sent) == 1
    assert int(sent[0]["chat_id"]) == CHAT
    assert "đăng ký tạm trú" in sent[0]["text"]
    rows = sent[0]["reply_markup"]["inline_keyboard"]
    assert [r[0]["text"] for r in rows] == ["Giấy tờ cần có", "Lệ phí"]
    assert rows[0][0]["callback_data"] == "/ask_documents"
    assert fake.calls_to("sendChatAction"), "typing indicator is sent"


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
async def test_forged_or_missing_secret_is_401_and_nothing_processed(
    channel: TelegramInput, fake_tg: Any, secret: str | None
) -> None:
    fake, _ = fake_tg
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        status, _ = await _post(f"{base}/webhook", tg_text_update(2, CHAT, "xin chào"), secret)
    assert status == 401
    assert rasa.received == []
    assert fake.calls == []


async def test_unconfigured_channel_is_disabled_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    ch = TelegramInput.from_credentials(None)
    assert isinstance(ch, TelegramInput) and not ch.enabled
    assert ch.get_output_channel() is None
    rasa = FakeRasa()
    async with run_channel(ch, rasa) as base:
        status, _ = await _post(f"{base}/webhook", tg_text_update(3, CHAT, "xin chào"), "anything")
    assert status == 503 and rasa.received == []


async def test_callback_query_is_answered_and_payload_forwarded(channel: TelegramInput, fake_tg: Any) -> None:
    fake, _ = fake_tg
    rasa = FakeRasa(reply={"text": "Dạ, hồ sơ gồm: tờ khai CT01."})
    long_payload = '/ask_fee{"procedure_code": "1.004194", "province": "79", "note": "một payload dài hơn 64 byte"}'
    data = PAYLOADS.encode(long_payload)
    assert data != long_payload and len(data.encode()) <= 64
    async with run_channel(channel, rasa) as base:
        status, _ = await _post(f"{base}/webhook", tg_callback_update(4, CHAT, "/ask_documents"), SECRET)
        status2, _ = await _post(f"{base}/webhook", tg_callback_update(5, CHAT, data), SECRET)
    assert status == status2 == 200
    assert [m.text for m in rasa.received] == ["/ask_documents", long_payload]
    assert [c["callback_query_id"] for c in fake.calls_to("answerCallbackQuery")] == ["cq4", "cq5"]
    assert fake.calls_to("sendMessage")[0]["text"] == "Dạ, hồ sơ gồm: tờ khai CT01."


async def test_group_chats_and_non_text_are_not_sent_to_rasa(channel: TelegramInput, fake_tg: Any) -> None:
    fake, _ = fake_tg
    rasa = FakeRasa()
    group = tg_text_update(6, -100200, "xin chào", chat_type="group")
    sticker = tg_text_update(7, CHAT, "")
    del sticker["message"]["text"]
    assert await channel.handle_update(group, rasa) == "ignored-group"
    assert await channel.handle_update(sticker, rasa) == "not-text"
    assert rasa.received == []
    assert "chỉ đọc được tin nhắn chữ" in fake.calls_to("sendMessage")[0]["text"]


async def test_start_command_becomes_greeting(channel: TelegramInput) -> None:
    rasa = FakeRasa()
    await channel.handle_update(tg_text_update(8, CHAT, "/start"), rasa)
    assert rasa.received[0].text == "xin chào"


async def test_push_through_get_output_channel_splits_long_text(channel: TelegramInput, fake_tg: Any) -> None:
    fake, _ = fake_tg
    output = channel.get_output_channel()
    assert isinstance(output, TelegramOutput)
    long_text = "\n\n".join(f"Đoạn {i}: " + "hồ sơ tạm trú " * 40 for i in range(12))
    assert len(long_text) > 4096
    await output.send_response(
        str(CHAT),
        {"text": long_text, "custom": {"links": [{"title": "Cổng DVC", "url": "https://dichvucong.gov.vn"}]}},
    )
    sent = fake.calls_to("sendMessage")
    assert len(sent) >= 2
    assert all(len(s["text"]) <= 4096 for s in sent)
    assert "reply_markup" not in sent[0]
    assert sent[-1]["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://dichvucong.gov.vn"


def test_keyboard_rows_buttons_then_links() -> None:
    reply = from_rasa(
        {"text": "Chọn", "buttons": [{"title": "A", "payload": "/a"}, {"title": "Web", "url": "https://x.vn"}]}
    )
    markup = keyboard_for(reply)
    assert markup is not None
    rows = markup.to_dict()["inline_keyboard"]
    assert rows == [[{"text": "A", "callback_data": "/a"}], [{"text": "Web", "url": "https://x.vn"}]]


async def test_polling_runner_forwards_updates_to_the_webhook(channel: TelegramInput, fake_tg: Any) -> None:
    from bot.channels.telegram_poll import poll

    fake, base_url = fake_tg
    fake.updates = [tg_text_update(20, CHAT, "thủ tục cấp lại căn cước"), tg_callback_update(21, CHAT, "/ask_fee")]
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        forwarded = await poll(
            token=TOKEN, secret=SECRET, forward_url=f"{base}/webhook", base_url=base_url, timeout=0, max_rounds=2
        )
    assert forwarded == 2
    assert [m.text for m in rasa.received] == ["thủ tục cấp lại căn cước", "/ask_fee"]
    offsets = [int(c.get("offset") or 0) for c in fake.calls_to("getUpdates")]
    assert offsets[0] == 0 and offsets[1] == 22, "the offset moves past forwarded updates only"
    assert fake.calls_to("deleteWebhook"), "a registered webhook would block getUpdates"
    assert len(fake.calls_to("sendMessage")) == 2


async def test_polling_runner_with_wrong_secret_stops_loudly(channel: TelegramInput, fake_tg: Any) -> None:
    from bot.channels.telegram_poll import poll

    fake, base_url = fake_tg
    fake.updates = [tg_text_update(30, CHAT, "xin chào")]
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        with pytest.raises(RuntimeError, match="TELEGRAM_SECRET_TOKEN"):
            await poll(token=TOKEN, secret="other", forward_url=f"{base}/webhook", base_url=base_url, max_rounds=1)
    assert rasa.received == []


async def test_set_webhook_sends_secret_and_update_types(fake_tg: Any) -> None:
    from bot.channels.telegram_poll import set_webhook

    fake, base_url = fake_tg
    assert await set_webhook(
        "https://tro-ly.example.gov.vn/webhooks/telegram_ptb/webhook", token=TOKEN, secret=SECRET, base_url=base_url
    )
    call = fake.calls_to("setWebhook")[0]
    assert call["secret_token"] == SECRET
    assert call["allowed_updates"] == ["message", "callback_query"]
