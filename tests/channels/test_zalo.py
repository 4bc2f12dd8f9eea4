"""Zalo OA channel against local fake OA/OAuth APIs and a real sanic server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from typing import Any

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sqlalchemy.engine import Engine

from bot.channels.store import ChannelStore
from bot.channels.zalo import (
    SIGNATURE_HEADER,
    ZALO_ERRORS,
    ErrorKind,
    SendStatus,
    ZaloClient,
    ZaloInput,
    ZaloOutput,
    signature,
)
from bot.db.clock import naive_utc
from bot.replies import Reply
from bot.settings import overridden, settings
from tests.fakes import FakeRasa, FakeZalo, run_aiohttp, run_channel

APP_ID = "1234567890"
APP_SECRET = "app-secret"
OA_SECRET = "oa-secret-key"
USER = "8800112233445566"


@pytest.fixture
async def fake_zalo() -> AsyncIterator[tuple[FakeZalo, str]]:
    fake = FakeZalo(APP_SECRET, access_token="access-0", refresh_token="refresh-0")
    async with run_aiohttp(fake.app()) as url:
        yield fake, url


@pytest.fixture
def store(engine: Engine) -> ChannelStore:
    return ChannelStore(engine)


def make_channel(base: str, store: ChannelStore, **kw: Any) -> ZaloInput:
    options = {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "oa_secret_key": OA_SECRET,
        "access_token": "access-0",
        "refresh_token": "refresh-0",
        "api_base": base,
        "oauth_base": base,
        "store": store,
        **kw,
    }
    return ZaloInput(**options)


@pytest.fixture
def channel(fake_zalo: tuple[FakeZalo, str], store: ChannelStore) -> ZaloInput:
    return make_channel(fake_zalo[1], store)


def text_event(text: str, msg_id: str = "msg-1", user: str = USER, age_s: float = 0) -> dict[str, Any]:
    return {
        "app_id": APP_ID,
        "user_id_by_app": "u-by-app",
        "event_name": "user_send_text",
        "timestamp": str(int((time.time() - age_s) * 1000)),
        "sender": {"id": user},
        "recipient": {"id": "oa-1"},
        "message": {"text": text, "msg_id": msg_id},
    }


async def post_event(
    url: str, event: dict[str, Any], *, secret: str = OA_SECRET, header: str | None = "auto"
) -> tuple[int, Any]:
    raw = json.dumps(event, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if header == "auto":
        headers[SIGNATURE_HEADER] = signature(APP_ID, raw, event["timestamp"], secret)
    elif header is not None:
        headers[SIGNATURE_HEADER] = header
    async with aiohttp.ClientSession() as http, http.post(url, data=raw, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_text_in_reply_out_with_numbered_choices(channel: ZaloInput, fake_zalo: Any) -> None:
    fake, _ = fake_zalo
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        status, body = await post_event(f"{base}/webhook", text_event("đăng ký tạm trú cần giấy tờ gì"))
        await channel.wait_idle()
    assert (status, body) == (200, {"status": "accepted"})
    assert [m.text for m in rasa.received] == ["đăng ký tạm trú cần giấy tờ gì"]
    assert rasa.received[0].sender_id == f"zalo:{USER}"
    assert len(fake.sent) == 1
    sent = fake.sent[0]
    assert sent["recipient"] == {"user_id": USER}
    assert "1. Giấy tờ cần có\n2. Lệ phí" in sent["message"]["text"]

    # Replying with a number sends that button's payload to Rasa.
    await channel._process(text_event("2", msg_id="msg-2"), rasa)
    assert rasa.received[-1].text == '/ask_fee{"procedure_code": "1.004194"}'


@pytest.mark.parametrize("header", [None, "mac=" + "0" * 64, "garbage", "wrong-secret"])
async def test_forged_or_missing_signature_is_401_and_nothing_processed(
    channel: ZaloInput, fake_zalo: Any, header: str | None
) -> None:
    fake, _ = fake_zalo
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        if header == "wrong-secret":
            status, _ = await post_event(f"{base}/webhook", text_event("xin chào"), secret="not-the-oa-secret")
        else:
            status, _ = await post_event(f"{base}/webhook", text_event("xin chào"), header=header)
        await channel.wait_idle()
    assert status == 401
    assert rasa.received == [] and fake.sent == []


@pytest.mark.parametrize("timestamp", ["\\ud800", "12a", "", "1" * 40, "１２３"])
async def test_odd_timestamps_are_401_not_a_crash(channel: ZaloInput, timestamp: str) -> None:
    # The timestamp is hashed into the expected signature: a lone surrogate used to raise there (500).
    # Written by hand: json.dumps would escape the backslash of "\\ud800".
    raw = ('{"app_id": "' + APP_ID + '", "event_name": "user_send_text", "timestamp": "' + timestamp + '"}').encode()
    headers = {SIGNATURE_HEADER: "mac=" + "0" * 64}
    async with run_channel(channel, FakeRasa()) as base, aiohttp.ClientSession() as http:
        resp = await http.post(f"{base}/webhook", data=raw, headers=headers)
        assert resp.status == 401


async def test_tampered_body_is_rejected(channel: ZaloInput) -> None:
    rasa = FakeRasa()
    event = text_event("xin chào")
    good = signature(APP_ID, json.dumps(event, ensure_ascii=False).encode(), event["timestamp"], OA_SECRET)
    event["message"]["text"] = "tin nhắn bị sửa"
    async with run_channel(channel, rasa) as base:
        status, _ = await post_event(f"{base}/webhook", event, header=good)
    assert status == 401 and rasa.received == []


async def test_stale_timestamp_and_replay_are_rejected(channel: ZaloInput, fake_zalo: Any) -> None:
    fake, _ = fake_zalo
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        stale, _ = await post_event(f"{base}/webhook", text_event("cũ", msg_id="old", age_s=3 * 3600))
        event = text_event("xin chào", msg_id="m-replay")
        first = await post_event(f"{base}/webhook", event)
        again = await post_event(f"{base}/webhook", event)
        await channel.wait_idle()
    assert stale == 401
    assert first == (200, {"status": "accepted"})
    assert again == (200, {"status": "duplicate"})
    assert [m.text for m in rasa.received] == ["xin chào"]
    assert len(fake.sent) == 1


async def test_echo_events_are_ignored(channel: ZaloInput, fake_zalo: Any) -> None:
    fake, _ = fake_zalo
    rasa = FakeRasa()
    echo = text_event("Dạ, em chào anh/chị", msg_id="echo-1")
    echo["event_name"] = "oa_send_text"
    async with run_channel(channel, rasa) as base:
        status, _ = await post_event(f"{base}/webhook", echo)
        await channel.wait_idle()
    assert status == 200 and rasa.received == [] and fake.sent == []


async def test_webhook_answers_before_slow_processing(channel: ZaloInput) -> None:
    received: list[UserMessage] = []

    async def slow_rasa(message: UserMessage) -> None:
        await asyncio.sleep(2.5)
        received.append(message)

    async with run_channel(channel, slow_rasa) as base:
        started = time.perf_counter()
        status, _ = await post_event(f"{base}/webhook", text_event("xin chào", msg_id="slow"))
        elapsed = time.perf_counter() - started
        assert status == 200 and elapsed < 1.0 and received == []
        await channel.wait_idle()
    assert len(received) == 1


async def test_expired_access_token_is_refreshed_and_new_pair_persisted(
    channel: ZaloInput, fake_zalo: Any, store: ChannelStore
) -> None:
    fake, _ = fake_zalo
    await channel.client.record_user_message(USER)
    fake.expire_all_access_tokens()
    assert await channel.client.send_reply(USER, Reply(text="Dạ, em chào anh/chị.")) is SendStatus.SENT
    assert len(fake.refresh_calls) == 1
    assert fake.refresh_calls[0] == {"refresh_token": "refresh-0", "app_id": APP_ID, "grant_type": "refresh_token"}
    state = store.load_token(f"zalo:{APP_ID}")
    assert state is not None and state.refresh_token != "refresh-0" and state.version == 2
    assert state.access_expires_at is not None

    # Next expiry: the stored (new) refresh token is spent, never the old one again.
    fake.expire_all_access_tokens()
    assert await channel.client.send_reply(USER, Reply(text="Lần hai")) is SendStatus.SENT
    assert [c["refresh_token"] for c in fake.refresh_calls] == ["refresh-0", state.refresh_token]
    assert len(fake.sent) == 2


async def test_two_replicas_spend_the_refresh_token_once(fake_zalo: Any, engine: Engine) -> None:
    fake, base = fake_zalo
    replicas = [make_channel(base, ChannelStore(engine)) for _ in range(2)]
    await replicas[0].client.record_user_message(USER)
    await replicas[0].client.current_token()
    fake.expire_all_access_tokens()
    results = await asyncio.gather(*(r.client.send_reply(USER, Reply(text=f"r{i}")) for i, r in enumerate(replicas)))
    assert results == [SendStatus.SENT, SendStatus.SENT]
    assert len(fake.refresh_calls) == 1


async def test_push_within_window_and_refusal_outside(channel: ZaloInput, fake_zalo: Any, store: ChannelStore) -> None:
    fake, _ = fake_zalo
    output = channel.get_output_channel()
    assert isinstance(output, ZaloOutput)
    # Never wrote to us: refuse without calling Zalo.
    assert await output.send_reply("stranger", Reply(text="Hồ sơ của anh/chị đã có kết quả.")) is (
        SendStatus.OUTSIDE_WINDOW
    )
    # Wrote 8 days ago: the 7-day window is closed.
    store.touch_user("zalo", "old-user", naive_utc() - timedelta(days=8))
    assert await output.send_reply("old-user", Reply(text="Thông báo")) is SendStatus.OUTSIDE_WINDOW
    assert fake.sent == []
    # Wrote recently: the dossier notification goes out, split at 2000 characters.
    store.touch_user("zalo", USER, naive_utc() - timedelta(days=1))
    long_text = "\n\n".join("Hồ sơ 2024-000123 đã được tiếp nhận và đang xử lý. " * 8 for _ in range(8))
    await output.send_response(USER, {"text": long_text})
    assert output.statuses[-1] is SendStatus.SENT
    assert len(fake.sent) >= 2 and all(len(s["message"]["text"]) <= 2000 for s in fake.sent)
    # Zalo itself says the window is closed (error -230): reported the same way.
    fake.outside_window_users.add(USER)
    assert await output.send_reply(USER, Reply(text="Thêm")) is SendStatus.OUTSIDE_WINDOW


async def test_unconfigured_channel_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ZALO_APP_ID", "ZALO_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_REFRESH_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    ch = ZaloInput.from_credentials(None)
    assert isinstance(ch, ZaloInput) and not ch.enabled and ch.get_output_channel() is None
    async with run_channel(ch, FakeRasa()) as base:
        status, _ = await post_event(f"{base}/webhook", text_event("xin chào"))
    assert status == 503


def test_client_defaults_point_at_zalo() -> None:
    client = ZaloClient(app_id="1", app_secret="s", access_token="a", refresh_token="r")
    assert client.api_base == "https://openapi.zalo.me"
    assert client.oauth_base == "https://oauth.zaloapp.com"
    channels = settings().channels  # the windows: free 48 hours, then billed until 7 days
    assert (channels.zalo_free_window_hours, channels.zalo_message_window_hours) == (48, 168)


async def test_zalo_retries_of_a_signed_event_are_processed_exactly_once(channel: ZaloInput, fake_zalo: Any) -> None:
    """Zalo re-sends an undelivered event after about 30 s, 5 min, 15 min, 30 min and 1 h with the same body."""
    rasa = FakeRasa()
    async with run_channel(channel, rasa) as base:
        late = text_event("gửi lúc mất mạng", msg_id="m-outage", age_s=3600)  # first reaches us an hour late
        retried = [await post_event(f"{base}/webhook", late) for _ in range(3)]
        recent = text_event("sau 30 giây", msg_id="m-30s", age_s=30)
        again = [await post_event(f"{base}/webhook", recent) for _ in range(2)]
        too_old = await post_event(f"{base}/webhook", text_event("quá cũ", msg_id="m-old", age_s=3 * 3600))
        forged = text_event("gửi lúc mất mạng", msg_id="m-outage-2", age_s=300)
        good = signature(APP_ID, json.dumps(forged, ensure_ascii=False).encode(), forged["timestamp"], OA_SECRET)
        forged["message"]["text"] = "đã bị sửa"
        altered, _ = await post_event(f"{base}/webhook", forged, header=good)
        await channel.wait_idle()
    assert [r[1]["status"] for r in retried] == ["accepted", "duplicate", "duplicate"]
    assert [r[1]["status"] for r in again] == ["accepted", "duplicate"]
    assert too_old[0] == 401 and altered == 401
    assert [m.text for m in rasa.received] == ["gửi lúc mất mạng", "sau 30 giây"]


async def test_minus_220_refreshes_the_token_once_and_retries(channel: ZaloInput, fake_zalo: Any) -> None:
    fake, _ = fake_zalo
    fake.expired_code = -220
    await channel.client.record_user_message(USER)
    fake.expire_all_access_tokens()
    assert await channel.client.send_reply(USER, Reply(text="Dạ")) is SendStatus.SENT
    assert len(fake.refresh_calls) == 1 and len(fake.sent) == 1


@pytest.mark.parametrize("code", sorted(ZALO_ERRORS))
async def test_each_error_code_maps_as_the_table_says(channel: ZaloInput, fake_zalo: Any, code: int) -> None:
    fake, _ = fake_zalo
    await channel.client.record_user_message(USER)
    kind = ZALO_ERRORS[code][0]
    fake.next_errors = [code, code] if kind is ErrorKind.TOKEN else [code]
    status = await channel.client.send_reply(USER, Reply(text="Dạ"))
    expected = {
        ErrorKind.WINDOW: SendStatus.OUTSIDE_WINDOW,
        ErrorKind.UNREACHABLE: SendStatus.OUTSIDE_WINDOW,
        ErrorKind.FUNDING: SendStatus.NOT_FUNDED,
    }.get(kind, SendStatus.FAILED)
    assert status is expected
    # Only a token error spends the refresh token (-240, the retired v2 API, does not).
    assert len(fake.refresh_calls) == (1 if kind is ErrorKind.TOKEN else 0)
    assert fake.sent == []


@pytest.mark.parametrize(("hours", "paid", "status"), [
    (47, "0", SendStatus.SENT),
    (49, "0", SendStatus.OUTSIDE_FREE_WINDOW),
    (49, "1", SendStatus.SENT),
    (24 * 8, "1", SendStatus.OUTSIDE_WINDOW),
])  # fmt: skip
async def test_a_push_follows_the_free_48_hours(
    channel: ZaloInput, fake_zalo: Any, store: ChannelStore, hours: int, paid: str, status: SendStatus
) -> None:
    fake, _ = fake_zalo
    store.touch_user("zalo", USER, naive_utc() - timedelta(hours=hours))
    output = channel.get_output_channel()
    assert isinstance(output, ZaloOutput)
    with overridden(ZALO_PAID_MESSAGES=paid):
        assert await output.send_reply(USER, Reply(text="Hồ sơ của anh/chị đã có kết quả.")) is status
    assert len(fake.sent) == (1 if status is SendStatus.SENT else 0)


def _age_pair(store: ChannelStore, *, expires_in: timedelta, stored_ago: timedelta) -> None:
    """Make the stored pair look as old as a quiet OA's would."""
    from sqlalchemy import update

    from bot.channels.models import OAuthToken

    with store.engine.begin() as conn:
        conn.execute(update(OAuthToken).values(access_expires_at=naive_utc() + expires_in,
                                               updated_at=naive_utc() - stored_ago))  # fmt: skip


@pytest.mark.parametrize(("expires_in", "stored_ago", "refreshes"), [
    (timedelta(hours=20), timedelta(days=1), 0),  # fresh: nothing to do
    (timedelta(hours=2), timedelta(days=1), 1),  # the access token is about to expire
    (timedelta(hours=20), timedelta(days=31), 1),  # a month without a refresh: renew the refresh token too
])  # fmt: skip
async def test_the_scheduled_keep_alive_refreshes_only_when_due(
    fake_zalo: Any, store: ChannelStore, expires_in: timedelta, stored_ago: timedelta, refreshes: int
) -> None:
    fake, base = fake_zalo
    client = make_channel(base, store).client
    await client.current_token()
    _age_pair(store, expires_in=expires_in, stored_ago=stored_ago)
    assert await client.keep_alive() is bool(refreshes)
    assert len(fake.refresh_calls) == refreshes


async def test_the_scheduled_keep_alive_spends_the_refresh_token_once_with_two_replicas(
    fake_zalo: Any, engine: Engine
) -> None:
    fake, base = fake_zalo
    replicas = [make_channel(base, ChannelStore(engine)).client for _ in range(2)]
    await replicas[0].current_token()
    _age_pair(ChannelStore(engine), expires_in=timedelta(hours=1), stored_ago=timedelta(days=1))
    await asyncio.gather(*(r.keep_alive() for r in replicas))
    assert len(fake.refresh_calls) == 1
    assert await replicas[1].keep_alive() is False  # the new pair is fresh for both


async def test_one_event_retried_at_30s_5min_and_1h_by_new_replicas_is_processed_once(
    fake_zalo: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zalo re-sends the same body (same timestamp) later; each retry reaches a new process (a restart or
    another replica): the database, not a process, remembers that it was handled."""
    from types import SimpleNamespace

    import bot.channels.zalo as zalo_module

    _, base = fake_zalo
    rasa = FakeRasa()
    event = text_event("gửi lúc Rasa khởi động lại", msg_id="m-retried")
    written = time.time()
    statuses = []
    for delay in (30, 300, 3600):
        clock = SimpleNamespace(time=lambda d=delay: written + d, monotonic=time.monotonic)
        monkeypatch.setattr(zalo_module, "time", clock)
        replica = make_channel(base, ChannelStore(engine))
        async with run_channel(replica, rasa) as url:
            statuses.append((await post_event(f"{url}/webhook", event))[1]["status"])
            await replica.wait_idle()
    assert statuses == ["accepted", "duplicate", "duplicate"]
    assert [m.text for m in rasa.received] == ["gửi lúc Rasa khởi động lại"]
    # Zalo's windows count from when the citizen wrote, not from when the retry arrived.
    last = ChannelStore(engine).last_user_message("zalo", USER)
    assert last is not None and abs(last.replace(tzinfo=timezone.utc).timestamp() - written) < 2


def test_an_older_message_never_moves_the_last_message_back(store: ChannelStore) -> None:
    now = naive_utc()
    store.touch_user("zalo", "u9", now)
    store.touch_user("zalo", "u9", now - timedelta(hours=1))  # an event retried late
    assert store.last_user_message("zalo", "u9") == now
    store.touch_user("zalo", "u9", now + timedelta(minutes=1))
    assert store.last_user_message("zalo", "u9") == now + timedelta(minutes=1)
