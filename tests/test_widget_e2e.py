"""The widget end to end: headless Chromium → /widget/ → Rasa's socket.io channel → trained model → actions.

Starts the action server and Rasa with ``bot.runtime.runner.start_servers``
(the same code as ``make run``) on a free port, or uses a running bot when
``WIDGET_E2E_URL`` is set (e.g. ``http://127.0.0.1:5005``). Skips with a
clear message when no trained model exists yet (``make train``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import chromium, screenshot
from channel_fakes import free_port

from bot.config import PROJECT_ROOT

pytestmark = pytest.mark.slow
QUESTION = "đăng ký tạm trú cần giấy tờ gì"
CODE = "1.004194"


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _trained_model() -> Path | None:
    from bot.runtime.model import MODELS_DIR, model_path

    current = model_path()
    if current.exists():
        return current
    return None if not MODELS_DIR.is_dir() else next(iter(sorted(MODELS_DIR.glob("*.tar.gz"), reverse=True)), None)


@pytest.fixture(scope="module")
def bot_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("WIDGET_E2E_URL")
    if external:
        yield external.rstrip("/")
        return
    model = _trained_model()
    if model is None:
        pytest.skip("no trained model in models/ yet: run `make train` (or set WIDGET_E2E_URL to a running bot)")
    from bot.runtime.runner import Ports, start_servers, stop_servers

    # endpoints.yml points Rasa at the action server on 5055.
    if _port_busy(5055):
        pytest.skip("port 5055 is taken (a bot is already running?): set WIDGET_E2E_URL=http://127.0.0.1:5005")
    ports = Ports(host="127.0.0.1", rasa=free_port(), actions=5055)
    procs = start_servers(model, ports, log_dir=tmp_path_factory.mktemp("e2e-logs"))
    try:
        yield f"http://127.0.0.1:{ports.rasa}"
    finally:
        stop_servers(procs)


def _wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_widget_answers_with_the_procedure_code_and_keeps_history(bot_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(f"{bot_url}/widget/")
        find = driver.find_elements
        _wait(lambda: driver.execute_script("return localStorage.getItem('tldvc:session')"), 60, "socket.io session")
        driver.find_element(By.ID, "tldvc-input").send_keys(QUESTION, Keys.ENTER)
        typing = driver.find_element(By.CSS_SELECTOR, ".tldvc-typing")
        assert typing.is_displayed() or find(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, "typing state or an answer"
        _wait(lambda: any(CODE in m.text for m in find(By.CSS_SELECTOR, ".tldvc-bot")), 90, f"an answer citing {CODE}")
        screenshot(driver, "widget-e2e-answer.png")

        buttons = _wait(lambda: find(By.CSS_SELECTOR, ".tldvc-reply"), 20, "quick-reply buttons")
        before = len(find(By.CSS_SELECTOR, ".tldvc-bot"))
        title = buttons[0].text
        buttons[0].click()
        _wait(lambda: find(By.CSS_SELECTOR, ".tldvc-user")[-1].text.endswith(title), 10, "button shown as sent")
        _wait(lambda: len(find(By.CSS_SELECTOR, ".tldvc-bot")) > before, 90, "an answer to the button")

        driver.refresh()
        _wait(lambda: any(CODE in m.text for m in find(By.CSS_SELECTOR, ".tldvc-bot")), 20, "history after reload")
        assert any(QUESTION in m.text for m in find(By.CSS_SELECTOR, ".tldvc-user"))
        path = screenshot(driver, "widget-e2e.png")
        assert path.is_file() and path.is_relative_to(PROJECT_ROOT / "reports")
