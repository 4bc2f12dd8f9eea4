"""The web widget in headless Chromium against a fake Rasa socket.io server, plus its static-file channel.

The fake serves /widget/ through ``asset()``, as the real channel does, so the widget gets its
sentences from the wording catalogue; /raw/ serves the files as they are, without them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from bot.channels.widget import CONTENT_TYPES, WIDGET_KEYS, WidgetInput, asset, asset_path
from bot.wording import text
from tests.browser import chromium, screenshot, wait_for
from tests.fakes import FakeRasa, ThreadedApp, run_channel

ANSWER = (
    "Dạ, thủ tục Đăng ký tạm trú (mã 1.004194) cần:\n"
    "1. Tờ khai thay đổi thông tin cư trú (mẫu CT01);\n"
    "2. Giấy tờ chứng minh chỗ ở hợp pháp.\n"
    "Xem chi tiết: https://dichvucong.gov.vn"
)
BUTTONS = [
    {"content_type": "text", "title": "Lệ phí", "payload": "/ask_fee"},
    {"content_type": "text", "title": "Nộp trực tuyến ở đâu?", "payload": "/ask_where"},
]


class FakeSocketServer(ThreadedApp):
    """Our socket.io channel in miniature, in a thread (bot/channels/socketio.py).

    ``session_request`` resumes a session only with the token issued with it and confirms
    ``{"session_id", "session_token"}``; ``user_uttered`` is filed under the socket's own session.
    """

    def __init__(self, reply_delay: float = 1.0) -> None:
        super().__init__(self.build_app)
        self.reply_delay = reply_delay
        self.received: list[dict[str, Any]] = []
        self.session_requests: list[Any] = []
        self.sessions: dict[str, str] = {}

    def build_app(self) -> web.Application:
        sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
        app = web.Application()
        sio.attach(app)

        async def widget_file(request: web.Request) -> web.Response:
            found = asset(request.match_info.get("name") or "index.html")
            if found is None:
                raise web.HTTPNotFound()
            body, content_type = found
            return web.Response(body=body, headers={"Content-Type": content_type})

        async def raw_file(request: web.Request) -> web.Response:
            name = request.match_info.get("name")
            if not name:  # a page that loads the script as it is on disk
                page = '<!doctype html><html lang="vi"><body><script src="/raw/widget.js" data-open="true"></script>'
                return web.Response(text=page, content_type="text/html")
            path = asset_path(name)
            if path is None:
                raise web.HTTPNotFound()
            return web.Response(body=path.read_bytes(), headers={"Content-Type": CONTENT_TYPES[path.suffix]})

        app.router.add_get("/widget/", widget_file)
        app.router.add_get("/widget/{name}", widget_file)
        app.router.add_get("/raw/", raw_file)
        app.router.add_get("/raw/{name}", raw_file)

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            self.session_requests.append(data)
            asked = (data or {}).get("session_id")
            resumed = asked if asked and (data or {}).get("session_token") == f"token-{asked}" else None
            session_id = resumed or f"s-{len(self.session_requests)}"
            self.sessions[sid] = session_id
            sio.enter_room(sid, session_id)
            confirm = {"session_id": session_id, "session_token": f"token-{session_id}"}
            await sio.emit("session_confirm", confirm, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid: str, data: dict[str, Any]) -> None:
            data = {**data, "session_id": self.sessions.get(sid)}
            self.received.append(data)
            await asyncio.sleep(self.reply_delay)
            if data["message"] == "/ask_where":
                reply: dict[str, Any] = {
                    "text": "Dạ, anh/chị nộp hồ sơ trực tuyến tại:",
                    "links": [
                        {"title": "Cổng Dịch vụ công", "url": "https://dichvucong.gov.vn"},
                        {"title": "Không an toàn", "url": "javascript:alert(1)"},
                    ],
                    "buttons": [{"title": "Hướng dẫn", "url": "https://dichvucong.gov.vn/huong-dan"}],
                }
            elif data["message"] == "/ask_fee":
                reply = {"text": "Dạ, thủ tục này không mất lệ phí."}
            else:
                reply = {"text": ANSWER, "quick_replies": BUTTONS}
            await sio.emit("bot_uttered", reply, room=data["session_id"])

        return app


@pytest.fixture
def fake_server() -> Iterator[FakeSocketServer]:
    server = FakeSocketServer()
    server.start()
    yield server
    server.close()


def test_widget_conversation_buttons_reload_and_reconnect(fake_server: FakeSocketServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(f"{fake_server.url}/widget/")
        css = driver.find_elements  # short alias

        # Accessibility basics: labelled input, live regions, expanded launcher.
        log = driver.find_element(By.CSS_SELECTOR, ".tldvc-log")
        assert log.get_attribute("aria-live") == "polite" and log.get_attribute("role") == "log"
        assert driver.find_element(By.CSS_SELECTOR, ".tldvc-status").get_attribute("aria-live") == "polite"
        assert driver.find_element(By.CSS_SELECTOR, "label[for=tldvc-input]").get_attribute("textContent")
        assert driver.find_element(By.CSS_SELECTOR, ".tldvc-launcher").get_attribute("aria-expanded") == "true"
        assert driver.execute_script("return document.documentElement.lang") == "vi"
        # The words come from the wording catalogue: the greeting is the bot's own (chat.greet).
        greeting = driver.find_element(By.CSS_SELECTOR, ".tldvc-bot .tldvc-bubble")
        assert greeting.text == text("chat.greet")
        assert driver.find_element(By.CSS_SELECTOR, ".tldvc-launcher").text == text("channel.widget.open")
        assert driver.find_element(By.CSS_SELECTOR, ".tldvc-title").text == text("channel.widget.title")
        assert driver.find_element(By.TAG_NAME, "h1").text == text("channel.widget.title")
        wait_for(lambda: fake_server.session_requests, what="session_request")
        first_session = wait_for(
            lambda: driver.execute_script("return localStorage.getItem('tldvc:session')"), what="session id stored"
        )

        box = driver.find_element(By.ID, "tldvc-input")
        assert driver.switch_to.active_element == box, "the input has focus when the panel opens"
        box.send_keys("đăng ký tạm trú cần giấy tờ gì", Keys.ENTER)

        wait_for(lambda: "đăng ký tạm trú cần giấy tờ gì" in css(By.CSS_SELECTOR, ".tldvc-user")[-1].text, what="echo")
        typing = driver.find_element(By.CSS_SELECTOR, ".tldvc-typing")
        wait_for(lambda: typing.is_displayed() and "đang trả lời…" in typing.text, what="typing state")
        wait_for(lambda: "1.004194" in css(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, what="bot answer")
        assert not typing.is_displayed()
        assert fake_server.received[0] == {"message": "đăng ký tạm trú cần giấy tờ gì", "session_id": first_session}
        link = driver.find_element(By.CSS_SELECTOR, ".tldvc-bot a[href='https://dichvucong.gov.vn']")
        assert link.get_attribute("rel") == "noopener noreferrer"
        buttons = css(By.CSS_SELECTOR, ".tldvc-reply")
        assert [b.text for b in buttons] == ["Lệ phí", "Nộp trực tuyến ở đâu?"]
        screenshot(driver, "widget-fake-server.png")

        buttons[0].click()
        wait_for(lambda: len(fake_server.received) == 2, what="payload sent")
        assert fake_server.received[1]["message"] == "/ask_fee"
        wait_for(lambda: "không mất lệ phí" in css(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, what="second answer")
        assert css(By.CSS_SELECTOR, ".tldvc-user")[-1].text.endswith("Lệ phí")
        assert css(By.CSS_SELECTOR, ".tldvc-reply") == [], "used quick replies are removed"

        # Reload: the history is back and the same Rasa session continues.
        driver.refresh()
        wait_for(lambda: len(css(By.CSS_SELECTOR, ".tldvc-msg")) >= 4, what="history restored")
        texts = [m.text for m in css(By.CSS_SELECTOR, ".tldvc-msg")]
        assert any("1.004194" in t for t in texts) and any("không mất lệ phí" in t for t in texts)
        wait_for(lambda: len(fake_server.session_requests) >= 2, what="second session_request")
        # The widget proves the session is its own with the token it was issued.
        resumed = {"session_id": first_session, "session_token": f"token-{first_session}"}
        assert fake_server.session_requests[-1] == resumed

        # Network drop: the server goes away, the widget says so, reconnects and delivers the queued question.
        fake_server.stop()
        status = driver.find_element(By.CSS_SELECTOR, ".tldvc-status")
        wait_for(lambda: "Mất kết nối" in status.text, what="disconnected status")
        driver.find_element(By.ID, "tldvc-input").send_keys("cấp lại căn cước", Keys.ENTER)
        fake_server.start()
        wait_for(lambda: any(r["message"] == "cấp lại căn cước" for r in fake_server.received), 30, "queued message")
        assert fake_server.received[-1]["session_id"] == first_session
        wait_for(lambda: "1.004194" in css(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, what="answer after reconnect")
        screenshot(driver, "widget-fake-server-after-reconnect.png")


def test_widget_keyboard_escape_closes_and_returns_focus(fake_server: FakeSocketServer) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.set_window_size(390, 800)  # phone-sized: the panel fills the screen
        driver.get(f"{fake_server.url}/widget/")
        panel = driver.find_element(By.ID, "tldvc-panel")
        wait_for(panel.is_displayed, what="panel open")
        assert panel.size["width"] >= 380
        driver.find_element(By.ID, "tldvc-input").send_keys(Keys.ESCAPE)
        wait_for(lambda: not panel.is_displayed(), what="panel closed")
        launcher = driver.find_element(By.CSS_SELECTOR, ".tldvc-launcher")
        assert driver.switch_to.active_element == launcher
        assert launcher.get_attribute("aria-expanded") == "false"
        launcher.send_keys(Keys.ENTER)
        wait_for(panel.is_displayed, what="panel reopened by keyboard")

        # Link buttons render as links; only http(s) links are ever clickable.
        driver.execute_script("window.TroLyDVC.send('/ask_where')")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".tldvc-link a"), what="link buttons")
        hrefs = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, ".tldvc-link a")]
        assert hrefs == ["https://dichvucong.gov.vn/", "https://dichvucong.gov.vn/huong-dan"]
        assert not driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript']")


def test_widget_without_its_wording_shows_no_text_but_works(fake_server: FakeSocketServer) -> None:
    # widget.js as it is on disk has no sentences: it must not show a second copy, nor break.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(f"{fake_server.url}/raw/")
        box = wait_for(lambda: driver.find_element(By.ID, "tldvc-input"), what="widget built")
        assert driver.find_elements(By.CSS_SELECTOR, ".tldvc-msg") == [], "no greeting without the wording"
        assert driver.find_element(By.CSS_SELECTOR, ".tldvc-launcher").text == ""
        box.send_keys("lệ phí", Keys.ENTER)
        wait_for(lambda: "1.004194" in driver.find_elements(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, what="answer")


def test_served_files_carry_the_catalogue_sentences() -> None:
    script = asset("widget.js")
    page = asset("index.html")
    assert script is not None and page is not None
    for key in WIDGET_KEYS:
        assert text(key) in script[0].decode(), key
    assert "{{" not in page[0].decode() and text("channel.widget.page.embed_title") in page[0].decode()
    assert f"<strong>{text('channel.widget.open')}</strong>" in page[0].decode()


def test_widget_page_has_no_external_resources() -> None:
    for name in ("index.html", "widget.js", "widget.css"):
        found = asset(name)
        assert found is not None, name
        text = found[0].decode()
        for bad in ("fonts.googleapis", "cdn.", "unpkg", "jsdelivr", "cdnjs", "@import"):
            assert bad not in text, f"{name} references {bad}"
    assert asset("../config.py") is None and asset("store.py") is None


async def test_widget_channel_serves_files_over_http() -> None:
    channel = WidgetInput.from_credentials(None)
    assert channel.url_prefix() == "/widget"
    async with run_channel(channel, FakeRasa()) as base:
        assert base.endswith("/widget")  # mounted at the root, not under /webhooks/
        root = base
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{root}/widget.js") as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("application/javascript")
                assert "user_uttered" in await resp.text()
            async with http.get(f"{root}/") as resp:
                assert resp.status == 200 and "widget.js" in await resp.text()
            async with http.get(root, allow_redirects=False) as resp:
                assert resp.status in (301, 302) and resp.headers["Location"].endswith("/widget/")
            async with http.get(f"{root}/socket.io.min.js") as resp:
                assert resp.status in (200, 503)
            async with http.get(f"{root}/secret.py") as resp:
                assert resp.status == 404
