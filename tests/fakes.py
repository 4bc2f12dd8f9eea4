"""The one module of test helpers: free ports, local HTTP servers, fake Telegram and Zalo APIs, a Rasa
stand-in, talking to the running test bot over REST, and the test bot's secrets.

Everything listens on 127.0.0.1 with a random port; nothing talks to the real services.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from aiohttp import web
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

WEBHOOK_SECRET = "test-onedoor-secret"
# Secrets of the running test bot: the token of Rasa's HTTP API and of the action server.
RASA_TOKEN = "test-rasa-token"
ACTION_SERVER_TOKEN = "test-action-token"
# Telegram and Zalo in the running test bot talk to the fakes below.
TELEGRAM_TOKEN = "777:running-bot"
TELEGRAM_SECRET = "running-bot-telegram-secret"
ZALO_APP_ID, ZALO_OA_SECRET = "4242", "running-bot-oa-secret"

REST_WEBHOOK = "/webhooks/rest/webhook"


@dataclass(frozen=True)
class RunningBot:
    """Where the running test bot's parts are (its Rasa URL is the ``running_bot`` fixture itself)."""

    rasa_url: str
    action_url: str
    var_dir: Path
    console_url: str = ""
    database_url: str = ""
    telegram: Any = None  # the FakeTelegram the bot's Telegram channel talks to
    zalo: Any = None  # the FakeZalo the bot's Zalo channel talks to


def say(base: str, sender: str, text: str, timeout: float = 30) -> list[dict[str, Any]]:
    """Send ``text`` as ``sender`` over the REST channel of the bot at ``base``; returns its messages."""
    resp = requests.post(f"{base}{REST_WEBHOOK}", json={"sender": sender, "message": text}, timeout=timeout)
    resp.raise_for_status()
    return resp.json()


def joined(messages: list[dict[str, Any]]) -> str:
    """The texts of the bot's messages, one per line."""
    return "\n".join(m.get("text") or "" for m in messages)


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` (a standard-library handler class) from a thread on 127.0.0.1; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def holds_digits(text: str, digits: str) -> bool:
    """True when ``digits`` stand in ``text`` as a number of their own.

    Not inside a longer number, a hex hash, a timestamp (``1796016055.3967893``) or a datetime's
    repr, where any four digits turn up by chance.
    """
    cleaned = re.sub(r"datetime\.\w+\([^)]*\)", " ", text)
    cleaned = re.sub(r"\b[0-9a-f]{16,}\b", " ", cleaned)
    return re.search(rf"(?<![\w.,]){re.escape(digits)}(?!\w)", cleaned) is not None


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def run_aiohttp(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def run_channel(channel: InputChannel, on_new_message: Any) -> AsyncIterator[str]:
    """Serve a Rasa input channel's blueprint on a real sanic server, mounted where Rasa mounts it; yields that URL."""
    # test_mode makes sanic re-apply its start-up "touch-ups" to the original methods, so several apps can run
    # one after another in the same process (what sanic-testing does).
    Sanic.test_mode = True
    app = Sanic(f"channel_test_{uuid.uuid4().hex[:8]}", configure_logging=False)
    prefix = urljoin("/webhooks/", channel.url_prefix())  # exactly how rasa.core.channels.channel.register mounts it
    app.blueprint(channel.blueprint(on_new_message), url_prefix=prefix)
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.start_serving()
    try:
        yield f"http://127.0.0.1:{port}{prefix}"
    finally:
        server.close()
        await server.wait_closed()


class FakeRasa:
    """Stands in for ``agent.handle_message``: records the message and answers with text and buttons."""

    def __init__(self, reply: dict[str, Any] | None = None) -> None:
        self.received: list[UserMessage] = []
        self.reply = reply

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        reply = self.reply or {
            "text": f"Dạ, em đã nhận câu hỏi: {message.text}",
            "buttons": [
                {"title": "Giấy tờ cần có", "payload": "/ask_documents"},
                {"title": "Lệ phí", "payload": '/ask_fee{"procedure_code": "1.004194"}'},
            ],
        }
        await message.output_channel.send_response(message.sender_id, dict(reply))


class FakeTelegram:
    """A minimal Bot API: getMe, sendMessage, sendChatAction, answerCallbackQuery, getUpdates, deleteWebhook."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []
        self._message_id = 100

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        return app

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = {k: v for k, v in (await request.post()).items()}
        for key in ("reply_markup", "allowed_updates"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        self.calls.append((method, params))
        result: Any = True
        if method == "getMe":
            result = {"id": 42, "is_bot": True, "first_name": "Trợ lý", "username": "tro_ly_test_bot"}
        elif method == "sendMessage":
            self._message_id += 1
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": params["text"],
            }
        elif method == "getUpdates":
            offset = int(params.get("offset") or 0)
            result = [u for u in self.updates if u["update_id"] >= offset]
            if not result:
                # behave like a long poll that ends empty, but quickly
                await asyncio.sleep(0.05)
        return web.json_response({"ok": True, "result": result})


def tg_text_update(update_id: int, chat_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
    """A Telegram Update carrying a text message."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, "first_name": "An"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "An", "language_code": "vi"},
            "text": text,
        },
    }


def tg_callback_update(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    """A Telegram Update carrying an inline-button press."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cq{update_id}",
            "from": {"id": chat_id, "is_bot": False, "first_name": "An"},
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": 7,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": 42, "is_bot": True, "first_name": "Trợ lý"},
                "text": "Anh/chị chọn:",
            },
        },
    }


class FakeZalo:
    """OA API v3 ``/v3.0/oa/message/cs`` and OAuth v4 ``/v4/oa/access_token`` with single-use refresh tokens."""

    def __init__(self, app_secret: str, access_token: str, refresh_token: str) -> None:
        self.app_secret = app_secret
        self.valid_access = {access_token}
        self.valid_refresh = {refresh_token}
        self.sent: list[dict[str, Any]] = []
        self.refresh_calls: list[dict[str, str]] = []
        self.outside_window_users: set[str] = set()
        # Error codes the next sends answer with, one each (tests of the error table), and the code an
        # expired token gets (Zalo answers -216 or -220).
        self.next_errors: list[int] = []
        self.expired_code = -216
        self._n = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._send)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        return app

    def expire_all_access_tokens(self) -> None:
        self.valid_access.clear()

    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        if self.next_errors:
            return web.json_response({"error": self.next_errors.pop(0), "message": "forced by the test"})
        if token not in self.valid_access:
            return web.json_response({"error": self.expired_code, "message": "Access token is invalid"})
        body = await request.json()
        user = body["recipient"]["user_id"]
        if user in self.outside_window_users:
            return web.json_response({"error": -230, "message": "User has not interacted with the OA in 7 days"})
        text = body["message"].get("text", "")
        if len(text) > 2000:
            return web.json_response({"error": -201, "message": "Text is too long"})
        self.sent.append(body)
        self._n += 1
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": f"m{self._n}"}})

    async def _refresh(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.refresh_calls.append(form)
        if request.headers.get("secret_key") != self.app_secret:
            return web.json_response({"error": -14002, "error_description": "invalid secret key"})
        old = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or old not in self.valid_refresh:
            return web.json_response({"error": -14014, "error_description": "Invalid refresh token"})
        self.valid_refresh.discard(old)  # single use
        self._n += 1
        access, refresh = f"access-{self._n}", f"refresh-{self._n}"
        self.valid_access.add(access)
        self.valid_refresh.add(refresh)
        return web.json_response({"access_token": access, "refresh_token": refresh, "expires_in": "90000"})


class ThreadedApp:
    """An aiohttp app served from its own thread and event loop, for tests whose client side is synchronous.

    ``app`` is an application or a factory of one (a factory lets :meth:`stop` then :meth:`start` serve a
    fresh app on the same port, as a restarted server would).
    """

    def __init__(self, app: web.Application | Callable[[], web.Application]) -> None:
        self.port = free_port()
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=20)

    async def _start(self) -> None:
        app = self._app if isinstance(self._app, web.Application) else self._app()
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        # A short shutdown timeout drops open websockets at once, like a network failure would.
        await web.TCPSite(self._runner, "127.0.0.1", self.port, shutdown_timeout=0.2).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> ThreadedApp:
        """Serve (again, after :meth:`stop`) on the same port."""
        if not self._thread.is_alive():
            self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        """Stop serving; the loop stays, so :meth:`start` can serve again."""
        self._run(self._stop())

    async def _cancel_rest(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Stop serving, cancel what the app left running, and end the thread."""
        self.stop()
        self._run(self._cancel_rest())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
