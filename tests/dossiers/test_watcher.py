"""Status changes reaching subscribers: polling, the signed webhook, and Rasa's trigger_intent API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy.engine import Engine

from bot.dossiers.demo import seed_demo
from bot.dossiers.service import DossierLookup, Verified
from bot.dossiers.source import DossierSourceUnavailable
from bot.dossiers.store import DossierStore
from bot.dossiers.watcher import (
    EXTERNAL_INTENT,
    MAX_BODY_BYTES,
    DossierWatcher,
    NotifierError,
    RasaNotifier,
    WebhookResponse,
    sign_webhook,
)
from bot.rasa_client import RasaClient
from tests.fakes import free_port, serve_http

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
    # The same signed request again (a replay, or a retry of the very same request) is refused.
    assert watcher.handle_webhook(body, signature) == WebhookResponse(409, {"error": "replayed request"})
    assert notifier.sent == [("telegram", "42", DEMO, 5)]


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


def _signed_raw(raw: bytes, at: datetime = NOW) -> tuple[bytes, str]:
    return raw, sign_webhook(raw, SECRET, int(at.timestamp()))


def test_webhook_replay_is_refused_even_after_a_later_change_and_by_another_replica(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    first, first_sig = _signed({"code": DEMO, "status": 5})
    assert watcher.handle_webhook(first, first_sig).status == 200
    later, later_sig = _signed({"code": DEMO, "status": 9}, at=NOW + timedelta(seconds=30))
    assert watcher.handle_webhook(later, later_sig).status == 200
    # A second replica: another watcher (another process) on the same database.
    replica = DossierWatcher(
        store, store, notifier, clock=lambda: NOW + timedelta(seconds=60), webhook_secret=SECRET, webhook_tolerance=300
    )
    for w in (watcher, replica):
        response = w.handle_webhook(first, first_sig)
        assert (response.status, response.body) == (409, {"error": "replayed request"})
    assert notifier.sent == [("telegram", "42", DEMO, 5), ("telegram", "42", DEMO, 9)]
    record = store.fetch(DEMO)
    assert record is not None and record.status == 9
    assert [s for s, _ in store.history(DEMO)] == [4, 5, 9]
    # Kept in the database until t + 2 x tolerance, keyed by the SHA-256 of "<t>." + body.
    receipts = store.webhook_receipts()
    assert len(receipts) == 2 and all(len(r.digest) == 64 for r in receipts)
    assert sorted(r.expires_at for r in receipts) == [NOW + timedelta(seconds=600), NOW + timedelta(seconds=630)]
    assert {r.received_at for r in receipts} == {NOW}
    assert [(r.action, r.outcome) for r in store.audit_rows() if r.outcome == "replayed"] == [
        ("webhook", "replayed")
    ] * 2


def test_webhook_receipts_are_claimed_once_and_purged_after_they_expire(store: DossierStore) -> None:
    keep = NOW + timedelta(seconds=10)
    assert store.claim_webhook_receipt("a" * 64, NOW, keep) is True
    assert store.claim_webhook_receipt("a" * 64, NOW, keep) is False
    later = NOW + timedelta(seconds=11)
    assert store.claim_webhook_receipt("b" * 64, later, later + timedelta(seconds=10)) is True
    assert [r.digest for r in store.webhook_receipts()] == ["b" * 64]  # "a" purged on the way
    store.release_webhook_receipt("b" * 64)
    assert store.webhook_receipts() == []
    # Concurrent claims of one digest (threads here, replicas in production): exactly one wins.
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.claim_webhook_receipt("c" * 64, NOW, keep)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]


class _FlakySource:
    """The store as a source, unavailable until told otherwise."""

    def __init__(self, store: DossierStore) -> None:
        self.store = store
        self.down = True

    def fetch(self, code: str) -> Any:
        if self.down:
            raise DossierSourceUnavailable("one-door system timed out")
        return self.store.fetch(code)


def test_webhook_not_processed_gives_its_receipt_back(store: DossierStore, notifier: FakeNotifier) -> None:
    subscribe(store)
    store.set_status(DEMO, 6, NOW)
    source = _FlakySource(store)
    watcher = DossierWatcher(source, store, notifier, clock=lambda: NOW, webhook_secret=SECRET)
    body, signature = _signed({"code": DEMO})
    assert watcher.handle_webhook(body, signature).status == 503
    assert store.webhook_receipts() == []
    source.down = False
    assert watcher.handle_webhook(body, signature).status == 200  # the same request, retried as is
    assert notifier.sent == [("telegram", "42", DEMO, 6)]
    assert watcher.handle_webhook(body, signature).status == 409


def test_webhook_older_than_the_current_status_is_ignored(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    body, signature = _signed({"code": DEMO, "status": 9, "updated_at": "2026-11-27T08:59:00+07:00"})
    assert watcher.handle_webhook(body, signature).body == {"ok": True, "code": DEMO, "notified": 1}
    # Delivered late: a change that happened before the one already applied (fresh signature).
    body, signature = _signed({"code": DEMO, "status": 5, "updated_at": "2026-11-27T01:55:00Z"})
    response = watcher.handle_webhook(body, signature)
    assert (response.status, response.body) == (
        200,
        {"ok": True, "code": DEMO, "notified": 0, "ignored": "older than the current status"},
    )
    record = store.fetch(DEMO)
    assert record is not None and record.status == 9
    # The change is recorded at the sender's event time, not at the time it reached us.
    assert store.history(DEMO)[-1] == (9, NOW - timedelta(minutes=1))
    assert notifier.sent == [("telegram", "42", DEMO, 9)]
    assert [r.outcome for r in store.audit_rows() if r.action == "webhook"] == ["accepted", "ignored"]
    # event_time in Unix seconds works the same way; a newer change then applies.
    body, signature = _signed({"code": DEMO, "status": 10, "event_time": int(NOW.timestamp())})
    assert watcher.handle_webhook(body, signature).body["notified"] == 1
    assert [s for s, _ in store.history(DEMO)] == [4, 9, 10]


def test_webhook_without_event_time_is_ordered_by_its_signature_timestamp(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    subscribe(store)
    newer, newer_sig = _signed({"code": DEMO, "status": 9}, at=NOW)
    older, older_sig = _signed({"code": DEMO, "status": 5}, at=NOW - timedelta(seconds=40))
    assert watcher.handle_webhook(newer, newer_sig).body["notified"] == 1
    assert watcher.handle_webhook(older, older_sig).body.get("ignored") == "older than the current status"
    # The current status again, signed later: nothing changes and nobody is told twice.
    same, same_sig = _signed({"code": DEMO, "status": "Đã xử lý xong"}, at=NOW + timedelta(seconds=5))
    assert watcher.handle_webhook(same, same_sig).body == {"ok": True, "code": DEMO, "notified": 0}
    assert [s for s, _ in store.history(DEMO)] == [4, 9]
    assert notifier.sent == [("telegram", "42", DEMO, 9)]


@pytest.mark.parametrize(
    ("updated_at", "reason"),
    [
        ("2026-11-27T02:00:00", "updated_at must include a time zone"),
        ("2026-11-27", "updated_at must include a time zone"),
        ("yesterday", "updated_at must be ISO 8601 with a time zone or Unix seconds"),
        ("2026-11-27T02:30:00+00:00", "updated_at is in the future"),
    ],
)
def test_webhook_event_time_must_be_zoned_and_not_in_the_future(
    store: DossierStore, watcher: DossierWatcher, updated_at: str, reason: str
) -> None:
    body, signature = _signed({"code": DEMO, "status": 9, "updated_at": updated_at})
    assert watcher.handle_webhook(body, signature) == WebhookResponse(400, {"error": f"bad request: {reason}"})
    record = store.fetch(DEMO)
    assert record is not None and record.status == 4


def test_webhook_deeply_nested_body_is_refused_without_recursion(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    assert watcher.handle_webhook(*_signed_raw(b"[" * 100_000)).status == 413  # more than 64 KiB
    response = watcher.handle_webhook(*_signed_raw(b"[" * 60_000))
    assert response == WebhookResponse(400, {"error": "bad request: JSON nested too deeply"})
    response = watcher.handle_webhook(*_signed_raw(b'{"a":' * 10_000))
    assert response.status == 400

    def nested(depth: int) -> bytes:  # the object itself is level 1
        return json.dumps(
            {"code": DEMO, "status": 9, "extra": json.loads("[" * (depth - 1) + "]" * (depth - 1))}
        ).encode()

    assert watcher.handle_webhook(*_signed_raw(nested(21))).status == 400
    assert watcher.handle_webhook(*_signed_raw(nested(20))).status == 200
    # Brackets and escaped quotes inside strings do not count.
    note = json.dumps({"code": DEMO, "status": 10, "note": '[[[[[[[[[[[[[[[[[[[[[[[[ \\" [[ " {{{{' * 10}).encode()
    assert watcher.handle_webhook(*_signed_raw(note, at=NOW + timedelta(seconds=1))).status == 200
    assert [s for _, _, _, s in notifier.sent] == []  # nobody subscribed here


DEMO_B = DEMO.encode()
MALFORMED_BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("invalid_utf8", b'{"code": "\xff\xfe", "status": 9}'),
    ("utf8_encoded_surrogate", b'{"code": "\xed\xa0\x80", "status": 9}'),
    ("bom", b"\xef\xbb\xbf" + b'{"code": "' + DEMO_B + b'", "status": 9}'),
    ("nul", b"\x00"),
    ("null", b"null"),
    ("number", b"1"),
    ("string", b'"\\ud800"'),
    ("array", b"[]"),
    ("true", b"true"),
    ("lone_surrogate_code", b'{"code": "\\ud800", "status": 9}'),
    ("lone_surrogate_status", b'{"code": "' + DEMO_B + b'", "status": "\\udc00"}'),
    ("lone_surrogate_elsewhere", b'{"code": "' + DEMO_B + b'", "status": 9, "note": "\\ud83d"}'),
    ("lone_surrogate_key", b'{"\\ud800": 1, "code": "' + DEMO_B + b'", "status": 9}'),
    ("status_list", b'{"code": "' + DEMO_B + b'", "status": [9]}'),
    ("status_dict", b'{"code": "' + DEMO_B + b'", "status": {"value": 9}}'),
    ("status_float", b'{"code": "' + DEMO_B + b'", "status": 9.0}'),
    ("status_bool", b'{"code": "' + DEMO_B + b'", "status": true}'),
    ("status_huge_int", b'{"code": "' + DEMO_B + b'", "status": 1' + b"0" * 4000 + b"}"),
    ("status_huger_int", b'{"code": "' + DEMO_B + b'", "status": 1' + b"0" * 5000 + b"}"),
    ("status_negative", b'{"code": "' + DEMO_B + b'", "status": -9}'),
    ("status_zero", b'{"code": "' + DEMO_B + b'", "status": 0}'),
    ("status_inf", b'{"code": "' + DEMO_B + b'", "status": 1e400}'),
    ("status_nan", b'{"code": "' + DEMO_B + b'", "status": NaN}'),
    ("status_long_text", b'{"code": "' + DEMO_B + b'", "status": "' + b"x" * 10_000 + b'"}'),
    ("code_number", b'{"code": 12345, "status": 9}'),
    ("code_list", b'{"code": ["' + DEMO_B + b'"], "status": 9}'),
    ("code_dict", b'{"code": {"a": 1}, "status": 9}'),
    ("code_true", b'{"code": true, "status": 9}'),
    ("code_missing", b'{"status": 9}'),
    ("code_long", b'{"code": "' + b"1" * 10_000 + b'", "status": 9}'),
    ("updated_at_list", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": []}'),
    ("updated_at_bool", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": false}'),
    ("updated_at_negative", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": -1}'),
    ("updated_at_huge", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": 1' + b"0" * 400 + b"}"),
    ("updated_at_nan", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": NaN}'),
    ("updated_at_min", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": "0001-01-01T00:00:00+01:00"}'),
    ("updated_at_max", b'{"code": "' + DEMO_B + b'", "status": 9, "event_time": "9999-12-31T23:59:59-01:00"}'),
    ("updated_at_surrogate", b'{"code": "' + DEMO_B + b'", "status": 9, "updated_at": "\\ud800"}'),
    ("truncated", b'{"code": "' + DEMO_B + b'", "status": 9'),
    ("unterminated_strings", b'{"a": "\\"\\"\\"' * 5000),
    ("many_objects", b'{"a":' * 30 + b"1" + b"}" * 30),
    ("deep_array", b"[" * 100_000),
    ("padded_to_64k", b'{"code": "' + DEMO_B + b'", "status": 9}' + b" " * MAX_BODY_BYTES),
]


@pytest.mark.parametrize("raw", [raw for _, raw in MALFORMED_BODIES], ids=[name for name, _ in MALFORMED_BODIES])
def test_malformed_signed_bodies_get_4xx_never_5xx(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier, raw: bytes
) -> None:
    subscribe(store)
    response = watcher.handle_webhook(*_signed_raw(raw))
    assert 400 <= response.status < 500, response
    assert response.status in (400, 413)
    json.dumps(response.body, ensure_ascii=False).encode("utf-8")  # the answer itself is serialisable
    assert len(json.dumps(response.body)) < 400
    assert notifier.sent == [] and store.webhook_receipts() == []
    record = store.fetch(DEMO)
    assert record is not None and record.status == 4


@pytest.mark.parametrize(
    "header",
    ["t=1" + "0" * 5000 + ",v1=00", "t=١٢٣,v1=00", "t=,v1=", "t=-1,v1=00", "v1=\ud800", ",,,=,t", "t=1e9,v1=0"],
)
def test_malformed_signature_headers_get_401(watcher: DossierWatcher, header: str) -> None:
    body = json.dumps({"code": DEMO, "status": 9}).encode()
    assert watcher.handle_webhook(body, header).status == 401
    sig = sign_webhook(body, SECRET, int(NOW.timestamp()))
    assert watcher.handle_webhook(body, f"{sig},v1=\udcff\u00e9").status == 200  # odd extra candidates are harmless


async def test_onedoor_route_streams_limits_and_answers(
    store: DossierStore, watcher: DossierWatcher, notifier: FakeNotifier
) -> None:
    import aiohttp

    from bot.channels.onedoor import OneDoorWebhookInput
    from tests.fakes import run_channel

    subscribe(store)
    channel = OneDoorWebhookInput()
    channel.watcher = watcher  # instead of build_watcher() from the environment

    async def on_new_message(_: Any) -> None:
        raise AssertionError("the one-door route is not a chat channel")

    async with run_channel(channel, on_new_message) as base, aiohttp.ClientSession() as http:

        async def post(raw: bytes, at: datetime = NOW) -> tuple[int, dict[str, Any]]:
            headers = {"X-Onedoor-Signature": sign_webhook(raw, SECRET, int(at.timestamp()))}
            async with http.post(f"{base}/status", data=raw, headers=headers) as resp:
                return resp.status, await resp.json(content_type=None)

        good = json.dumps({"code": DEMO, "status": 9}).encode()
        assert await post(good) == (200, {"ok": True, "code": DEMO, "notified": 1})
        assert await post(good) == (409, {"error": "replayed request"})
        assert (await post(b"[" * 100_000))[0] == 413
        assert (await post(b"[" * 1_000_000))[0] == 413
        assert (await post(b'{"code": "\\ud800", "status": 9}'))[0] == 400
        assert (await post(b"[" * 60_000))[0] == 400
        assert (await post(b""))[0] == 400
    assert notifier.sent == [("telegram", "42", DEMO, 9)]


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
    with serve_http(_RasaHandler) as url:
        yield url


def test_end_to_end_push_through_rasa_trigger_intent(store: DossierStore, rasa_server: str) -> None:
    subscribe(store, sender="tg:12345", channel="telegram")
    notifier = RasaNotifier(RasaClient(rasa_server, token="tok", timeout=2))
    watcher = DossierWatcher(store, store, notifier, clock=lambda: NOW)
    store.set_status(DEMO, 10, NOW)
    assert watcher.poll_once().notified == 1
    [req] = _RasaHandler.requests
    url = urlparse(req["path"])
    assert url.path == "/conversations/tg:12345/trigger_intent"  # Rasa's route does not unescape "%3A"
    assert parse_qs(url.query) == {"output_channel": ["telegram"], "token": ["tok"]}
    assert req["body"] == {"name": EXTERNAL_INTENT, "entities": {"dossier_code": DEMO, "status": 10}}
    assert req["ctype"] == "application/json"


def test_rasa_notifier_errors(rasa_server: str) -> None:
    _RasaHandler.status = 500
    with pytest.raises(NotifierError, match="HTTP 500"):
        RasaNotifier(RasaClient(rasa_server, token="", timeout=2, retries=0)).notify("telegram", "1", DEMO, 9)
    assert "token" not in _RasaHandler.requests[0]["path"]
    with pytest.raises(NotifierError, match="unreachable"):
        RasaNotifier(RasaClient("http://127.0.0.1:9", token="", timeout=1, retries=0)).notify("telegram", "1", DEMO, 9)


def test_rasa_notifier_makes_one_post_per_notice_by_default() -> None:
    assert RasaNotifier().client.retries == 0  # as before the client: a failure waits for the next poll


def test_rasa_notifier_does_not_retry_a_5xx(rasa_server: str) -> None:
    # Rasa may answer 503 after the action already sent the notice: a retry would send it twice.
    _RasaHandler.status = 503
    notifier = RasaNotifier(RasaClient(rasa_server, token="", timeout=2, retries=2, backoff=0.01))
    with pytest.raises(NotifierError, match=r"HTTP 503$"):
        notifier.notify("telegram", "1", DEMO, 9)
    assert len(_RasaHandler.requests) == 1


def test_rasa_notifier_retries_a_refused_connection_when_its_client_allows() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the request never left
    notifier = RasaNotifier(RasaClient(url, token="", timeout=1, retries=1, backoff=0.01))
    with pytest.raises(NotifierError, match=r"unreachable \(ConnectionError\) after 2 attempts"):
        notifier.notify("telegram", "1", DEMO, 9)


@pytest.mark.usefixtures("no_process_wide_masking")
def test_cli_seed_lookup_subscribe_set_status_and_watch_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, rasa_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main as bot_main

    def main(argv: list[str]) -> int:
        return bot_main(["dossier", *argv])

    # An empty database: the CLI migrates it itself (bot.db.schema.ensure_schema).
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("RASA_URL", rasa_server)
    monkeypatch.setenv("DOSSIER_PHONE_SALT", "cli-salt")
    assert main(["seed-demo"]) == 0
    assert main(["lookup", DEMO, "6789", "--sender", "77", "--channel", "telegram", "--subscribe"]) == 0
    assert main(["set-status", DEMO, "Đã xử lý xong"]) == 0
    assert main(["watch", "--once"]) == 0
    out = capsys.readouterr().out
    assert "demo dossiers added: 4" in out and "Trạng thái: Đang xử lý" in out and "em đã ghi nhận" in out
    assert "checked=1 changed=1 notified=1" in out
    assert _RasaHandler.requests[0]["body"]["entities"] == {"dossier_code": DEMO, "status": 9}
    assert main(["set-status", "bad", "4"]) == 2
