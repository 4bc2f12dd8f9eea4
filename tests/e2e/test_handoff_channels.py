"""Issue 11 end to end over Telegram and Zalo: the real bot hands the conversation to a person, the bot
stays silent while the person has it, and the staff's messages go out through the platform's send API
(the local fake Telegram Bot API and Zalo OA API that the running bot is pointed at).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy.engine import Engine

from bot.channels.store import ChannelStore
from bot.channels.zalo import SIGNATURE_HEADER, signature
from bot.db import make_engine
from bot.helpdesk.handoff import HandoffDesk
from bot.helpdesk.service import StaffDesk
from bot.rasa_client import RasaClient
from tests.browser import wait_for
from tests.fakes import RASA_TOKEN, TELEGRAM_SECRET, ZALO_APP_ID, ZALO_OA_SECRET, RunningBot, tg_text_update

pytestmark = pytest.mark.slow
QUIET_SECONDS = 4.0


@pytest.fixture(scope="module")
def engine(running_bot_parts: RunningBot) -> Engine:
    return make_engine(running_bot_parts.database_url)


@pytest.fixture(scope="module")
def staff(running_bot_parts: RunningBot, engine: Engine) -> StaffDesk:
    # As the console builds it: the Zalo window also counts from the channel's own record of receipt.
    rasa = RasaClient(running_bot_parts.rasa_url, RASA_TOKEN)
    desk = StaffDesk(rasa=rasa, engine=engine, last_message_at=ChannelStore(engine).last_user_message)
    desk.seen("agent-e2e")  # an agent is online: the bot queues instead of offering a call-back
    return desk


def _handoff_of(engine: Engine, sender_id: str) -> Any:
    return wait_for(lambda: HandoffDesk(engine).current(sender_id), 30, f"a handoff for {sender_id}")


def _scenario(
    staff: StaffDesk, engine: Engine, sender_id: str, say: Callable[[str], None], sent: Callable[[], list[str]]
) -> None:
    """Ask for a person, get the staff's messages, stay unanswered while handed off, then the bot is back."""
    staff.seen("agent-e2e")
    say("cho tôi gặp cán bộ")
    wait_for(lambda: any("hàng chờ" in t for t in sent()), 60, "the queue position")
    handoff = _handoff_of(engine, sender_id)
    assert handoff.state == "waiting"

    staff.claim(handoff.id, "agent-e2e")
    wait_for(lambda: any("đã tiếp nhận" in t for t in sent()), 30, "'a person has joined'")
    delivery = staff.reply(handoff.id, "agent-e2e", "Chào anh, em là cán bộ Lan, em kiểm tra hồ sơ giúp anh.")
    assert delivery.sent, delivery
    wait_for(lambda: any("cán bộ Lan" in t for t in sent()), 30, "the staff reply through the platform")

    before = len(sent())
    for message in ("đăng ký tạm trú cần giấy tờ gì", "/restart", "xin chào"):
        say(message)
    time.sleep(QUIET_SECONDS)
    assert len(sent()) == before, f"the bot answered while a person had the conversation: {sent()[before:]}"

    staff.seen("agent-e2e")
    staff.close(handoff.id, "agent-e2e", "answered")
    wait_for(lambda: any("kết thúc" in t for t in sent()[before:]), 30, "the closing message and the rating")
    say("đăng ký tạm trú cần giấy tờ gì")
    wait_for(lambda: any("1.004194" in t for t in sent()[before:]), 60, "the bot's cited answer again")


class TelegramCitizen:
    """A Telegram user of the running bot: ``say`` posts a signed update to its webhook, ``sent`` lists
    what the bot sent to that chat through the fake Bot API. Chat ids are random, update ids fresh."""

    def __init__(self, bot: RunningBot) -> None:
        self.chat = 700000 + int(uuid.uuid4().int % 300000)
        self.sender_id = f"telegram_ptb:{self.chat}"
        self._hook = f"{bot.rasa_url}/webhooks/telegram_ptb/webhook"
        self._fake = bot.telegram
        self._updates = iter(range(10_000_000 + self.chat * 100, 10_000_000 + self.chat * 100 + 100))

    def say(self, text: str) -> None:
        resp = requests.post(self._hook, json=tg_text_update(next(self._updates), self.chat, text),
                             headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}, timeout=30)  # fmt: skip
        assert resp.status_code == 200, resp.text

    def sent(self) -> list[str]:
        return [m["text"] for m in self._fake.calls_to("sendMessage") if int(m["chat_id"]) == self.chat]


def test_telegram_handoff(running_bot_parts: RunningBot, staff: StaffDesk, engine: Engine) -> None:
    citizen = TelegramCitizen(running_bot_parts)
    _scenario(staff, engine, citizen.sender_id, citizen.say, citizen.sent)


def test_zalo_handoff(running_bot_parts: RunningBot, staff: StaffDesk, engine: Engine) -> None:
    user = str(5_000_000_000 + uuid.uuid4().int % 1_000_000)
    fake = running_bot_parts.zalo
    counter = iter(range(1, 10_000))

    def say(text: str) -> None:
        event = {
            "app_id": ZALO_APP_ID,
            "event_name": "user_send_text",
            "timestamp": str(int(time.time() * 1000)),
            "sender": {"id": user},
            "recipient": {"id": "oa"},
            "message": {"text": text, "msg_id": f"{user}-{next(counter)}"},
        }
        raw = json.dumps(event, ensure_ascii=False).encode()
        mac = signature(ZALO_APP_ID, raw, event["timestamp"], ZALO_OA_SECRET)
        headers = {SIGNATURE_HEADER: mac, "Content-Type": "application/json"}
        hook = f"{running_bot_parts.rasa_url}/webhooks/zalo/webhook"
        resp = requests.post(hook, data=raw, headers=headers, timeout=30)
        assert resp.status_code == 200, resp.text

    def sent() -> list[str]:
        return [m["message"]["text"] for m in fake.sent if m["recipient"]["user_id"] == user]

    _scenario(staff, engine, f"zalo:{user}", say, sent)


def test_zalo_outside_the_window_is_reported_not_sent(
    running_bot_parts: RunningBot, staff: StaffDesk, engine: Engine
) -> None:
    """A handoff of a Zalo user with no message on record (the window is closed): the console is told."""
    sender = f"zalo:quiet-{uuid.uuid4().hex[:8]}"
    handoff = HandoffDesk(engine).open(sender, "zalo")
    staff.claim(handoff.id, "agent-e2e")
    before = len(running_bot_parts.zalo.sent)
    assert staff.reply(handoff.id, "agent-e2e", "Chào anh").problem == "zalo_window"
    assert len(running_bot_parts.zalo.sent) == before
    HandoffDesk(engine).close(handoff.id, "agent-e2e", "no_answer")


def test_telegram_citizen_leaves_the_queue(running_bot_parts: RunningBot, staff: StaffDesk, engine: Engine) -> None:
    """"thôi" while nobody has taken the conversation: out of the queue, and the bot answers again."""
    citizen = TelegramCitizen(running_bot_parts)
    say, sent = citizen.say, citizen.sent
    staff.seen("agent-e2e")
    say("cho tôi gặp cán bộ")
    wait_for(lambda: any("hàng chờ" in t for t in sent()), 60, "the queue position")
    handoff = _handoff_of(engine, citizen.sender_id)
    say("thôi")
    wait_for(lambda: any("đã hủy yêu cầu" in t for t in sent()), 30, "the queue left")
    assert HandoffDesk(engine).current(citizen.sender_id) is None
    closed = [h for h in HandoffDesk(engine).queue() if h.id == handoff.id]
    assert closed == []  # no longer waiting
    say("đăng ký tạm trú cần giấy tờ gì")
    wait_for(lambda: any("1.004194" in t for t in sent()), 60, "the bot's answer after leaving")


def test_telegram_queue_is_given_back_when_nobody_is_online(
    running_bot_parts: RunningBot, staff: StaffDesk, engine: Engine
) -> None:
    """The last agent left while a citizen waited: their next message gets the bot back and a call-back offer."""
    from bot.helpdesk.models import PresenceRow

    citizen = TelegramCitizen(running_bot_parts)
    say, sent = citizen.say, citizen.sent
    staff.seen("agent-e2e")
    say("cho tôi gặp cán bộ")
    wait_for(lambda: any("hàng chờ" in t for t in sent()), 60, "the queue position")
    with engine.begin() as conn:
        conn.execute(PresenceRow.__table__.delete())  # every agent has gone
    say("còn ai không ạ")
    wait_for(lambda: any("chưa có cán bộ" in t for t in sent()), 30, "the call-back offer")
    assert HandoffDesk(engine).last(citizen.sender_id).end_reason == "no_answer"
    staff.seen("agent-e2e")
