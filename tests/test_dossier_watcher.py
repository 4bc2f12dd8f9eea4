"""Status changes reaching subscribers: polling, the signed webhook, and Rasa's trigger_intent API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.engine import Engine

from bot.dossiers.demo import seed_demo
from bot.dossiers.models import create_tables
from bot.dossiers.service import DossierLookup, Verified
from bot.dossiers.store import DossierStore
from bot.dossiers.watcher import (
    EXTERNAL_INTENT,
    DossierWatcher,
    NotifierError,
    RasaNotifier,
    sign_webhook,
)

SALT = b"test-salt"
SECRET = "webhook-secret"
DEMO = "000.00.00.H99-261120-0001"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)


class FakeNotifier:
    """Records notifications; can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str, int]] = []
        self.fail = False

    def notify(self, channel: str, sender_id: str, code: str, status: int) -> None:
        if self.fail:
            raise NotifierError("Rasa answered HTTP 502")
        self.sent.append((channel, sender_id, code, status))


@pytest.fixture
def store(engine: Engine) -> DossierStore:
    create_tables(engine)
    # Seeded before the test's clock, whatever the wall clock says.
    seed_demo(engine, salt=SALT, at=NOW - timedelta(days=1))
    return DossierStore(engine, SALT)


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def watcher(store: DossierStore, notifier: FakeNotifier) -> DossierWatcher:
    return DossierWatcher(store, store, notifier, clock=lambda: NOW, webhook_secret=SECRET, webhook_tolerance=300)


def subscribe(store: DossierStore, sender: str = "42", channel: str = "telegram") -> None:
    lookup = DossierLookup(store, store, clock=lambda: NOW, salt=SALT)
    assert isinstance(lookup.status(DEMO, "6789", sender, channel), Verified)
    assert lookup.subscribe(DEMO, channel, sender).outcome == "subscribed"


def test_status_change_reaches_the_subscriber_once(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    report = watcher.poll_once()
    assert report.checked == 1 and report.notified == 0 and notifier.sent == []  # nothing changed yet
    store.set_status(DEMO, 9, NOW, note="test")
    report = watcher.poll_once()
    assert report.changed == 1 and report.notified == 1
    assert notifier.sent == [("telegram", "42", DEMO, 9)]
    assert watcher.poll_once().notified == 0  # told once only
    assert [s for s, _ in store.history(DEMO)] == [4, 9]


def test_failed_push_is_retried_next_round(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    store.set_status(DEMO, 5, NOW)
    notifier.fail = True
    assert watcher.poll_once().failed == 1
    notifier.fail = False
    assert watcher.poll_once().notified == 1 and notifier.sent == [("telegram", "42", DEMO, 5)]
    assert [(r.action, r.outcome) for r in store.audit_rows() if r.action == "notify"] == [
        ("notify", "failed"),
        ("notify", "sent"),
    ]


def test_unsubscribed_and_unverified_get_nothing(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    lookup = DossierLookup(store, store, clock=lambda: NOW, salt=SALT)
    assert lookup.subscribe(DEMO, "telegram", "stranger").outcome == "not_verified"
    subscribe(store, sender="42")
    lookup.unsubscribe(DEMO, "telegram", "42")
    store.set_status(DEMO, 10, NOW)
    assert watcher.poll_once().checked == 0 and notifier.sent == []


def _signed(body: dict[str, Any], at: datetime = NOW, secret: str = SECRET) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    return raw, sign_webhook(raw, secret, int(at.timestamp()))


def test_webhook_with_a_good_signature_updates_and_notifies(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    body, signature = _signed({"code": "000.00.00.h99-261120-0001", "status": "Yêu cầu bổ sung giấy tờ"})
    response = watcher.handle_webhook(body, signature)
    assert response.status == 200 and response.body == {"ok": True, "code": DEMO, "notified": 1}
    assert notifier.sent == [("telegram", "42", DEMO, 5)]
    record = store.fetch(DEMO)
    assert record is not None and record.status == 5
    # The same event again (a retry by the one-door system) does not notify twice.
    assert watcher.handle_webhook(body, signature).body["notified"] == 0


def test_webhook_without_status_asks_the_source(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    store.set_status(DEMO, 6, NOW)
    body, signature = _signed({"dossier_code": DEMO})
    assert watcher.handle_webhook(body, signature).status == 200
    assert notifier.sent == [("telegram", "42", DEMO, 6)]


@pytest.mark.parametrize(
    ("case", "expected_status", "reason"),
    [
        ("bad", 401, "bad signature"),
        ("wrong_secret", 401, "bad signature"),
        ("stale", 401, "stale timestamp"),
        ("future", 401, "stale timestamp"),
        ("missing", 401, "missing signature"),
        ("malformed", 401, "malformed signature"),
        ("tampered", 401, "bad signature"),
    ],
)
def test_webhook_rejects_bad_or_stale_signatures(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier, case: str, expected_status: int, reason: str
) -> None:
    subscribe(store)
    body, signature = _signed({"code": DEMO, "status": 10})
    if case == "bad":
        signature = signature[:-4] + "0000"
    elif case == "wrong_secret":
        body, signature = _signed({"code": DEMO, "status": 10}, secret="guess")
    elif case == "stale":
        body, signature = _signed({"code": DEMO, "status": 10}, at=NOW - timedelta(minutes=6))
    elif case == "future":
        body, signature = _signed({"code": DEMO, "status": 10}, at=NOW + timedelta(minutes=6))
    elif case == "missing":
        signature = ""
    elif case == "malformed":
        signature = "v1=abc"
    elif case == "tampered":
        body = body.replace(b"10", b"3")
    response = watcher.handle_webhook(body, signature)
    assert (response.status, response.body["error"]) == (expected_status, reason)
    assert notifier.sent == []
    record = store.fetch(DEMO)
    assert record is not None and record.status == 4


def test_webhook_rotation_accepts_any_valid_v1(watcher: DossierWatcher, store: DossierStore) -> None:
    body, signature = _signed({"code": DEMO, "status": 9})
    assert (
        watcher.handle_webhook(body, f"t={int(NOW.timestamp())},v1={'0' * 64},{signature.split(',')[1]}").status == 200
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[1, 2]",
        b'{"code": "0912345678", "status": 4}',
        b'{"code": "' + DEMO.encode() + b'", "status": 42}',
    ],
)
def test_webhook_bad_request_never_echoes_personal_data(watcher: DossierWatcher, payload: bytes) -> None:
    response = watcher.handle_webhook(payload, sign_webhook(payload, SECRET, int(NOW.timestamp())))
    assert response.status == 400 and "0912345678" not in json.dumps(response.body)


def test_webhook_disabled_without_secret(store: DossierStore, notifier: FakeNotifier) -> None:
    watcher = DossierWatcher(store, store, notifier, clock=lambda: NOW, webhook_secret="")
    body, signature = _signed({"code": DEMO, "status": 9})
    assert watcher.handle_webhook(body, signature).status == 503


class _RasaHandler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        _RasaHandler.requests.append(
            {"path": self.path, "body": json.loads(self.rfile.read(length)), "ctype": self.headers["Content-Type"]}
        )
        body = b'{"tracker": {}, "messages": []}'
        self.send_response(_RasaHandler.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def rasa_server() -> Iterator[str]:
    _RasaHandler.requests = []
    _RasaHandler.status = 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RasaHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_end_to_end_push_through_rasa_trigger_intent(store: DossierStore, rasa_server: str) -> None:
    subscribe(store, sender="tg:12345", channel="telegram")
    watcher = DossierWatcher(store, store, RasaNotifier(rasa_server, token="tok", timeout=2), clock=lambda: NOW)
    store.set_status(DEMO, 10, NOW)
    assert watcher.poll_once().notified == 1
    [req] = _RasaHandler.requests
    url = urlparse(req["path"])
    assert url.path == "/conversations/tg%3A12345/trigger_intent"
    assert parse_qs(url.query) == {"output_channel": ["telegram"], "token": ["tok"]}
    assert req["body"] == {"name": EXTERNAL_INTENT, "entities": {"dossier_code": DEMO, "status": 10}}
    assert req["ctype"] == "application/json"


def test_rasa_notifier_errors(rasa_server: str) -> None:
    _RasaHandler.status = 500
    with pytest.raises(NotifierError, match="HTTP 500"):
        RasaNotifier(rasa_server, token="", timeout=2).notify("telegram", "1", DEMO, 9)
    assert "token" not in _RasaHandler.requests[0]["path"]
    with pytest.raises(NotifierError, match="unreachable"):
        RasaNotifier("http://127.0.0.1:9", timeout=1).notify("telegram", "1", DEMO, 9)


def test_cli_seed_lookup_subscribe_set_status_and_watch_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, rasa_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.db import make_engine
    from bot.dossiers.cli import main

    engine = make_engine(sqlite_url)
    create_tables(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RASA_URL", rasa_server)
    monkeypatch.setenv("DOSSIER_PHONE_SALT", "cli-salt")
    # The CLI installs log masking process-wide; keep that out of the other tests.
    monkeypatch.setattr("bot.privacy.install_log_masking", lambda *args, **kwargs: None)
    assert main(["seed-demo"]) == 0
    assert main(["lookup", DEMO, "6789", "--sender", "77", "--channel", "telegram", "--subscribe"]) == 0
    assert main(["set-status", DEMO, "Đã xử lý xong"]) == 0
    assert main(["watch", "--once"]) == 0
    out = capsys.readouterr().out
    assert "demo dossiers added: 4" in out and "Trạng thái: Đang xử lý" in out and "em đã ghi nhận" in out
    assert "checked=1 changed=1 notified=1" in out
    assert _RasaHandler.requests[0]["body"]["entities"] == {"dossier_code": DEMO, "status": 9}
    assert main(["set-status", "bad", "4"]) == 2
