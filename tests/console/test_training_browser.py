"""The trainer's pages in headless Chromium: htmx under the CSP swaps an inbox row, a selection of words becomes
the procedure mention, and the comparison page colours its differences."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from bot.conversations.models import ConversationRow, TurnRow
from bot.db import session_factory
from bot.training.data import key_hash
from tests.browser import chromium, screenshot, wait_for
from tests.console.conftest import PASSWORD, Console
from tests.console.fakes import T0
from tests.console.test_training_pages import report, review

TEXT = "lệ phí làm hộ chiếu phổ thông bao nhiêu"
HOURS = "bộ phận một cửa mấy giờ mở cửa"
SCREENSHOT = Path("/tmp/compare.png")


def _seed(console: Console) -> None:
    with session_factory(console.engine)() as session, session.begin():
        session.add(ConversationRow(sender_id="socketio:x", channel="socketio", started_at=T0, last_at=T0, turns=1,
                                    fallbacks=0, handed_off=False, paused=False, rating=None))  # fmt: skip
        session.add(TurnRow(sender_id="socketio:x", at=T0 + timedelta(minutes=1), author="citizen", text=TEXT,
                            intent="ask_fee", confidence=0.42, fallback=False, entities=[]))  # fmt: skip
        session.add(TurnRow(sender_id="socketio:x", at=T0, author="citizen", text=HOURS, intent="nlu_fallback",
                            confidence=0.2, fallback=True, entities=[]))  # fmt: skip


def test_inbox_confirm_and_the_comparison_in_a_browser(console: Console, served: str) -> None:
    _seed(console)
    registry = console.training.registry
    live = registry.register("models/a.tar.gz", "a" * 64, "trainer", report(0.90, 0.90, 0.80))
    registry.promote(live.id, "trainer")
    candidate = registry.register("models/b.tar.gz", "b" * 64, "trainer", report(0.95, 0.85, 0.92, stories=False))
    key = key_hash(TEXT)
    with chromium() as driver:
        from selenium.webdriver.common.by import By

        driver.set_window_size(1400, 1800)  # type: ignore[attr-defined]
        driver.get(f"{served}/login?next=/training")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "username").send_keys("trainer")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
        wait_for(lambda: TEXT in driver.page_source, what="the inbox")  # type: ignore[attr-defined]
        screenshot(driver, "training_inbox.png")
        assert f"Mô hình đang chạy: #{live.id}" in driver.find_element(By.ID, "live-model").text  # type: ignore[attr-defined]
        # Select "hộ chiếu phổ thông" in the text: console.js fills the row's start/end.
        driver.execute_script(  # type: ignore[attr-defined]
            "var el = document.querySelector('[data-row=\"' + arguments[0] + '\"]');"
            "var node = el.firstChild, r = document.createRange(); r.setStart(node, 11); r.setEnd(node, 29);"
            "var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);"
            "document.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));",
            key,
        )
        start = driver.find_element(By.ID, f"start-{key}")  # type: ignore[attr-defined]
        assert (start.get_attribute("value"), driver.find_element(By.ID, f"end-{key}").get_attribute("value")) == (  # type: ignore[attr-defined]
            "11",
            "29",
        )
        driver.find_element(By.CSS_SELECTOR, f"#item-{key} button.primary").click()  # type: ignore[attr-defined]
        wait_for(lambda: "Đã xác nhận: ask_fee" in driver.page_source, 5, "the confirmed row")  # type: ignore[attr-defined]
        assert driver.current_url.endswith("/training")  # type: ignore[attr-defined]  # swapped, not reloaded
        decided = review(console, TEXT)
        assert decided is not None and decided.entities[0]["value"] == "hộ chiếu phổ thông"

        # "New intent…" in a row's intent list: htmx follows HX-Redirect to the form, with the row chosen.
        hours = key_hash(HOURS)
        from selenium.webdriver.support.ui import Select

        Select(driver.find_element(By.CSS_SELECTOR, f"#item-{hours} select[name=intent]")).select_by_value("__new__")  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, f"#item-{hours} button[formaction$='/change']").click()  # type: ignore[attr-defined]
        wait_for(lambda: "/training/intents/new" in driver.current_url, 5, "the new-intent form")  # type: ignore[attr-defined]
        box = driver.find_element(By.CSS_SELECTOR, f"input[name=key][value='{hours}']")  # type: ignore[attr-defined]
        assert box.is_selected() and HOURS in driver.page_source  # type: ignore[attr-defined]

        driver.get(f"{served}/training/models/{candidate.id}")  # type: ignore[attr-defined]
        wait_for(lambda: "Ma trận nhầm lẫn" in driver.page_source, what="the comparison")  # type: ignore[attr-defined]
        better = driver.find_element(By.CSS_SELECTOR, "td.delta.better")  # type: ignore[attr-defined]
        worse = driver.find_element(By.CSS_SELECTOR, "td.delta.worse")  # type: ignore[attr-defined]
        assert better.value_of_css_property("color") != worse.value_of_css_property("color")
        assert better.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
        heat = driver.find_element(By.CSS_SELECTOR, "table.confusion td.diag")  # type: ignore[attr-defined]
        assert heat.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "transparent")
        path = screenshot(driver, "training_compare.png")
        shutil.copyfile(path, SCREENSHOT)
        driver.get(f"{served}/training/models")  # type: ignore[attr-defined]
        wait_for(lambda: "Các mô hình" in driver.page_source, what="the registry")  # type: ignore[attr-defined]
        screenshot(driver, "training_models.png")
        runs = console.training.runs()
        run = runs.start("trainer")
        runs.advance(run.id, phase="training", progress=0.3, log_tail="Epochs:  30%|###       | 30/100\n")
        driver.get(f"{served}/training/runs/{run.id}")  # type: ignore[attr-defined]
        wait_for(lambda: "Epochs:  30%" in driver.page_source, what="the run")  # type: ignore[attr-defined]
        runs.advance(run.id, phase="evaluating", progress=0.9, log_tail="evaluating the candidate\n")
        wait_for(lambda: "evaluating the candidate" in driver.page_source, 6, "the polled progress")  # type: ignore[attr-defined]
        assert driver.find_element(By.ID, "run-bar").get_attribute("value") == "90"  # type: ignore[attr-defined]
        screenshot(driver, "training_run.png")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]  # type: ignore[attr-defined]
        assert errors == []
