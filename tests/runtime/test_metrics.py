"""Prometheus ``/metrics``: the module, the staff console, the action server and the Rasa server.

The metric objects are process-wide (one default registry), so every test reads differences, never
absolute values. The Rasa server's turn counting with a real model is in
``tests/e2e/test_metrics_e2e.py``; here a real ``rasa_entry run`` without a model serves ``/metrics``,
and a message goes through the patched ``MessageProcessor`` with its model-dependent steps stubbed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from bot.db.clock import naive_utc
from bot.helpdesk.calendar_days import CalendarDays
from bot.helpdesk.callbacks import CallbackBook
from bot.helpdesk.handoff import HandoffDesk
from bot.runtime import metrics
from bot.runtime.action_server import TOKEN_HEADER
from bot.settings import settings
from tests.fakes import free_port

METRICS_TOKEN = "metrics-test-token"
ACTION_TOKEN = "action-test-token"
BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def value(name: str, registry: CollectorRegistry = REGISTRY, **labels: str) -> float:
    """A sample's current value in this process (0 when it does not exist yet)."""
    return registry.get_sample_value(name, labels) or 0.0


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition, keyed by (name, labels)."""
    out = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def sample(exposition: str, name: str, **labels: str) -> float:
    """One sample of an exposition (0 when absent)."""
    return samples(exposition).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    settings.cache_clear()
    return METRICS_TOKEN


# ---------------------------------------------------------------------------------------------
# The module


@pytest.mark.parametrize(
    ("header", "ok"),
    [(None, False), ("", False), ("Bearer", False), ("Bearer wrong", False), (f"Basic {METRICS_TOKEN}", False),
     (f"Bearer {METRICS_TOKEN}x", False), (f"Bearer {METRICS_TOKEN}", True), (f"bearer  {METRICS_TOKEN} ", True),
     ("Bearer \ud800", False)],
)  # fmt: skip
def test_token_is_checked_when_set(metrics_token: str, header: str | None, ok: bool) -> None:
    assert metrics.authorized(header) is ok
    result = metrics.scrape(header)
    assert result.status == (200 if ok else 401)
    if not ok:
        assert result.headers["WWW-Authenticate"].startswith("Bearer")
        assert b"dvc_" not in result.body


def test_without_a_token_anyone_may_scrape() -> None:
    assert settings().analytics.metrics_token == ""
    assert metrics.authorized(None) and metrics.authorized("Bearer anything")
    assert metrics.scrape(None).status == 200


def test_exposition_holds_every_metric() -> None:
    metrics.observe_turn("rest", 0.2, fallback=True)
    metrics.count_error("rasa", RuntimeError("boom"))
    metrics.observe_action("action_answer_procedure", "ok", 0.01)
    metrics.set_model("abc123", "20261207-000000-model.tar.gz")
    result = metrics.scrape(None)
    assert result.status == 200 and result.headers["Content-Type"].startswith("text/plain; version=")
    text = result.body.decode()
    for name, kind in (("dvc_turns_total", "counter"), ("dvc_turn_seconds", "histogram"),
                       ("dvc_fallbacks_total", "counter"), ("dvc_errors_total", "counter"),
                       ("dvc_model_info", "gauge"), ("dvc_actions_total", "counter"),
                       ("dvc_action_seconds", "histogram"), ("dvc_console_requests_total", "counter"),
                       ("process_resident_memory_bytes", "gauge")):  # fmt: skip
        assert f"# TYPE {name} {kind}\n" in text, name
    assert 'le="0.05"' in text and 'le="10.0"' in text
    assert sample(text, "dvc_model_info", model_id="abc123", model_file="20261207-000000-model.tar.gz") == 1


def test_counters_and_histograms_move() -> None:
    before = (value("dvc_turns_total", channel="socketio"), value("dvc_fallbacks_total", channel="socketio"),
              value("dvc_turn_seconds_bucket", channel="socketio", le="0.5"),
              value("dvc_turn_seconds_count", channel="socketio"))  # fmt: skip
    metrics.observe_turn("socketio", 0.3)
    metrics.observe_turn("socketio", 3.0, fallback=True)
    after = (value("dvc_turns_total", channel="socketio"), value("dvc_fallbacks_total", channel="socketio"),
             value("dvc_turn_seconds_bucket", channel="socketio", le="0.5"),
             value("dvc_turn_seconds_count", channel="socketio"))  # fmt: skip
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1, 2]


def test_labels_never_carry_user_text() -> None:
    before = value("dvc_turns_total", channel="other")
    metrics.observe_turn("Nguyễn Văn A 0912345678 xin chào", 0.1)
    metrics.observe_turn(None, 0.1)
    metrics.observe_action("x" * 200, "ok", 0.1)
    metrics.count_error("rasa", "kind with spaces and 0912345678")
    assert value("dvc_turns_total", channel="other") == before + 2
    text = metrics.scrape(None).body.decode()
    assert "0912345678" not in text and "Nguyễn" not in text and "x" * 61 not in text


def test_a_new_model_replaces_the_old_one() -> None:
    metrics.set_model("first", "first.tar.gz")
    metrics.set_model("second", "second.tar.gz")
    text = metrics.scrape(None).body.decode()
    infos = [k for k in samples(text) if k[0] == "dvc_model_info"]
    assert infos == [("dvc_model_info", frozenset({("model_id", "second"), ("model_file", "second.tar.gz")}))]


def test_fallback_turn_is_the_record_of_conversations_definition() -> None:
    from bot.conversations.recorder import FALLBACK_ACTIONS, FALLBACK_INTENT

    assert metrics.is_fallback_turn(FALLBACK_INTENT, [])
    for action in FALLBACK_ACTIONS:
        assert metrics.is_fallback_turn("ask_documents", ["action_answer_procedure", action])
    assert not metrics.is_fallback_turn("ask_documents", ["action_answer_procedure", "action_listen"])
    assert not metrics.is_fallback_turn(None, [])


# ---------------------------------------------------------------------------------------------
# Handoffs, from a real database


def test_handoff_gauges_read_the_database(engine: Engine) -> None:
    desk = HandoffDesk(engine)
    registry = CollectorRegistry()
    registry.register(metrics.HandoffGauges(desk, clock=lambda: naive_utc() + timedelta(minutes=5)))  # type: ignore[arg-type]
    assert value("dvc_handoffs_waiting", registry) == 0
    assert value("dvc_handoff_oldest_wait_seconds", registry) == 0
    first = desk.open("socketio:a", "socketio")
    desk.open("telegram_ptb:b", "telegram_ptb")
    third = desk.open("zalo:c", "zalo")
    desk.claim(first.id, "agent1")
    desk.close(desk.claim(third.id, "agent2").id, "agent2", "answered")
    # Read again at every scrape: no cache, so every replica sees the shared queue as it is.
    assert value("dvc_handoffs_waiting", registry) == 1
    assert value("dvc_handoffs_active", registry) == 1
    assert 299 <= value("dvc_handoff_oldest_wait_seconds", registry) <= 330


def test_an_unreadable_database_leaves_the_gauges_out_and_counts_an_error() -> None:
    class Broken:
        def queue(self) -> list[Any]:
            raise ConnectionError("database down")

    registry = CollectorRegistry()
    registry.register(metrics.HandoffGauges(Broken()))  # type: ignore[arg-type]
    before = value("dvc_errors_total", component="metrics", kind="ConnectionError")
    result = metrics.scrape(None, registry)
    assert result.status == 200 and b"dvc_handoffs_waiting " not in result.body
    assert value("dvc_errors_total", component="metrics", kind="ConnectionError") == before + 1


# ---------------------------------------------------------------------------------------------
# The staff console


@pytest.fixture
def console_client(engine: Engine) -> Iterator[TestClient]:
    from bot.console.app import create_app
    from bot.console.auth import Accounts
    from tests.console.conftest import FAST_HASHER
    from tests.console.fakes import FakeRecord, FakeStaffDesk, fake_unseal

    app = create_app(engine=engine, staff_desk=FakeStaffDesk(HandoffDesk(engine)), record=FakeRecord(),
                     accounts=Accounts(engine, hasher=FAST_HASHER), callbacks=CallbackBook(engine),
                     calendar=CalendarDays(engine), unseal=fake_unseal)  # fmt: skip
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_console_metrics_count_requests_by_route_template(console_client: TestClient, engine: Engine) -> None:
    HandoffDesk(engine).open("socketio:waiting", "socketio")
    first = console_client.get("/metrics")
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain; version=")
    assert sample(first.text, "dvc_handoffs_waiting") == 1
    assert console_client.get("/health").status_code == 200
    assert console_client.get("/handoffs/12345").status_code == 303  # anonymous: to the login page
    assert console_client.get("/no/such/page/0912345678").status_code == 404
    second = console_client.get("/metrics").text
    for labels in ({"method": "GET", "route": "/health", "status": "200"},
                   {"method": "GET", "route": "/handoffs/{handoff_id:int}", "status": "303"},
                   {"method": "GET", "route": "unmatched", "status": "404"},
                   {"method": "GET", "route": "/metrics", "status": "200"}):  # fmt: skip
        was = sample(first.text, "dvc_console_requests_total", **labels)
        assert sample(second, "dvc_console_requests_total", **labels) == was + 1, labels
    assert "12345" not in second and "0912345678" not in second


def test_console_metrics_need_the_token_when_set(console_client: TestClient, metrics_token: str) -> None:
    refused = console_client.get("/metrics")
    assert refused.status_code == 401 and "dvc_" not in refused.text
    assert console_client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert console_client.get("/metrics", headers=BEARER).status_code == 200


# ---------------------------------------------------------------------------------------------
# The action server: a real ``python -m bot.runtime.action_server``, as tests/runtime/test_action_server.py


def _start(cmd: list[str], env: dict[str, str], url: str, log_path: Path, cwd: Path | None = None,
           ready: str = "/health", timeout: float = 180) -> subprocess.Popen[bytes]:  # fmt: skip
    log = log_path.open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log, cwd=cwd)
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(f"{url}{ready}", timeout=2)
            return proc
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("actions_metrics")
    port = free_port()
    env = {**os.environ, "BOT_VAR_DIR": str(work), "DATABASE_URL": f"sqlite:///{work / 'bot.db'}",
           "ACTION_SERVER_TOKEN": ACTION_TOKEN, "METRICS_TOKEN": METRICS_TOKEN, "BIND_HOST": "127.0.0.1"}  # fmt: skip
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    proc = _start([sys.executable, "-m", "bot.runtime.action_server", "--port", str(port)], env, url,
                  work / "actions.log")  # fmt: skip
    try:
        yield url
    finally:
        _stop(proc)


def _action(url: str, action: str, latest: dict[str, Any]) -> requests.Response:
    sender = "rest:metrics"
    body = {"next_action": action, "sender_id": sender, "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": latest, "events": [], "paused": False,
                        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}}  # fmt: skip
    return requests.post(f"{url}/webhook", data=json.dumps(body), headers={TOKEN_HEADER: ACTION_TOKEN}, timeout=30)


def test_action_server_metrics_need_the_metrics_token_not_the_action_token(action_server: str) -> None:
    assert requests.get(f"{action_server}/metrics", timeout=10).status_code == 401
    wrong = requests.get(f"{action_server}/metrics", headers={TOKEN_HEADER: ACTION_TOKEN}, timeout=10)
    assert wrong.status_code == 401
    ok = requests.get(f"{action_server}/metrics", headers=BEARER, timeout=10)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE dvc_actions_total counter" in ok.text
    # Every other path still needs the action token.
    assert requests.get(f"{action_server}/actions", timeout=10).status_code == 401


def test_action_server_counts_and_times_actions(action_server: str) -> None:
    def scrape() -> str:
        return requests.get(f"{action_server}/metrics", headers=BEARER, timeout=10).text

    before = scrape()
    ok = _action(action_server, "action_notify_dossier_update", {"text": "", "entities": []})
    crash = _action(action_server, "action_answer_procedure", {"text": "0912345678", "intent": "0912345678"})
    unknown = _action(action_server, "action_no_such_0912345678", {"text": ""})
    assert (ok.status_code, crash.status_code, unknown.status_code) == (200, 200, 404)
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("dvc_actions_total", action="action_notify_dossier_update", outcome="ok") == 1
    assert moved("dvc_action_seconds_count", action="action_notify_dossier_update") == 1
    assert moved("dvc_actions_total", action="action_answer_procedure", outcome="error") == 1
    assert moved("dvc_errors_total", component="actions", kind="AttributeError") == 1
    assert moved("dvc_actions_total", action="other", outcome="not_found") == 1
    assert "0912345678" not in after


# ---------------------------------------------------------------------------------------------
# The Rasa server


def _route_paths(app: Any) -> set[str]:
    return {"/" + route.path.lstrip("/") for route in app.router.routes}


@pytest.mark.parametrize("enable_api", [True, False])
def test_rasa_app_gets_the_route_with_and_without_the_api(enable_api: bool) -> None:
    import rasa.core.run

    from bot.runtime.rasa_patches import apply_all

    apply_all()
    app = rasa.core.run.configure_app(None, enable_api=enable_api, auth_token="t" if enable_api else None,
                                      use_uvloop=False)  # fmt: skip
    paths = _route_paths(app)
    assert "/metrics" in paths
    assert ("/status" in paths) is enable_api


async def test_a_turn_through_the_patched_processor_is_counted_timed_and_a_fallback() -> None:
    """``handle_message`` with Rasa's own ``log_message``; the tracker fetch, slot extraction, prediction
    loop and tracker saving stubbed (they need a model and a tracker store)."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.data import TrainingType

    from bot.runtime.rasa_patches import apply_all

    apply_all()
    apply_all()  # idempotent: one wrapper, one count per turn

    def processor(actions: list[str], crash: bool = False) -> MessageProcessor:
        proc = object.__new__(MessageProcessor)
        tracker = DialogueStateTracker("rest:metrics", slots=[])

        async def fetch(*_: Any) -> DialogueStateTracker:
            return tracker

        async def extract(_: Any, tr: DialogueStateTracker) -> DialogueStateTracker:
            return tr

        async def loop(_: Any, tr: DialogueStateTracker) -> None:
            for name in actions:
                tr.update(ActionExecuted(name))
            if crash:
                raise KeyError("boom")

        async def nothing(*_: Any) -> None:
            return None

        stubs = {"domain": Domain.empty(), "model_metadata": SimpleNamespace(training_type=TrainingType.BOTH),
                 "fetch_tracker_and_update_session": fetch, "run_action_extract_slots": extract,
                 "_run_prediction_loop": loop, "run_anonymization_pipeline": nothing,
                 "save_tracker": nothing}  # fmt: skip
        for name, stub in stubs.items():
            setattr(proc, name, stub)
        return proc

    def message(intent: str, channel: str = "rest") -> UserMessage:
        parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": "xin chào"}
        return UserMessage("xin chào", CollectingOutputChannel(), "rest:metrics", input_channel=channel,
                           parse_data=parse)  # fmt: skip

    before = (value("dvc_turns_total", channel="rest"), value("dvc_fallbacks_total", channel="rest"),
              value("dvc_turn_seconds_count", channel="rest"))  # fmt: skip
    await MessageProcessor.handle_message(processor(["action_answer_procedure", "action_listen"]), message("greet"))
    await MessageProcessor.handle_message(processor(["action_fallback_ladder", "action_listen"]), message("greet"))
    await MessageProcessor.handle_message(processor(["action_listen"]), message("nlu_fallback"))
    after = (value("dvc_turns_total", channel="rest"), value("dvc_fallbacks_total", channel="rest"),
             value("dvc_turn_seconds_count", channel="rest"))  # fmt: skip
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 2, 3]

    errors = value("dvc_errors_total", component="rasa", kind="KeyError")
    turns = value("dvc_turns_total", channel="telegram_ptb")
    with pytest.raises(KeyError):
        await MessageProcessor.handle_message(processor([], crash=True), message("greet", "telegram_ptb"))
    assert value("dvc_errors_total", component="rasa", kind="KeyError") == errors + 1
    assert value("dvc_turns_total", channel="telegram_ptb") == turns + 1


@pytest.fixture(scope="module")
def rasa_without_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m bot.runtime.rasa_entry run --enable-api`` as the runner starts it, with no model
    (``/metrics`` needs none), REST only, no endpoints file."""
    work = tmp_path_factory.mktemp("rasa_metrics")
    (work / "credentials.yml").write_text("rest:\n")
    port = free_port()
    env = {**os.environ, "BOT_VAR_DIR": str(work / "var"), "DATABASE_URL": f"sqlite:///{work / 'bot.db'}",
           "RASA_TOKEN": "rasa-test-token", "METRICS_TOKEN": METRICS_TOKEN}  # fmt: skip
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "bot.runtime.rasa_entry", "run", "--enable-api", "--interface", "127.0.0.1",
           "--port", str(port), "--credentials", "credentials.yml", "--model", str(work / "no-model")]  # fmt: skip
    proc = _start(cmd, env, url, work / "rasa.log", cwd=work, ready="/")
    try:
        yield url
    finally:
        _stop(proc)


@pytest.mark.slow
def test_rasa_server_serves_metrics_outside_its_api_token(rasa_without_model: str) -> None:
    url = rasa_without_model
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 401
    with_api_token = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer rasa-test-token"}, timeout=10)
    assert with_api_token.status_code == 401
    ok = requests.get(f"{url}/metrics", headers=BEARER, timeout=30)
    assert ok.status_code == 200, ok.text
    for name in ("dvc_turns_total", "dvc_turn_seconds", "dvc_fallbacks_total", "dvc_errors_total", "dvc_model_info"):
        assert f"# TYPE {name} " in ok.text, name
    # The handoff gauges read the server's (migrated, empty) database.
    assert sample(ok.text, "dvc_handoffs_waiting") == 0
    assert re.search(r"^dvc_handoffs_waiting 0\.0$", ok.text, re.M)
    # The API still needs its own token.
    assert requests.get(f"{url}/status", timeout=10).status_code == 401
