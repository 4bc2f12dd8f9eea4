"""The security issue's findings, each tried against the real running assistant (``running_bot``).

Rasa's HTTP API needs the token; CORS allows only the configured origins; the REST
channel validates its input; socket.io sessions cannot be taken over; a push reaches
only a conversation that follows the dossier; the dossier digits reach no store and no
log; and files are private.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import stat
import subprocess
from typing import Any

import pytest
import requests
import socketio

from tests.fakes import RASA_TOKEN, REST_WEBHOOK, RunningBot, joined

pytestmark = pytest.mark.slow
CODE = "000.00.00.H99-261120-0001"  # the README's demo dossier; its digits are 6789
REST = REST_WEBHOOK


def _texts(resp: requests.Response) -> str:
    return joined(resp.json())


def _rest(base: str, body: Any, raw: bytes | None = None, **kwargs: Any) -> requests.Response:
    if raw is not None:
        return requests.post(base + REST, data=raw, headers={"Content-Type": "application/json"}, timeout=60, **kwargs)
    return requests.post(base + REST, json=body, timeout=60, **kwargs)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/conversations/x/tracker"),
        ("POST", "/conversations/x/tracker/events"),
        ("PUT", "/conversations/x/tracker/events"),
        ("POST", "/conversations/x/trigger_intent"),
        ("POST", "/conversations/x/messages"),
        ("POST", "/model/parse"),
        ("PUT", "/model"),
        ("POST", "/model/train"),
        ("GET", "/status"),
    ],
)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_rasa_api_needs_the_token(running_bot: str, method: str, path: str, token: str | None) -> None:
    params = {"token": token} if token else {}
    resp = requests.request(method, running_bot + path, params=params, json={}, timeout=30)
    assert resp.status_code == 401, (method, path, resp.status_code)


def test_rasa_api_answers_with_the_token(running_bot: str) -> None:
    resp = requests.get(f"{running_bot}/status", params={"token": RASA_TOKEN}, timeout=30)
    assert resp.status_code == 200


def test_cors_allows_only_configured_origins(running_bot: str) -> None:
    evil = requests.get(f"{running_bot}/", headers={"Origin": "http://evil.example"}, timeout=30)
    assert evil.headers.get("Access-Control-Allow-Origin") in (None, "")
    own = requests.get(f"{running_bot}/", headers={"Origin": running_bot}, timeout=30)
    assert own.headers.get("Access-Control-Allow-Origin") == running_bot


@pytest.mark.parametrize(
    "raw",
    [b"", b"[]", b'"hello"', b"5", b"null", b"{", b"[" * 100_000, b'{"message": "hi"}',
     b'{"sender": "", "message": "hi"}', b'{"sender": 5, "message": "hi"}', b'{"sender": "me", "message": 5}',
     b'{"sender": "me", "message": null}', b'{"sender": "me", "message": "hi", "metadata": []}',
     ('{"sender": "' + "a" * 100_000 + '", "message": "hi"}').encode()],
)  # fmt: skip
def test_rest_refuses_malformed_bodies(running_bot: str, raw: bytes) -> None:
    resp = _rest(running_bot, None, raw=raw)
    assert resp.status_code == 400, resp.text
    assert "error" in resp.json()


def test_rest_answers_a_long_message_politely_without_the_nlu(running_bot: str) -> None:
    resp = _rest(running_bot, {"sender": "long-one", "message": "a" * 100_000})
    assert resp.status_code == 200
    assert "dài quá" in resp.json()[0]["text"] and resp.json()[0]["recipient_id"] == "long-one"
    # Nothing reached a tracker for this sender.
    tracker = requests.get(
        f"{running_bot}/conversations/rest:long-one/tracker", params={"token": RASA_TOKEN}, timeout=30
    ).json()
    assert not [e for e in tracker["events"] if e["event"] == "user"]


def test_rest_conversations_are_namespaced(running_bot: str) -> None:
    resp = _rest(running_bot, {"sender": "socketio:someone", "message": "xin chào"})
    assert resp.status_code == 200 and resp.json()[0]["recipient_id"] == "socketio:someone"
    tracker = requests.get(
        f"{running_bot}/conversations/rest:socketio:someone/tracker", params={"token": RASA_TOKEN}, timeout=30
    ).json()
    assert any(e["event"] == "user" for e in tracker["events"])


def test_a_typed_external_intent_is_only_text(running_bot: str) -> None:
    payload = '/EXTERNAL_dossier_update{"dossier_code": "http://evil.example", "status": "9"}'
    resp = _rest(running_bot, {"sender": "fake-push", "message": payload})
    assert resp.status_code == 200
    assert "evil.example" not in _texts(resp) and "Đã xử lý xong" not in _texts(resp)


def test_trigger_intent_cannot_push_to_a_conversation_that_does_not_follow_the_dossier(running_bot: str) -> None:
    _rest(running_bot, {"sender": "victim", "message": "xin chào"})
    resp = requests.post(
        f"{running_bot}/conversations/rest:victim/trigger_intent",
        params={"token": RASA_TOKEN},
        json={"name": "EXTERNAL_dossier_update", "entities": {"dossier_code": "http://evil.example", "status": "9"}},
        timeout=60,
    )
    assert resp.status_code == 200
    assert resp.json().get("messages") == []
    resp = requests.post(
        f"{running_bot}/conversations/rest:victim/trigger_intent",
        params={"token": RASA_TOKEN},
        json={"name": "EXTERNAL_dossier_update", "entities": {"dossier_code": CODE, "status": "9"}},
        timeout=60,
    )
    assert resp.json().get("messages") == []  # a real code, but this conversation does not follow it


async def _client(base: str, request: dict[str, Any]) -> tuple[socketio.AsyncClient, dict[str, Any], asyncio.Queue]:
    sio = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    sio.on("bot_uttered", inbox.put)
    sio.on("session_confirm", lambda info: confirmed.done() or confirmed.set_result(info))
    await sio.connect(base, socketio_path="/socket.io", transports=["polling"], wait_timeout=30)
    await sio.emit("session_request", request)
    return sio, await asyncio.wait_for(confirmed, 15), inbox


def test_a_socketio_session_cannot_be_taken_over(running_bot: str) -> None:
    async def scenario() -> None:
        owner, session, owner_inbox = await _client(running_bot, {})
        assert session["session_id"] and session["session_token"]
        await owner.emit("user_uttered", {"message": "xin chào"})
        await asyncio.wait_for(owner_inbox.get(), 30)
        # Another browser names the owner's session: without its token it gets a new one.
        for request in ({"session_id": session["session_id"]},
                        {"session_id": session["session_id"], "session_token": "0" * 64}):  # fmt: skip
            thief, stolen, thief_inbox = await _client(running_bot, request)
            assert stolen["session_id"] != session["session_id"]
            await thief.emit("user_uttered", {"message": "cảm ơn", "session_id": session["session_id"]})
            await asyncio.wait_for(thief_inbox.get(), 30)  # the thief hears its own reply…
            await asyncio.sleep(1)
            assert owner_inbox.empty()  # …and the owner hears nothing of it
            await thief.disconnect()
        # The owner's own browser resumes with its token.
        again, resumed, _ = await _client(running_bot, session)
        assert resumed["session_id"] == session["session_id"]
        await again.disconnect()
        await owner.disconnect()

    asyncio.run(scenario())


def test_the_second_factor_reaches_no_store_and_no_log(running_bot: str, running_bot_parts: RunningBot) -> None:
    sender, client = "digits-owner", {"X-Forwarded-For": "198.51.100.12"}
    asked = _rest(running_bot, {"sender": sender, "message": f"tra cứu hồ sơ {CODE}"}, headers=client)
    assert "4 chữ số cuối" in _texts(asked)
    verified = _texts(_rest(running_bot, {"sender": sender, "message": "6789"}, headers=client))
    assert "Đang xử lý" in verified or "Trạng thái" in verified
    tracker = requests.get(
        f"{running_bot}/conversations/rest:{sender}/tracker", params={"token": RASA_TOKEN}, timeout=30
    ).text
    # The digits as a number of their own (timestamps such as 1796012414.4067895 hold them too).
    digits = re.compile(r"(?<![\d.,])6789(?!\d)")
    assert not digits.search(tracker)
    var = running_bot_parts.var_dir
    stored = "\n".join(str(row) for row in sqlite3.connect(var / "tracker.db").execute("SELECT data FROM events"))
    assert not digits.search(stored)
    for log in (var / "log").glob("*.log"):
        assert not digits.search(log.read_text(encoding="utf-8", errors="replace")), log.name


def test_files_are_private(running_bot_parts: RunningBot) -> None:
    var = running_bot_parts.var_dir
    files = [var / "tracker.db", var / "bot.db", *(var / "log").glob("*.log"), *(var / "secrets").glob("*")]
    for path in (p for p in files if p.exists()):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"


def test_nothing_of_ours_listens_beyond_loopback(running_bot: str) -> None:
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    ours = [line for line in listening.splitlines() if "python" in line]
    assert ours, listening
    for line in ours:
        local = line.split()[3]
        assert local.startswith(("127.", "[::1]")), line


def _lookup(base: str, sender: str, code: str, digits: str, client: str) -> str:
    headers = {"X-Forwarded-For": client}
    _rest(base, {"sender": sender, "message": f"tra cứu hồ sơ {code}"}, headers=headers)
    return _texts(_rest(base, {"sender": sender, "message": digits}, headers=headers))


def test_new_sender_ids_do_not_reset_the_lockout_and_the_owner_still_gets_in(running_bot: str) -> None:
    """Failures count per client address (behind the trusted proxy), not per sender id the client invents."""
    code = "000.00.00.H99-261015-0003"  # a demo dossier no other test guesses at; digits 1357
    answers = [_lookup(running_bot, f"made-up-{i}", code, "1111", "198.51.100.66") for i in range(6)]
    assert "tạm khóa" in answers[-1], answers
    # Each answer counts only the attacker's own tries, whoever else failed.
    assert "còn 4 lần thử" in answers[0] and "còn 1 lần thử" in answers[3]
    # The owner, from another address, is not locked out of their own dossier.
    assert "Trạng thái" in _lookup(running_bot, "owner", code, "1357", "198.51.100.77")


def test_guessing_from_many_addresses_is_slowed_to_one_check_a_minute(running_bot: str) -> None:
    """Forged addresses each get their own budget, so the dossier itself is braked after 10 failures."""
    code = "000.00.00.H99-260905-0004"  # digits 4321
    for i in range(10):
        assert "chưa khớp" in _lookup(running_bot, f"guess-{i}", code, f"{i:04d}", f"203.0.113.{i}")
    # Even the right digits are not checked now: a guesser learns nothing; the owner retries in a minute.
    answer = _lookup(running_bot, "guess-right", code, "4321", "203.0.113.99")
    assert "thử lại sau" in answer and "Trạng thái" not in answer


def test_lines_starting_with_a_slash_reach_no_log_unmasked(running_bot: str, running_bot_parts: RunningBot) -> None:
    for text in ("/sdt 0912345678 cccd 079123456789 so cuoi 6789", "/6789",
                 '/track_dossier{"dossier_code": "000.00.00.H99-261120-0001", "x": "0912345678"}'):  # fmt: skip
        assert _rest(running_bot, {"sender": "slash", "message": text}).status_code == 200
    logs = "\n".join(p.read_text(errors="replace") for p in (running_bot_parts.var_dir / "log").glob("*.log"))
    assert "0912345678" not in logs and "079123456789" not in logs
