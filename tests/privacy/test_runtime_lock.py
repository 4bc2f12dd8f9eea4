"""bot.runtime.conversation_lock: Rasa's lock store and tracker store as the endpoints file configures them."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from bot.runtime import conversation_lock as runtime
from bot.settings import PROJECT_ROOT, settings
from tests.runtime.test_production_profile import _listening

PROD = PROJECT_ROOT / "endpoints.prod.yml"
PROD_ENV = {
    "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
    "ACTION_SERVER_TOKEN": "t",
    "TRACKER_DB_HOST": "127.0.0.1",
    "TRACKER_DB_PORT": "5432",
    "TRACKER_DB_NAME": "test",
    "TRACKER_DB_USER": "postgres",
    "TRACKER_DB_PASSWORD": "p@ss",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "3",
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": "dvc_events",
    "REDIS_PASSWORD": "",
}




def test_the_embedded_profile_has_no_shared_lock() -> None:
    assert runtime.lock_is_shared() is False
    with runtime.conversation_lock("rest:x"):
        pass  # holds nothing, says so through lock_is_shared
    assert runtime.tracker_url() == f"sqlite:///{settings().core.var_dir / 'tracker.db'}"


def test_an_unset_variable_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in PROD_ENV:
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match=r"TRACKER_DB_HOST|ACTION_SERVER_URL"):
        runtime.tracker_url(PROD)
    with pytest.raises(FileNotFoundError):
        runtime.tracker_url(PROJECT_ROOT / "no-such-endpoints.yml")


def test_the_production_tracker_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PROD_ENV.items():
        monkeypatch.setenv(key, value)
    assert runtime.tracker_url(PROD) == "postgresql://postgres:p%40ss@127.0.0.1:5432/test"


def test_the_redis_lock_keeps_rasa_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    if not _listening(6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    for key, value in PROD_ENV.items():
        monkeypatch.setenv(key, value)
    assert runtime.lock_is_shared(PROD) is True
    conversation = f"privacy-{uuid.uuid4().hex[:8]}"
    rasa_side = LockStore.create(read_endpoint_config(str(PROD), "lock_store"))  # another process's store
    held = threading.Event()

    def eraser() -> None:
        with runtime.conversation_lock(conversation, PROD):
            held.set()
            time.sleep(0.4)

    thread = threading.Thread(target=eraser)
    thread.start()
    assert held.wait(5)

    async def turn() -> float:
        start = time.monotonic()
        async with rasa_side.lock(conversation, wait_time_in_seconds=0.02):
            return time.monotonic() - start

    waited = asyncio.run(turn())
    thread.join()
    assert waited > 0.2  # the turn waited for the erasure
