"""endpoints.prod.yml against the real PostgreSQL, Redis and RabbitMQ on this machine.

Each part skips with a message when its service is not running.
"""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from bot.settings import PROJECT_ROOT
from tests.rabbitmq import delete_queues

PROD_ENV = {
    "ACTION_SERVER_URL": "http://127.0.0.1:5055/webhook",
    "ACTION_SERVER_TOKEN": "prod-profile-test-token",
    "TRACKER_DB_HOST": "127.0.0.1",
    "TRACKER_DB_PORT": "5432",
    "TRACKER_DB_NAME": "test",
    "TRACKER_DB_USER": "postgres",
    "TRACKER_DB_PASSWORD": "",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "3",
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": f"test_prod_profile_{uuid.uuid4().hex[:8]}",  # not the machine's dvc_events
    "REDIS_PASSWORD": "",
}


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def endpoints(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from rasa.core.utils import AvailableEndpoints

    for key, value in PROD_ENV.items():
        monkeypatch.setenv(key, value)
    yield AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.prod.yml"))
    delete_queues(PROD_ENV["RABBITMQ_QUEUE"])


def test_tracker_store_on_postgresql(endpoints) -> None:  # type: ignore[no-untyped-def]
    if not _listening(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    store = TrackerStore.create(endpoints.tracker_store, domain=domain)
    sender = f"prod-{uuid.uuid4().hex[:8]}"
    tracker = DialogueStateTracker.from_events(
        sender, [UserUttered("xin chào", {"name": "greet"}), SlotSet("procedure_code", "1.004194")], domain.slots
    )
    asyncio.run(store.save(tracker))
    again = asyncio.run(store.retrieve(sender))
    assert again is not None and again.get_slot("procedure_code") == "1.004194"


def test_lock_store_on_redis(endpoints) -> None:  # type: ignore[no-untyped-def]
    if not _listening(6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from rasa.core.lock_store import LockStore

    store = LockStore.create(endpoints.lock_store)
    conversation = f"prod-{uuid.uuid4().hex[:8]}"

    inside: list[str] = []
    overlaps: list[bool] = []

    async def handle(name: str) -> None:
        async with store.lock(conversation, wait_time_in_seconds=0.05):
            overlaps.append(bool(inside))
            inside.append(name)
            await asyncio.sleep(0.2)
            inside.remove(name)

    async def two_replicas() -> None:
        await asyncio.gather(handle("a"), handle("b"))

    # Two messages of one conversation, as two replicas would get them: handled one after the other.
    asyncio.run(two_replicas())
    assert overlaps == [False, False]


def test_event_broker_on_rabbitmq(endpoints) -> None:  # type: ignore[no-untyped-def]
    if not _listening(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    from rasa.core.brokers.broker import EventBroker

    async def publish() -> None:
        broker = await EventBroker.create(endpoints.event_broker)
        assert broker is not None
        broker.publish({"event": "user", "text": "xin chào", "sender_id": "prod-test"})
        await broker.close()

    asyncio.run(publish())
