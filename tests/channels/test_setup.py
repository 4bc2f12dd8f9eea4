"""Channel registration: credentials generation, Rasa loading the channels, the reply model, the state store."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine

from bot.channels import mask_user, setting
from bot.channels.credentials import TEMPLATE, active_channels, write_credentials
from bot.channels.models import OAuthToken
from bot.channels.replies import as_plain_text, from_rasa
from bot.channels.store import ChannelStore, Lease
from bot.replies import Button, Link, Reply
from bot.settings import load

TELEGRAM_VARS = {"TELEGRAM_BOT_TOKEN": "1:abc", "TELEGRAM_SECRET_TOKEN": "sec"}
ZALO_VARS = {"ZALO_APP_ID": "1", "ZALO_APP_SECRET": "s", "ZALO_OA_SECRET_KEY": "k", "ZALO_REFRESH_TOKEN": "r"}


def test_template_uses_our_validated_rest_and_socketio_channels() -> None:
    config = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert "rest" not in config and "socketio" not in config, "Rasa's own channels trust the client's ids"
    assert "bot.channels.rest.RestInput" in config
    assert config["bot.channels.socketio.SocketIOInput"] == {
        "user_message_evt": "user_uttered",
        "bot_message_evt": "bot_uttered",
    }


def test_unset_channels_are_left_out() -> None:
    enabled, skipped = active_channels(environ={})
    assert {
        "bot.channels.rest.RestInput", "bot.channels.socketio.SocketIOInput", "bot.channels.widget.WidgetInput"
    } <= set(enabled)  # fmt: skip
    assert skipped["bot.channels.telegram.TelegramInput"] == ["TELEGRAM_BOT_TOKEN", "TELEGRAM_SECRET_TOKEN"]
    assert "bot.channels.zalo.ZaloInput" in skipped
    enabled, skipped = active_channels(environ={**TELEGRAM_VARS, **ZALO_VARS})
    assert skipped == {}


def test_rasa_loads_the_generated_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.run import create_http_input_channels

    for name, value in TELEGRAM_VARS.items():
        monkeypatch.setenv(name, value)
    for name in ZALO_VARS:
        monkeypatch.delenv(name, raising=False)
    path = write_credentials(tmp_path / "credentials.yml")
    text = path.read_text(encoding="utf-8")
    assert "1:abc" not in text and "${TELEGRAM_BOT_TOKEN}" in text, "secrets stay in the environment"
    assert "left out: bot.channels.zalo.ZaloInput" in text
    channels = {c.name(): c for c in create_http_input_channels(None, str(path))}
    assert {"rest", "socketio", "widget", "telegram_ptb"} <= set(channels) and "zalo" not in channels
    telegram = channels["telegram_ptb"]
    assert telegram.token == "1:abc" and telegram.secret_token == "sec"  # type: ignore[attr-defined]
    assert telegram.get_output_channel() is not None


def test_setting_prefers_credentials_then_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_START_TEXT", "from-env")
    from_env = load().channels.telegram_start_text
    assert setting({"opt": "from-file"}, "opt", from_env) == "from-file"
    assert setting({"opt": ""}, "opt", from_env) == "from-env"
    assert setting(None, "opt", 2.5) == 2.5
    assert mask_user("8800112233") != "8800112233" and mask_user("8800112233").startswith("u:")


def test_reply_from_rasa_messages() -> None:
    reply = from_rasa(
        {
            "text": "Dạ, hồ sơ gồm:",
            "buttons": [{"title": "Lệ phí", "payload": "/ask_fee"}, {"title": "Cổng DVC", "url": "https://dvc.vn"}],
            "custom": {"links": [{"title": "Mẫu CT01", "url": "https://x.vn/ct01.pdf"}], "text": "Thêm"},
            "image": "https://x.vn/a.png",
        }
    )
    assert reply.text == "Dạ, hồ sơ gồm:\n\nThêm"
    assert reply.buttons == (Button("Lệ phí", "/ask_fee"),)
    assert [link.url for link in reply.links] == ["https://dvc.vn", "https://x.vn/a.png", "https://x.vn/ct01.pdf"]
    quick = from_rasa({"text": "Chọn", "quick_replies": [{"title": "Có", "payload": "/affirm"}]})
    assert quick.buttons == (Button("Có", "/affirm"),)
    assert from_rasa({"custom": {"foo": 1}}).is_empty


def test_plain_text_rendering_and_parts() -> None:
    reply = Reply("Chọn thủ tục:", [Button("Tạm trú", "/a"), Button("Thường trú", "/b")], [Link("DVC", "https://d.vn")])
    text = as_plain_text(reply)
    assert "1. Tạm trú\n2. Thường trú" in text and "DVC: https://d.vn" in text
    assert Reply("", [Button("A", "/a")]).parts(100) == [""]
    long = Reply("\n\n".join(["x" * 900] * 5))
    assert all(len(p) <= 2000 for p in long.parts(2000)) and len(long.parts(2000)) == 3


def test_token_lease_is_a_compare_and_swap(engine: Engine) -> None:
    store = ChannelStore(engine)
    state = store.seed_token("zalo:1", "a0", "r0")
    assert state is not None and state.version == 1
    assert store.seed_token("zalo:1", "other", "other").refresh_token == "r0"  # type: ignore[union-attr]
    assert store.try_lease("zalo:1", 1) is Lease.WON
    assert store.try_lease("zalo:1", 1) is Lease.BUSY
    assert store.save_refreshed("zalo:1", 1, "a1", "r1", 90000)
    assert not store.save_refreshed("zalo:1", 1, "a-late", "r-late", 90000), "a stale writer cannot overwrite"
    assert store.try_lease("zalo:1", 1) is Lease.CHANGED
    assert store.load_token("zalo:1").refresh_token == "r1"  # type: ignore[union-attr]


def test_replace_token_after_reauthorisation(engine: Engine) -> None:
    store = ChannelStore(engine)
    assert store.replace_token("zalo:9", "", "fresh").version == 1
    store.try_lease("zalo:9", 1)
    state = store.replace_token("zalo:9", "a", "fresher")
    assert (state.refresh_token, state.version) == ("fresher", 2)
    assert store.try_lease("zalo:9", 2) is Lease.WON, "replacing clears a stuck lease"


def _postgres_engine() -> Engine | None:
    from sqlalchemy import text

    from bot.db import make_engine

    url = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    try:
        eng = make_engine(url)
        with eng.connect() as conn:
            conn.execute(text("select 1"))
        return eng
    except Exception:
        return None


@pytest.mark.postgres
def test_token_cas_on_postgres() -> None:
    eng = _postgres_engine()
    if eng is None:
        pytest.skip("PostgreSQL not reachable on 127.0.0.1:5432")
    store = ChannelStore(eng)
    provider = f"zalo:test-{uuid.uuid4().hex[:8]}"
    try:
        state = store.seed_token(provider, "a0", "r0")
        assert state is not None
        results = list(ThreadPoolExecutor(4).map(lambda _: store.try_lease(provider, 1), range(8)))
        assert results.count(Lease.WON) == 1
        assert store.save_refreshed(provider, 1, "a1", "r1", 60)
        assert not store.save_refreshed(provider, 1, "a2", "r2", 60)
        assert store.load_token(provider).refresh_token == "r1"  # type: ignore[union-attr]
    finally:
        with eng.begin() as conn:
            conn.execute(OAuthToken.__table__.delete().where(OAuthToken.provider == provider))
        eng.dispose()


def test_replay_memory_and_user_activity(engine: Engine) -> None:
    store = ChannelStore(engine)
    assert store.remember_event("zalo:msg:1", 600)
    assert not store.remember_event("zalo:msg:1", 600)
    assert store.last_user_message("zalo", "u1") is None
    store.touch_user("zalo", "u1")
    first = store.last_user_message("zalo", "u1")
    store.touch_user("zalo", "u1")
    assert store.last_user_message("zalo", "u1") >= first  # type: ignore[operator]
