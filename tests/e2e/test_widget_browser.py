"""The widget end to end: headless Chromium → /widget/ → Rasa's socket.io channel → trained model → actions.

Uses the ``running_bot`` fixture (the same ``start_servers`` as ``make run``, on
free ports, with the model for the current data), or a running bot when
``WIDGET_E2E_URL`` is set (e.g. ``http://127.0.0.1:5005``).
"""

from __future__ import annotations

import os

import pytest

from bot.settings import PROJECT_ROOT
from tests.browser import chromium, screenshot, wait_for

pytestmark = pytest.mark.slow
QUESTION = "đăng ký tạm trú cần giấy tờ gì"
CODE = "1.004194"


@pytest.fixture(scope="module")
def bot_url(request: pytest.FixtureRequest) -> str:
    """A running bot: ``WIDGET_E2E_URL`` if set, else the real servers started for the test session."""
    external = os.environ.get("WIDGET_E2E_URL")
    if external:
        return external.rstrip("/")
    return str(request.getfixturevalue("running_bot"))


def test_widget_answers_with_the_procedure_code_and_keeps_history(bot_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with chromium() as driver:
        driver.get(f"{bot_url}/widget/")
        find = driver.find_elements
        wait_for(lambda: driver.execute_script("return localStorage.getItem('tldvc:session')"), 60, "socket.io session")
        driver.find_element(By.ID, "tldvc-input").send_keys(QUESTION, Keys.ENTER)
        typing = driver.find_element(By.CSS_SELECTOR, ".tldvc-typing")
        assert typing.is_displayed() or find(By.CSS_SELECTOR, ".tldvc-bot")[-1].text, "typing state or an answer"
        wait_for(
            lambda: any(CODE in m.text for m in find(By.CSS_SELECTOR, ".tldvc-bot")), 90, f"an answer citing {CODE}"
        )
        screenshot(driver, "widget-e2e-answer.png")

        buttons = wait_for(lambda: find(By.CSS_SELECTOR, ".tldvc-reply"), 20, "quick-reply buttons")
        before = len(find(By.CSS_SELECTOR, ".tldvc-bot"))
        title = buttons[0].text
        buttons[0].click()
        wait_for(lambda: find(By.CSS_SELECTOR, ".tldvc-user")[-1].text.endswith(title), 10, "button shown as sent")
        wait_for(lambda: len(find(By.CSS_SELECTOR, ".tldvc-bot")) > before, 90, "an answer to the button")

        driver.refresh()
        wait_for(lambda: any(CODE in m.text for m in find(By.CSS_SELECTOR, ".tldvc-bot")), 20, "history after reload")
        assert any(QUESTION in m.text for m in find(By.CSS_SELECTOR, ".tldvc-user"))
        path = screenshot(driver, "widget-e2e.png")
        assert path.is_file() and path.is_relative_to(PROJECT_ROOT / "reports")
