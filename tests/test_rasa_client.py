"""bot.rasa_client against a local stand-in for Rasa's HTTP API: token, routes, retries, timeouts, error text.

Retries: a GET on any failure; a write (POST/PUT) only when it certainly was not sent.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from bot.rasa_client import RasaClient, RasaRejected, RasaStatus, RasaUnavailable
from tests.fakes import ThreadedApp, free_port

TOKEN = "s3cret-token-value"
CONVERSATION = "telegram_ptb:12345"


class FakeRasaApi:
    """Records every call; answers with the next scripted status (then 200), or sleeps first."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.script: list[int] = []  # statuses to answer with before the normal answer
        self.delay = 0.0
        self.retry_after = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.calls.append({"method": request.method, "path": request.path, "query": dict(request.query), "body": body})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            status = self.script.pop(0)
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            # Like Rasa's ErrorResponse, whose message may quote the conversation.
            error = {
                "status": "failure",
                "reason": "BadRequest" if status == 400 else "ConversationError",
                "message": f"An unexpected error occurred. Error: tôi tên là Nguyễn Văn A {TOKEN}",
                "code": status,
            }
            return web.json_response(error, status=status, headers=headers)
        if request.path == "/model":
            return web.Response(status=204)
        if request.path == "/status":
            status_body = {"model_file": "models/x.tar.gz", "model_id": "abc", "num_active_training_jobs": 0}
            return web.json_response(status_body)
        if request.path.endswith("/trigger_intent"):
            return web.json_response({"tracker": {"sender_id": CONVERSATION}, "messages": [{"text": "ok"}]})
        return web.json_response({"sender_id": CONVERSATION, "events": body or []})


@pytest.fixture
def fake() -> FakeRasaApi:
    return FakeRasaApi()


@pytest.fixture
def base_url(fake: FakeRasaApi) -> Iterator[str]:
    server = ThreadedApp(fake.app()).start()
    yield server.url
    server.close()


def client(url: str, **kwargs: Any) -> RasaClient:
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("backoff", 0.01)
    return RasaClient(url, token=TOKEN, **kwargs)


def test_trigger_intent_sends_token_channel_and_entities(fake: FakeRasaApi, base_url: str) -> None:
    answer = client(base_url).trigger_intent(
        CONVERSATION, "EXTERNAL_dossier_update", {"dossier_code": "X-1", "status": 9}, output_channel="telegram"
    )
    assert answer["messages"] == [{"text": "ok"}]
    [call] = fake.calls
    assert call["method"] == "POST"
    assert call["path"] == f"/conversations/{CONVERSATION}/trigger_intent"  # ":" unescaped, as Rasa's route wants
    assert call["query"] == {"output_channel": "telegram", "token": TOKEN}
    assert call["body"] == {"name": "EXTERNAL_dossier_update", "entities": {"dossier_code": "X-1", "status": 9}}


def test_append_events_get_tracker_replace_model_and_status(fake: FakeRasaApi, base_url: str) -> None:
    rasa = client(base_url)
    events = [{"event": "bot", "text": "Chào anh/chị"}]
    tracker = rasa.append_events(CONVERSATION, events, output_channel="telegram", execute_side_effects=True)
    assert tracker["events"] == events
    assert rasa.get_tracker(CONVERSATION)["sender_id"] == CONVERSATION
    assert rasa.replace_model("models/new.tar.gz") is None
    assert rasa.status() == RasaStatus("models/x.tar.gz", "abc", 0)
    assert [(c["method"], c["path"]) for c in fake.calls] == [
        ("POST", f"/conversations/{CONVERSATION}/tracker/events"),
        ("GET", f"/conversations/{CONVERSATION}/tracker"),
        ("PUT", "/model"),
        ("GET", "/status"),
    ]
    assert fake.calls[0]["query"] == {"output_channel": "telegram", "execute_side_effects": "true", "token": TOKEN}
    assert fake.calls[0]["body"] == events
    assert fake.calls[1]["query"] == {"include_events": "AFTER_RESTART", "token": TOKEN}
    assert fake.calls[2]["body"] == {"model_file": "models/new.tar.gz"}
    assert all(c["query"]["token"] == TOKEN for c in fake.calls)


def test_no_token_no_token_parameter(fake: FakeRasaApi, base_url: str) -> None:
    RasaClient(base_url, token="").status()
    assert "token" not in fake.calls[0]["query"]


def test_503_and_429_are_retried_until_success(fake: FakeRasaApi, base_url: str) -> None:
    fake.script = [503, 429]
    assert client(base_url, retries=2).status().model_id == "abc"
    assert len(fake.calls) == 3


def test_retry_after_is_honoured(fake: FakeRasaApi, base_url: str) -> None:
    fake.script = [503]
    fake.retry_after = "1"
    started = time.monotonic()
    client(base_url, retries=1).status()
    assert time.monotonic() - started >= 0.9 and len(fake.calls) == 2


def test_5xx_until_the_retries_run_out_is_unavailable(fake: FakeRasaApi, base_url: str) -> None:
    fake.script = [500, 502, 503]
    expected = r"get_tracker: HTTP 503 \(ConversationError\) after 3 attempts"
    with pytest.raises(RasaUnavailable, match=expected) as err:
        client(base_url, retries=2).get_tracker(CONVERSATION)
    assert err.value.status == 503 and len(fake.calls) == 3
    assert TOKEN not in str(err.value) and "Nguyễn" not in str(err.value) and CONVERSATION not in str(err.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_5xx_and_429_of_a_write_are_not_retried(fake: FakeRasaApi, base_url: str, status: int) -> None:
    # Rasa may answer 500 after the triggered action already sent its message: a retry would send it twice.
    fake.script = [status, status, status]
    rasa = client(base_url, retries=2)
    with pytest.raises(RasaUnavailable) as err:
        rasa.trigger_intent(CONVERSATION, "greet", output_channel="rest")
    assert str(err.value) == f"Rasa trigger_intent: HTTP {status} (ConversationError)"
    assert err.value.status == status and len(fake.calls) == 1
    with pytest.raises(RasaUnavailable):
        rasa.append_events(CONVERSATION, [{"event": "bot", "text": "x"}])
    with pytest.raises(RasaUnavailable):
        rasa.replace_model("models/new.tar.gz")
    assert len(fake.calls) == 3


def test_a_write_is_retried_on_5xx_when_the_caller_opts_in(fake: FakeRasaApi, base_url: str) -> None:
    fake.script = [500, 503]
    client(base_url, retries=2).trigger_intent(CONVERSATION, "greet", retry_on_status=True)
    assert len(fake.calls) == 3
    fake.script = [503, 503]
    with pytest.raises(RasaUnavailable, match=r"replace_model: HTTP 503 \(ConversationError\) after 2 attempts"):
        client(base_url, retries=1).replace_model("models/new.tar.gz", retry_on_status=True)


def test_400_is_not_retried(fake: FakeRasaApi, base_url: str) -> None:
    fake.script = [400, 400, 400]
    with pytest.raises(RasaRejected) as err:
        client(base_url, retries=2).append_events(CONVERSATION, [{"event": "bot", "text": "x"}])
    assert len(fake.calls) == 1
    assert err.value.status == 400 and err.value.reason == "BadRequest"
    assert str(err.value) == "Rasa append_events: HTTP 400 (BadRequest)"  # never Rasa's message, which quotes text


def test_timeout_of_a_post_is_not_retried(fake: FakeRasaApi, base_url: str) -> None:
    fake.delay = 1.0
    with pytest.raises(RasaUnavailable, match=r"trigger_intent: no answer within 0\.3 s") as err:
        client(base_url, timeout=0.3, retries=2).trigger_intent(CONVERSATION, "greet")
    assert err.value.status is None
    time.sleep(0.8)  # let the slow handler finish recording
    assert len(fake.calls) == 1  # it may have been processed: not sent twice


def test_timeout_of_a_get_is_retried(fake: FakeRasaApi, base_url: str) -> None:
    fake.delay = 0.6
    with pytest.raises(RasaUnavailable, match=r"get_tracker: no answer within 0\.2 s after 2 attempts"):
        client(base_url, timeout=0.2, retries=1).get_tracker(CONVERSATION)
    time.sleep(0.6)
    assert len(fake.calls) == 2


def test_unreachable_server_is_unavailable_without_the_token() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RasaUnavailable, match=r"status: unreachable \(ConnectionError\) after 2 attempts") as err:
        client(url, retries=1).status()
    assert TOKEN not in str(err.value) and TOKEN not in repr(client(url))
    # requests' own error quotes the URL with the token: it is neither the cause nor the context.
    assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__)


def test_a_refused_connection_is_retried_for_a_write_too() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the request never left
    expected = r"trigger_intent: unreachable \(ConnectionError\) after 3 attempts"
    with pytest.raises(RasaUnavailable, match=expected) as err:
        client(url, retries=2).trigger_intent(CONVERSATION, "greet")
    assert err.value.status is None and TOKEN not in str(err.value)


def test_a_connect_timeout_is_retried_for_a_write(monkeypatch: pytest.MonkeyPatch) -> None:
    rasa = client("http://rasa.invalid", retries=1)
    calls: list[str] = []

    def connect_timeout(method: str, url: str, **kwargs: Any) -> requests.Response:
        calls.append(method)
        raise requests.exceptions.ConnectTimeout("connect timed out")

    monkeypatch.setattr(rasa._session(), "request", connect_timeout)
    with pytest.raises(RasaUnavailable, match=r"unreachable \(ConnectTimeout\) after 2 attempts"):
        rasa.append_events(CONVERSATION, [{"event": "bot", "text": "x"}])
    assert calls == ["POST", "POST"]


@pytest.fixture
def hang_up_url() -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads each request and closes the connection without answering ("Connection aborted")."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(65536))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_a_connection_lost_after_sending_a_write_is_not_retried(hang_up_url: tuple[str, list[bytes]]) -> None:
    url, received = hang_up_url
    with pytest.raises(RasaUnavailable, match=r"^Rasa trigger_intent: connection lost \(ConnectionError\)$") as err:
        client(url, retries=2).trigger_intent(CONVERSATION, "greet")
    assert len(received) == 1 and received[0].startswith(b"POST ")  # Rasa got it once, and only once
    assert TOKEN not in str(err.value) and CONVERSATION not in str(err.value)


def test_a_connection_lost_during_a_get_is_retried(hang_up_url: tuple[str, list[bytes]]) -> None:
    url, received = hang_up_url
    with pytest.raises(RasaUnavailable, match=r"get_tracker: connection lost \(ConnectionError\) after 2 attempts"):
        client(url, retries=1).get_tracker(CONVERSATION)
    assert len(received) == 2


def test_defaults_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_URL", "http://rasa.internal:5005/")
    monkeypatch.setenv("RASA_TOKEN", "from-env")
    rasa = RasaClient()
    assert rasa.base_url == "http://rasa.internal:5005" and rasa._token == "from-env"
