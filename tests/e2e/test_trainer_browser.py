"""The trainer loop end to end in headless Chromium, against a real Rasa server (issue 15's closing test).

On a copy of the tiny project (tests/fixtures/trainer_bot, keyword intents and rules: it trains in seconds):

1. a first model is trained with the real run code (:meth:`TrainingRuns.execute`) and promoted (no live model yet,
   so the gate only asks for the story tests); a real Rasa server (``bot.runtime.rasa_entry run --enable-api``,
   the project's masking tracker store and :class:`RecordingEventBroker`, our REST channel) serves it;
2. three questions about office hours are sent to its REST webhook: no intent matches, the rules fall back, and
   the event broker writes them into the record of conversations, where the trainer's inbox finds them;
3. in Chromium a trainer opens the inbox, creates ``ask_office_hours`` with its answer and the three rows ticked
   (plus typed examples), starts an incremental training (which trains from scratch: a new intent changes the
   labels), watches the progress page until it is done, opens the comparison, and promotes the candidate;
4. the same Rasa process (never restarted) answers a fourth, unseen wording with the new answer;
5. the trainer rolls back to the first model, and the same wording no longer gets that answer.

Each phase is timed and printed (``-s``); the comparison page is saved to /tmp/e2e_compare.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
import yaml

from bot.console.app import create_app
from bot.console.auth import Accounts
from bot.console.training import default_training_desk
from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.callbacks import CallbackBook
from bot.privacy.lifecycle import DataLifecycle
from bot.privacy.models import TRACKER_EVENTS
from bot.settings import overridden
from bot.training.data import key_hash
from bot.training.inbox import Inbox, InboxFilter
from bot.training.project import rasa_env
from bot.training.registry import ModelRegistry
from bot.training.runs import TrainingRuns
from tests.browser import chromium, wait_for
from tests.console.conftest import FAST_HASHER, PASSWORD
from tests.fakes import free_port

pytestmark = pytest.mark.slow

TRAINER_BOT = Path(__file__).resolve().parents[1] / "fixtures" / "trainer_bot"
FELL_BACK = (
    "mấy giờ thì bộ phận một cửa mở cửa",
    "sáng thứ bảy có làm việc không",
    "trưa có nhận hồ sơ không",
)
# Typed by the trainer under the inbox rows. The tiny project classifies by keywords, so an unseen wording is
# understood when it contains one of the examples ("mấy giờ"); "mở cửa lúc mấy giờ" falls in the held-out fifth
# (bot.training.writer.is_held_out), so the comparison's "reviewed" row is measured too.
TYPED = ("mấy giờ", "giờ làm việc", "mở cửa lúc mấy giờ")
UNSEEN = "chiều thứ sáu mấy giờ đóng cửa vậy"
INTENT = "ask_office_hours"
RESPONSE = "Dạ, bộ phận một cửa làm việc từ 7 giờ 30 đến 17 giờ, từ thứ Hai đến thứ Sáu, và sáng thứ Bảy."
# The evaluation set of the copy also asks about office hours (what the live model cannot answer yet), so the
# comparison has an ask_office_hours row: live 0 % -> candidate 100 %.
HOLDOUT_EXTRA = """\
- intent: ask_office_hours
  examples: |
    - thứ bảy mấy giờ mở cửa
    - cho hỏi giờ làm việc ở đây
"""
SCREENSHOT = Path("/tmp/e2e_compare.png")
TOKEN = "e2e-trainer-rasa-token"


class Phases:
    """Wall-clock time of each phase, and of the trainer's loop (inbox to rollback), printed at the end."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self.start = time.monotonic()
        self.loop: list[float] = []

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.times.append((name, time.monotonic() - began))
            print(f"[e2e trainer] {name}: {self.times[-1][1]:.1f} s", flush=True)

    def mark_loop(self) -> None:
        self.loop.append(time.monotonic())

    def report(self) -> str:
        lines = [f"  {name:<56} {seconds:6.1f} s" for name, seconds in self.times]
        if len(self.loop) == 2:
            lines.append(f"  {'the trainer loop (inbox -> answered -> rolled back)':<56} "
                         f"{self.loop[1] - self.loop[0]:6.1f} s")  # fmt: skip
        lines.append(f"  {'total':<56} {time.monotonic() - self.start:6.1f} s")
        return "\n".join(lines)


def _require_chromium() -> None:
    pytest.importorskip("selenium.webdriver")
    if not (shutil.which("chromium") or shutil.which("chromium-browser")) or not shutil.which("chromedriver"):
        pytest.skip("Debian chromium and chromium-driver are not installed (scripts/install_debian.sh)")


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(TRAINER_BOT, root)
    holdout = root / "tests" / "nlu" / "holdout.yml"
    holdout.write_text(holdout.read_text(encoding="utf-8") + HOLDOUT_EXTRA, encoding="utf-8")
    return root


def _rasa_files(work: Path, database_url: str) -> tuple[Path, Path]:
    """Credentials (our REST channel only) and endpoints (the masking SQLite tracker store in ``work``, the
    record of conversations in the test database; no action server: the tiny project has no custom action)."""
    credentials = work / "credentials.yml"
    credentials.write_text("bot.channels.rest.RestInput:\n", encoding="utf-8")
    endpoints = work / "endpoints.yml"
    endpoints.write_text(
        yaml.safe_dump(
            {
                "tracker_store": {
                    "type": "bot.runtime.tracker_store.PrivateSQLTrackerStore",
                    "dialect": "sqlite",
                    "db": str(work / "tracker.db"),
                },
                "event_broker": {"type": "bot.runtime.event_broker.RecordingEventBroker", "url": database_url},
            }
        ),
        encoding="utf-8",
    )
    return credentials, endpoints


def _start_rasa(root: Path, model: Path, port: int, work: Path, database_url: str) -> subprocess.Popen[bytes]:
    credentials, endpoints = _rasa_files(work, database_url)
    env = rasa_env(serving=True)  # os.environ (the overridden settings) plus Rasa's quiet defaults
    log = (work / "rasa.log").open("ab")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "bot.runtime.rasa_entry", "run", "--model", str(model), "--enable-api",
            "--interface", "127.0.0.1", "--port", str(port), "--credentials", str(credentials),
            "--endpoints", str(endpoints),
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    log.close()
    return proc


def _wait_rasa(proc: subprocess.Popen[bytes], url: str, work: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (work / "rasa.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise AssertionError(f"Rasa exited with code {proc.returncode}:\n{tail}")
        with suppress(requests.RequestException):
            status = requests.get(f"{url}/status", params={"token": TOKEN}, timeout=2)
            if status.ok and status.json().get("model_file"):
                return
        time.sleep(0.5)
    raise AssertionError(f"Rasa did not answer within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _say(url: str, text: str) -> list[str]:
    """One message from a new conversation over the REST webhook; the bot's texts."""
    response = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": f"e2e-{uuid.uuid4().hex[:8]}",
                                                                   "message": text}, timeout=30)  # fmt: skip
    response.raise_for_status()
    return [m.get("text") or "" for m in response.json()]


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15, "the console server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


# -- the trainer in the browser (``driver`` is a Selenium Chrome driver) --------------------------------------------


@contextmanager
def _chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """:func:`tests.browser.chromium`, started with its caches (dconf, GSettings) away from the home folder."""
    stack = ExitStack()
    with monkeypatch.context() as env:  # chromedriver and Chromium take the environment when they start
        env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
        env.setenv("GSETTINGS_BACKEND", "memory")
        driver = stack.enter_context(chromium())
    with stack:
        yield driver


def _page(driver: Any) -> str:
    return str(driver.page_source)


def _login(driver: Any, console: str, user: str, target: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{console}/login?next={target}")
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def _new_intent(driver: Any, console: str, keys: list[str]) -> None:
    """From the first row's "New intent…" to the form, with the three rows ticked; create the intent."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    row = f"#item-{keys[0]}"
    Select(driver.find_element(By.CSS_SELECTOR, f"{row} select[name=intent]")).select_by_value("__new__")
    driver.find_element(By.CSS_SELECTOR, f"{row} button[formaction$='/change']").click()
    wait_for(lambda: "/training/intents/new" in driver.current_url, 10, "the new-intent form")
    # The form takes several rows (?key=…&key=…): the same page with the three rows chosen.
    driver.get(f"{console}/training/intents/new?" + "&".join(f"key={k}" for k in keys))
    boxes = [driver.find_element(By.CSS_SELECTOR, f"input[name=key][value='{k}']") for k in keys]
    assert all(box.is_selected() for box in boxes)
    name = driver.find_element(By.NAME, "name")
    name.clear()
    name.send_keys(INTENT)
    driver.find_element(By.NAME, "response").send_keys(RESPONSE)
    driver.find_element(By.NAME, "examples").send_keys("\n".join(TYPED))
    driver.find_element(By.CSS_SELECTOR, "form.stack button.primary").click()
    created = f"Đã thêm ý định {INTENT} với {len(FELL_BACK) + len(TYPED)} câu mẫu."
    wait_for(lambda: created in _page(driver), 15, "the intent created")


def _train(driver: Any, console: str) -> int:
    """Start an incremental run from /training/runs and follow its page until it ends; the run's id."""
    from selenium.webdriver.common.by import By

    driver.get(f"{console}/training/runs")
    driver.find_element(By.CSS_SELECTOR, "input[name=kind][value=incremental]").click()
    driver.find_element(By.CSS_SELECTOR, "form.inline-form button.primary").click()
    wait_for(lambda: "/training/runs/" in driver.current_url, 10, "the run's page")
    run_id = int(driver.current_url.rstrip("/").rsplit("/", 1)[1])
    ended = "#run-progress .run-done, #run-progress .run-failed, #run-progress .run-reused"
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ended), 240, "the end of the run (htmx polling)")
    return run_id


def _check_comparison(driver: Any, candidate: int) -> bool:
    """The comparison page of ``candidate`` (opened from the run's page): headline and per-intent tables; whether
    the gate passed."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"#run-progress a[href='/training/models/{candidate}']").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "table.compare.small"), 10, "the comparison")
    headline = driver.find_elements(By.CSS_SELECTOR, "table.list.compare:not(.small) tbody tr")
    assert len(headline) == 5, [r.text for r in headline]  # overall, no diacritics, teencode, reviewed, stories
    overall = headline[0].text
    assert "75.0 %" in overall and "100.0 %" in overall and "+25.0" in overall, overall  # 6/8 held out, then 8/8
    rows = driver.find_elements(By.CSS_SELECTOR, "table.compare.small tbody tr")
    intents = {r.find_element(By.TAG_NAME, "th").text: r for r in rows}
    assert set(intents) == {"greet", "ask_documents", "thank", INTENT}, list(intents)
    assert "intent-better" in (intents[INTENT].get_attribute("class") or ""), intents[INTENT].text
    assert "+100.0" in intents[INTENT].text
    driver.save_screenshot(str(SCREENSHOT))
    return "Mô hình đạt mọi ngưỡng kiểm tra." in _page(driver)


def _promote(driver: Any, console: str, candidate: int, gate_passed: bool) -> str:
    """Promote from the comparison page; a failed gate is overridden by a supervisor with a reason. Who did it."""
    from selenium.webdriver.common.by import By

    if gate_passed:
        driver.find_element(By.CSS_SELECTOR, f"form[action='/training/models/{candidate}/promote'] button").click()
        done, who = f"Mô hình #{candidate} đã được đưa vào sử dụng.", "trainer"
    else:
        _login(driver, console, "chief", f"/training/models/{candidate}")
        form = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "form[action$='/override']"), 10, "override")
        form.find_element(By.NAME, "reason").send_keys("Ý định mới về giờ làm việc, đã kiểm tra bằng tay.")
        form.find_element(By.CSS_SELECTOR, "button").click()
        done, who = f"Mô hình #{candidate} đã được đưa vào sử dụng dù chưa đạt ngưỡng", "supervisor (override)"
    wait_for(lambda: done in _page(driver), 120, "the promotion")
    return who


def _rollback(driver: Any, console: str, model_id: int) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{console}/training/models")
    driver.find_element(By.CSS_SELECTOR, f"form[action='/training/models/{model_id}/rollback'] button").click()
    wait_for(lambda: f"Đã quay lại mô hình #{model_id}." in _page(driver), 120, "the rollback")


def _browser_errors(driver: Any) -> list[Any]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]


# -- the test --------------------------------------------------------------------------------------------------------


def test_fell_back_questions_become_an_intent_the_running_bot_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require_chromium()
    phases = Phases()
    root = _project(tmp_path)
    work = tmp_path / "run"
    work.mkdir()
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    rasa_url = f"http://127.0.0.1:{free_port()}"
    env = {"DATABASE_URL": database_url, "BOT_VAR_DIR": str(tmp_path / "var"), "RASA_URL": rasa_url,
           "RASA_URLS": rasa_url, "RASA_TOKEN": TOKEN, "TRAINING_LOAD_TIMEOUT": "120"}  # fmt: skip
    rasa: subprocess.Popen[bytes] | None = None
    with overridden(**env):
        engine = make_engine(database_url)
        tracker = make_engine(f"sqlite:///{work / 'tracker.db'}")
        try:
            ensure_schema(engine)
            registry = ModelRegistry(engine)
            runs = TrainingRuns(engine, registry)
            with phases("setup: first model trained, evaluated, promoted"):
                first = runs.execute(runs.start("setup", root=root, detach=False).id)
                assert first.state == "done" and first.model_id is not None, first.log_tail
                registry.promote(first.model_id, "setup")  # no live model yet: the gate asks only for the stories
                live_file = Path(registry.get(first.model_id).model_file)
            with phases("setup: Rasa started on the live model"):
                rasa = _start_rasa(root, live_file, int(rasa_url.rsplit(":", 1)[1]), work, database_url)
                _wait_rasa(rasa, rasa_url, work)
                pid = rasa.pid
            with phases("citizens: three questions fall back, into the record"):
                for text in FELL_BACK:
                    assert _say(rasa_url, text) == []  # no rule: action_default_fallback (no utter_default here)
                inbox = Inbox(engine)
                keys = [key_hash(t) for t in FELL_BACK]
                fell_back = lambda: {i.key for i in inbox.list(InboxFilter(fallback=True))} >= set(keys)  # noqa: E731
                wait_for(fell_back, 15, "the three fell-back turns in the record")
            accounts = Accounts(engine, hasher=FAST_HASHER)
            accounts.create("trainer", PASSWORD, "trainer", "Cán bộ huấn luyện")
            accounts.create("chief", PASSWORD, "supervisor", "Trưởng nhóm")
            TRACKER_EVENTS.create(tracker, checkfirst=True)
            app = create_app(engine=engine, accounts=accounts, callbacks=CallbackBook(engine),
                             calendar=CalendarDays(engine), privacy=DataLifecycle(engine, tracker),
                             training=default_training_desk(engine, root))  # fmt: skip
            with _serve(app) as console, _chromium(tmp_path, monkeypatch) as driver:
                driver.set_window_size(1400, 2000)
                phases.mark_loop()
                with phases("browser: log in, the inbox shows the three rows"):
                    _login(driver, console, "trainer", "/training")
                    wait_for(lambda: all(t in _page(driver) for t in FELL_BACK), 20, "the three rows in the inbox")
                with phases("browser: new intent ask_office_hours with its answer"):
                    _new_intent(driver, console, keys)
                    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
                    assert INTENT in domain["intents"]
                    assert domain["responses"][f"utter_{INTENT}"] == [{"text": RESPONSE}]
                    assert not {i.key for i in inbox.list()} & set(keys), "the rows left the inbox"
                with phases("browser: incremental training, progress page to done"):
                    run = runs.get(_train(driver, console))
                    assert run is not None and run.state == "done", run and run.log_tail
                    assert run.kind == "incremental" and "training from scratch" in run.log_tail, run.log_tail
                    candidate = run.model_id
                    assert candidate is not None and candidate != first.model_id
                with phases("browser: comparison page"):
                    gate_passed = _check_comparison(driver, candidate)
                with phases("browser: promote (PUT /model on the running Rasa)"):
                    promoted_by = _promote(driver, console, candidate, gate_passed)
                    assert registry.live().id == candidate
                with phases("citizen: an unseen wording gets the new answer"):
                    assert rasa.poll() is None and rasa.pid == pid, "Rasa was restarted"
                    assert _say(rasa_url, UNSEEN) == [RESPONSE]
                with phases("browser: roll back to the first model"):
                    _rollback(driver, console, first.model_id)
                    assert registry.live().id == first.model_id
                with phases("citizen: the same wording falls back again"):
                    assert rasa.poll() is None and rasa.pid == pid, "Rasa was restarted"
                    assert _say(rasa_url, UNSEEN) == []
                    status = requests.get(f"{rasa_url}/status", params={"token": TOKEN}, timeout=5).json()
                    assert Path(status["model_file"]).name == live_file.name
                phases.mark_loop()
                assert _browser_errors(driver) == []
            print(f"[e2e trainer] promoted by: {promoted_by}", flush=True)
        finally:
            _stop(rasa)
            engine.dispose()
            tracker.dispose()
            print("[e2e trainer] phases:\n" + phases.report(), flush=True)
