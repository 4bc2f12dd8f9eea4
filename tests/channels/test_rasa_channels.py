"""The channels inside a real ``rasa run`` (tiny keyword bot from tests/fixtures/tiny_bot, trained in ~10 s).

Checks what unit tests cannot: Rasa loads the channels from the generated
credentials file, socket.io replies reach the browser with the pinned
python-socketio, the widget is served at /widget/, Telegram and Zalo webhooks
reach the agent and answer through the fake APIs, and bot-initiated messages
go out through ``/conversations/{id}/trigger_intent?output_channel=...``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.credentials import write_credentials
from bot.channels.zalo import SIGNATURE_HEADER, signature
from bot.settings import PROJECT_ROOT
from tests.browser import chromium, screenshot, wait_for
from tests.fakes import FakeTelegram, FakeZalo, ThreadedApp, free_port, tg_text_update

pytestmark = pytest.mark.slow
TINY_BOT = Path(__file__).resolve().parents[1] / "fixtures" / "tiny_bot"
RASA = str(Path(sys.executable).with_name("rasa"))
TOKEN = "777:rasa-test"
SECRET = "rasa-test-secret"
ZALO = {"ZALO_APP_ID": "42", "ZALO_APP_SECRET": "app-s", "ZALO_OA_SECRET_KEY": "oa-s", "ZALO_REFRESH_TOKEN": "r0"}


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None, raw: bytes | None = None) -> int:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return int(resp.status)


class Stack:
    def __init__(self, url: str, telegram: FakeTelegram, zalo: FakeZalo, log: Path) -> None:
        self.url, self.telegram, self.zalo, self.log = url, telegram, zalo, log


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(RASA).exists():
        pytest.skip("rasa is not installed in this environment")
    work = tmp_path_factory.mktemp("tiny_bot")
    shutil.copytree(TINY_BOT, work, dirs_exist_ok=True)
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
    train = subprocess.run(
        [RASA, "train", "--fixed-model-name", "tiny", "--out", "models"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert train.returncode == 0, train.stdout[-2000:] + train.stderr[-2000:]

    telegram = FakeTelegram(TOKEN)
    zalo = FakeZalo("app-s", access_token="a0", refresh_token="r0")
    tg_server = ThreadedApp(telegram.app()).start()
    zalo_server = ThreadedApp(zalo.app()).start()
    port = free_port()
    env.update(
        {
            # The widget's socket accepts only configured origins: here, the page Rasa itself serves.
            "CORS_ORIGINS": f"http://127.0.0.1:{port}",
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_SECRET_TOKEN": SECRET,
            "TELEGRAM_API_BASE_URL": f"{tg_server.url}/bot",
            **ZALO,
            "ZALO_ACCESS_TOKEN": "a0",
            "ZALO_API_BASE": zalo_server.url,
            "ZALO_OAUTH_BASE": zalo_server.url,
            "DATABASE_URL": f"sqlite:///{work / 'channels.db'}",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        credentials = write_credentials(work / "credentials.yml")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    log = work / "rasa.log"
    proc = subprocess.Popen(
        [RASA, "run", "--model", "models/tiny.tar.gz", "--enable-api", "--cors", "*", "--interface", "127.0.0.1",
         "--port", str(port), "--credentials", str(credentials)],
        cwd=work, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert proc.poll() is None, log.read_text()[-3000:]
            with urllib.request.urlopen(f"{url}/status", timeout=2) as resp:
                return resp.status == 200

        wait_for(ready, 240, "rasa run")
        yield Stack(url, telegram, zalo, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        tg_server.close()
        zalo_server.close()


def test_widget_through_rasa_socketio(stack: Stack) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(f"{stack.url}/widget/")
        find = driver.find_elements
        wait_for(lambda: driver.execute_script("return localStorage.getItem('tldvc:session')"), 30, "session")
        driver.find_element(By.ID, "tldvc-input").send_keys("giấy tờ tạm trú", Keys.ENTER)
        wait_for(lambda: "1.004194" in find(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, 60, "reply over socket.io")
        button = wait_for(lambda: find(By.CSS_SELECTOR, ".tldvc-reply"), 10, "quick reply")[0]
        assert button.text == "Lệ phí"
        button.click()
        wait_for(lambda: "em chào" in find(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, 60, "reply to the button payload")
        driver.refresh()
        wait_for(lambda: len(find(By.CSS_SELECTOR, ".tldvc-msg")) >= 4, 20, "history after reload")
        screenshot(driver, "widget-rasa-tiny-bot.png")


def test_telegram_webhook_and_push_through_rasa(stack: Stack) -> None:
    chat = 9100
    hook = f"{stack.url}/webhooks/telegram_ptb/webhook"
    status = _post(hook, tg_text_update(1, chat, "giấy tờ tạm trú"), {"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert status == 200
    sent = wait_for(lambda: stack.telegram.calls_to("sendMessage"), 30, "Telegram reply")
    assert "1.004194" in sent[0]["text"]
    assert sent[0]["reply_markup"]["inline_keyboard"][0][0] == {"text": "Lệ phí", "callback_data": "/greet"}

    # A bot-initiated message (e.g. a dossier notification) through Rasa's HTTP API.
    # The conversation id carries the channel; the output channel sends to the bare chat id.
    trigger = f"{stack.url}/conversations/telegram_ptb:{chat}/trigger_intent?output_channel=telegram_ptb"
    assert _post(trigger, {"name": "notify"}) == 200
    pushed = wait_for(
        lambda: [m for m in stack.telegram.calls_to("sendMessage") if "kết quả" in m["text"]], 30, "push message"
    )
    assert int(pushed[0]["chat_id"]) == chat


def test_zalo_webhook_reply_and_window_through_rasa(stack: Stack) -> None:
    user = "5566778899"
    event = {
        "app_id": ZALO["ZALO_APP_ID"],
        "event_name": "user_send_text",
        "timestamp": str(int(time.time() * 1000)),
        "sender": {"id": user},
        "recipient": {"id": "oa"},
        "message": {"text": "giấy tờ tạm trú", "msg_id": "zm-1"},
    }
    raw = json.dumps(event, ensure_ascii=False).encode()
    mac = signature(ZALO["ZALO_APP_ID"], raw, event["timestamp"], ZALO["ZALO_OA_SECRET_KEY"])
    assert _post(f"{stack.url}/webhooks/zalo/webhook", {}, {SIGNATURE_HEADER: mac}, raw=raw) == 200
    sent = wait_for(lambda: stack.zalo.sent, 30, "Zalo reply")
    assert sent[0]["recipient"]["user_id"] == user
    assert "1.004194" in sent[0]["message"]["text"] and "1. Lệ phí" in sent[0]["message"]["text"]

    # Push to a user who never wrote: refused inside the window check, nothing reaches Zalo.
    before = len(stack.zalo.sent)
    stranger = f"{stack.url}/conversations/zalo:stranger/trigger_intent?output_channel=zalo"
    assert _post(stranger, {"name": "notify"}) == 200
    time.sleep(1.0)
    assert len(stack.zalo.sent) == before
    assert "outside the messaging window" in stack.log.read_text(errors="replace")
