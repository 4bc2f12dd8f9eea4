"""The console in headless Chromium: htmx works under the CSP, a new citizen shows up without a reload."""

from __future__ import annotations

import time

from tests.browser import chromium, screenshot, wait_for
from tests.console.conftest import PASSWORD, Console
from tests.console.fakes import turn


def test_queue_polls_and_a_handoff_is_claimed_and_answered(console: Console, served: str) -> None:
    with chromium() as driver:
        from selenium.webdriver.common.by import By

        driver.get(f"{served}/login")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "username").send_keys("agent")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
        wait_for(lambda: "Hàng chờ" in driver.page_source, what="the queue page")  # type: ignore[attr-defined]
        h = console.desk.open("socketio:browser", "socketio")
        console.record.add("socketio:browser", turn(1, "citizen", "<b>cho tôi gặp cán bộ</b>"))
        started = time.monotonic()
        wait_for(lambda: "&lt;b&gt;cho tôi gặp cán bộ" in driver.page_source, 5, "the new citizen")  # type: ignore[attr-defined]
        assert time.monotonic() - started < 2.5
        driver.get(f"{served}/handoffs/{h.id}")  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "#handoff-panel button.primary").click()  # type: ignore[attr-defined]
        box = wait_for(lambda: driver.find_element(By.ID, "reply-text"), what="the reply form")  # type: ignore[attr-defined]
        box.send_keys("Chào anh, tôi là cán bộ hỗ trợ.")
        driver.find_element(By.CSS_SELECTOR, "#handoff-panel form[action$='/reply'] button").click()  # type: ignore[attr-defined]
        wait_for(lambda: "Đã gửi" in driver.page_source, what="the reply result")  # type: ignore[attr-defined]
        console.record.add("socketio:browser", turn(2, "citizen", "cảm ơn anh"))
        wait_for(lambda: "cảm ơn anh" in driver.page_source, 5, "the new turn")  # type: ignore[attr-defined]
        screenshot(driver, "console_handoff.png")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]  # type: ignore[attr-defined]
        assert errors == []
    assert ("reply", h.id, "agent", "Chào anh, tôi là cán bộ hỗ trợ.") in console.staff.actions()


def test_the_dashboard_draws_its_charts_under_the_csp(console: Console, served: str) -> None:
    from datetime import date, datetime

    from bot.analytics.rollup import Rollup
    from tests.analytics.traffic import generate

    generate(console.engine, date(2026, 12, 6), days=7, per_day=60)
    Rollup(console.engine, clock=lambda: datetime(2026, 12, 7, 3)).pending()
    with chromium() as driver:
        from selenium.webdriver.common.by import By

        driver.set_window_size(1400, 2600)  # type: ignore[attr-defined]
        driver.get(f"{served}/login?next=/analytics%3Ffrom%3D2026-11-30%26to%3D2026-12-06")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "username").send_keys("supervisor")  # type: ignore[attr-defined]
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()  # type: ignore[attr-defined]
        wait_for(lambda: "Thống kê" in driver.page_source, what="the dashboard")  # type: ignore[attr-defined]
        drawn = wait_for(
            lambda: driver.execute_script(  # type: ignore[attr-defined]
                "return Array.from(document.querySelectorAll('canvas[data-chart]'))"
                ".filter(c => window.Chart && Chart.getChart(c)).length"
            ) == 7,
            10,
            "seven charts drawn by Chart.js",
        )
        assert drawn
        screenshot(driver, "dashboard.png")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]  # type: ignore[attr-defined]
        assert errors == []
