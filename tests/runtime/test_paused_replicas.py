"""Production profile: two Rasa replicas on this machine's PostgreSQL (tracker store), Redis (lock store)
and RabbitMQ (event broker), sharing one conversation that a person holds: neither replica answers it,
``/restart`` included; once the handoff is closed in the database, either replica answers again.

Skips with a message when PostgreSQL, Redis or RabbitMQ is absent, or no model is trained yet.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from bot.catalog.loader import load_curated
from bot.channels.credentials import write_credentials
from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.helpdesk.handoff import HandoffDesk
from bot.settings import PROJECT_ROOT, overridden
from tests.fakes import free_port
from tests.rabbitmq import delete_queues

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TOKEN = "replicas-rasa-token"
ACTION_TOKEN = "replicas-action-token"
REST = "/webhooks/rest/webhook"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    services = (("PostgreSQL", 5432), ("Redis", 6379), ("RabbitMQ", 5672))
    missing = [name for name, port in services if not _reachable(port)]
    if missing:
        pytest.skip(f"production profile needs {', '.join(missing)} on 127.0.0.1")
    from bot.runtime.model import model_path

    model = model_path()
    if not model.is_file():
        pytest.skip("no trained model for the current data yet (make train)")
    import psycopg2

    work = tmp_path_factory.mktemp("replicas")
    tracker_db = f"dvc_replicas_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {tracker_db}")
    app_url = f"sqlite:///{work / 'bot.db'}"
    engine = make_engine(app_url)
    ensure_schema(engine)
    load_curated(engine=engine)
    engine.dispose()
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.prod.yml").read_text(encoding="utf-8"))
    queue = f"dvc_events_{uuid.uuid4().hex[:8]}"
    endpoints["event_broker"]["queues"] = [queue]  # not the machine's real queue
    endpoints_file = work / "endpoints.yml"
    endpoints_file.write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    action_port = free_port()
    with overridden(BOT_VAR_DIR=str(work)):  # no channel secrets set: REST (and the disabled others) only
        credentials = write_credentials(work / "credentials.yml")
    env = {
        **os.environ,
        "BOT_VAR_DIR": str(work),
        "DATABASE_URL": app_url,
        "RASA_TOKEN": TOKEN,
        "ACTION_SERVER_TOKEN": ACTION_TOKEN,
        "ACTION_SERVER_URL": f"http://127.0.0.1:{action_port}/webhook",
        "TRACKER_DB_HOST": "127.0.0.1", "TRACKER_DB_PORT": "5432", "TRACKER_DB_NAME": tracker_db,
        "TRACKER_DB_USER": "postgres", "TRACKER_DB_PASSWORD": "",
        "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_DB": "3",
        "RABBITMQ_HOST": "127.0.0.1", "RABBITMQ_USER": "guest", "RABBITMQ_PASSWORD": "guest",
        "RABBITMQ_QUEUE": "dvc_events", "REDIS_PASSWORD": "",
        "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3",
    }  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        log = (work / "actions.log").open("wb")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "bot.runtime.action_server", "--actions", "actions", "--port", str(action_port)],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))  # fmt: skip
        for n in (1, 2):
            port = free_port()
            log = (work / f"rasa{n}.log").open("wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "bot.runtime.rasa_entry", "run", "--model", str(model), "--enable-api",
                 "--interface", "127.0.0.1", "--port", str(port), "--endpoints", str(endpoints_file),
                 "--credentials", str(credentials)],
                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs[1:], strict=True):
            deadline = time.monotonic() + 300
            while not _answers(url):
                assert proc.poll() is None, f"a replica exited: see {work}/rasa*.log"
                assert time.monotonic() < deadline, f"replica {url} did not start within 300 s"
                time.sleep(0.5)
        yield urls, app_url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {tracker_db} WITH (FORCE)")
        admin.close()
        delete_queues(queue)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/status", params={"token": TOKEN}, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _say(url: str, sender: str, text: str) -> list[dict]:
    resp = requests.post(f"{url}{REST}", json={"sender": sender, "message": text}, timeout=60)
    resp.raise_for_status()
    return resp.json()


def test_two_replicas_leave_a_paused_conversation_to_the_person(replicas: tuple[list[str], str]) -> None:
    (one, two), app_url = replicas
    sender = f"replica-{uuid.uuid4().hex[:8]}"
    conversation = f"rest:{sender}"
    assert _say(one, sender, "xin chào"), "the bot answers before the handoff"
    engine = make_engine(app_url)
    handoff = HandoffDesk(engine).open(conversation, "rest")
    # Taken by a person (nobody is online here: a conversation still waiting would be given back).
    HandoffDesk(engine).claim(handoff.id, "an")
    pause = requests.post(f"{one}/conversations/{conversation}/tracker/events", params={"token": TOKEN},
                          json=[{"event": "pause"}], timeout=30)  # fmt: skip
    assert pause.status_code == 200, pause.text
    for url, text in ((two, "đăng ký tạm trú cần giấy tờ gì"), (one, "/restart"), (two, "/restart"),
                      (one, "alo"), (two, "/greet"), (one, "cho tôi gặp cán bộ")):  # fmt: skip
        assert _say(url, sender, text) == [], f"{url} answered {text!r} while a person held the conversation"
    tracker = requests.get(f"{two}/conversations/{conversation}/tracker", params={"token": TOKEN}, timeout=30).json()
    assert tracker["paused"] is True
    texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert "alo" in texts, "the citizen's messages are still stored for the staff"

    HandoffDesk(engine).close(handoff.id, "an", "answered")
    answered = _say(two, sender, "đăng ký tạm trú cần giấy tờ gì")
    assert any("1.004194" in (m.get("text") or "") for m in answered), answered
    engine.dispose()
    assert Path(app_url.removeprefix("sqlite:///")).is_file()
