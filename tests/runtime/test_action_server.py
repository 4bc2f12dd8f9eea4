"""The action server as Rasa reaches it: loopback only, a shared secret, bounded and validated input.

A real ``python -m bot.runtime.action_server`` on a spare port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bot.runtime.action_server import TOKEN_HEADER
from tests.fakes import free_port

TOKEN = "action-test-token"
CODE = "000.00.00.H99-261120-0001"


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("actions")
    port = free_port()
    env = {
        **os.environ,
        "BOT_VAR_DIR": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'bot.db'}",
        "ACTION_SERVER_TOKEN": TOKEN,
        "BIND_HOST": "127.0.0.1",
    }
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
    log = (work / "actions.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.runtime.action_server", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{url}/health", timeout=2)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((work / "actions.log").read_text()) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        Path(work / "actions.log").unlink(missing_ok=True)


def _call(action: str, latest: dict, sender: str = "rest:citizen") -> dict:
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {"sender_id": sender, "slots": {}, "latest_message": latest, "events": [], "paused": False,
                    "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
        "domain": {},
        "version": "3.6.21",
    }  # fmt: skip


def _post(url: str, body: object, token: str | None = TOKEN, **headers: str) -> requests.Response:
    if token is not None:
        headers[TOKEN_HEADER] = token
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{url}/webhook", data=data, headers=headers, timeout=30)


def test_listens_on_loopback_only(action_server: str) -> None:
    port = action_server.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    ours = [line for line in listening.splitlines() if line.split()[3].endswith(f":{port}")]
    assert ours and all("127.0.0.1:" in line for line in ours), ours


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_refuses_callers_without_the_secret(action_server: str, token: str | None) -> None:
    resp = _post(action_server, _call("action_request_human", {"text": "x"}), token=token)
    assert resp.status_code == 401


def test_refuses_compressed_bodies(action_server: str) -> None:
    # 20 MB of spaces deflate to about 20 KB: the old server inflated and parsed it.
    bomb = zlib.compress(b" " * 20_000_000)
    resp = _post(action_server, bomb, **{"Content-Encoding": "deflate"})
    assert resp.status_code == 415


@pytest.mark.parametrize(
    "body",
    [b"", b"null", b"[]", b'"x"', b"5", b"{", b"[" * 100_000, {"tracker": {}}, {"next_action": 5, "tracker": {}},
     {"next_action": "x", "tracker": []}, {"next_action": "x", "tracker": {"sender_id": 5}},
     {"next_action": "x", "tracker": {"latest_message": "bad"}}, {"next_action": "x", "tracker": {"events": "x"}},
     {"next_action": "x", "tracker": {"slots": 5}}],
)  # fmt: skip
def test_malformed_calls_get_400(action_server: str, body: object) -> None:
    resp = _post(action_server, body)
    assert resp.status_code == 400, resp.text
    # Sanic also serves the path with a trailing slash: the same checks apply there.
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    resp = requests.post(f"{action_server}/webhook/", data=data, headers={TOKEN_HEADER: TOKEN}, timeout=30)
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize(
    "entities",
    [
        [{"entity": "status", "value": "99"}, {"entity": "dossier_code", "value": CODE}],
        [{"entity": "status", "value": "²"}, {"entity": "dossier_code", "value": CODE}],
        [{"entity": "status", "value": "\ud800"}, {"entity": "dossier_code", "value": "\ud800"}],
        [{"entity": "status", "value": ["9"]}, {"entity": "dossier_code", "value": {"a": 1}}],
    ],
)
def test_odd_entity_values_never_crash_an_action(action_server: str, entities: list) -> None:
    body = json.dumps(_call("action_notify_dossier_update", {"text": "", "entities": entities}))
    resp = _post(action_server, body.encode("utf-8", "surrogatepass"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["responses"] == []  # nothing said to a conversation on a malformed push


def test_case_button_with_odd_digits_answers(action_server: str) -> None:
    latest = {
        "text": '/ask_documents{"procedure_code": "1.004222", "case": "²"}',
        "intent": {"name": "ask_documents", "confidence": 1.0},
        "entities": [{"entity": "procedure_code", "value": "1.004222"}, {"entity": "case", "value": "²"}],
    }
    resp = _post(action_server, _call("action_answer_procedure", latest))
    assert resp.status_code == 200, resp.text
    assert resp.json()["responses"], "the citizen gets an answer"


def test_a_crash_is_a_polite_reply_without_the_tracker(action_server: str) -> None:
    # An intent that is not an object makes the action raise while reading it.
    body = _call("action_answer_procedure", {"text": "6789 0912345678", "intent": "0912345678"})
    resp = _post(action_server, body)
    assert resp.status_code == 200
    assert "0912345678" not in resp.text and "6789" not in resp.text
    assert resp.json()["responses"][0]["text"].startswith("Dạ")
