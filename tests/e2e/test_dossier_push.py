"""Issue 4 end to end: a citizen on the socket.io channel verifies a dossier, subscribes, and a
signed one-door webhook pushes the status change back to that citizen through Rasa.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
import requests
import socketio

from bot.dossiers.watcher import sign_webhook
from tests.fakes import WEBHOOK_SECRET

pytestmark = pytest.mark.slow
# Not the README's main demo dossier: other end-to-end tests read its status.
CODE = "000.00.00.H99-261102-0002"
LAST4 = "2468"


class Citizen:
    """A socket.io client as the web widget is: one persistent session, replies collected."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session_id = f"push-{uuid.uuid4().hex[:10]}"
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.sio.on("bot_uttered", self._on_bot)

    async def _on_bot(self, data: dict) -> None:
        await self.inbox.put(data)

    async def __aenter__(self) -> Citizen:
        confirmed = asyncio.Event()
        self.sio.on("session_confirm", lambda *_: confirmed.set())
        await self.sio.connect(self.base, socketio_path="/socket.io", transports=["polling"])
        await self.sio.emit("session_request", {"session_id": self.session_id})
        await asyncio.wait_for(confirmed.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()

    async def say(self, text: str, settle: float = 1.5) -> str:
        """Send ``text``; return every reply that arrives until the bot goes quiet."""
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id})
        return await self.receive(first_timeout=30, settle=settle)

    async def receive(self, first_timeout: float, settle: float = 1.5) -> str:
        texts = [(await asyncio.wait_for(self.inbox.get(), first_timeout)).get("text", "")]
        while True:
            try:
                texts.append((await asyncio.wait_for(self.inbox.get(), settle)).get("text", ""))
            except asyncio.TimeoutError:
                return "\n".join(texts)


def test_verify_subscribe_and_receive_a_pushed_status_change(running_bot: str) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with Citizen(running_bot) as citizen:
            asked = await citizen.say(f"tra cứu hồ sơ {CODE}")
            status = await citizen.say(LAST4)
            subscribed = await citizen.say("báo cho tôi khi có kết quả")
            body = json.dumps({"code": CODE, "status": 9}).encode()
            signature = sign_webhook(body, WEBHOOK_SECRET, int(time.time()))
            resp = await asyncio.to_thread(
                requests.post,
                f"{running_bot}/webhooks/onedoor/status",
                data=body,
                headers={"X-Onedoor-Signature": signature, "Content-Type": "application/json"},
                timeout=30,
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["notified"] == 1
            pushed = await citizen.receive(first_timeout=30)
            return asked, status, subscribed, pushed

    asked, status, subscribed, pushed = asyncio.run(scenario())
    assert "4 chữ số cuối" in asked
    assert "Yêu cầu bổ sung giấy tờ" in status and "04/12/2026" in status
    assert CODE in subscribed
    assert CODE in pushed and "Đã xử lý xong" in pushed


def test_forged_webhook_is_refused(running_bot: str) -> None:
    body = json.dumps({"code": CODE, "status": 10}).encode()
    forged = sign_webhook(body, "not-the-secret", int(time.time()))
    resp = requests.post(
        f"{running_bot}/webhooks/onedoor/status", data=body, headers={"X-Onedoor-Signature": forged}, timeout=30
    )
    assert resp.status_code == 401
