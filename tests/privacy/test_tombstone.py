"""A turn in flight while its conversation is erased writes nothing of the erased past back (PrivateSQLTrackerStore)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db import make_engine
from bot.privacy.lifecycle import DataLifecycle
from bot.privacy.models import TRACKER_EVENTS
from bot.privacy.subjects import Subject
from bot.runtime.tracker_store import PrivateSQLTrackerStore

SENDER = "telegram_ptb:424242"


class Broker:
    """Collects what the tracker store publishes (what the record of conversations would get)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


def _texts(tracker_engine: Engine) -> list[str]:
    with tracker_engine.connect() as conn:
        return list(conn.execute(select(TRACKER_EVENTS.c.data).where(TRACKER_EVENTS.c.sender_id == SENDER)).scalars())


def test_an_erased_conversation_is_not_written_back(tmp_path: Path, engine: Engine) -> None:
    db = tmp_path / "tracker.db"
    store = PrivateSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db))
    broker = Broker()
    store.event_broker = broker  # type: ignore[assignment]
    tracker_engine = make_engine(f"sqlite:///{db}")

    async def scenario() -> None:
        tracker = DialogueStateTracker(SENDER, [])
        tracker.update(UserUttered("bí mật cũ", {"name": "ask_fee", "confidence": 0.9}, [], input_channel="telegram"))
        tracker.update(ActionExecuted("action_answer_procedure"))
        tracker.update(BotUttered("trả lời cũ"))
        await store.save(tracker)
        in_flight = await store.retrieve(SENDER)  # a turn starts...
        assert in_flight is not None and len(_texts(tracker_engine)) == 3

        # ... the conversation is erased meanwhile (another process: no shared lock here) ...
        DataLifecycle(engine, tracker_engine).erase(Subject("sender", SENDER), reference="PYC-1", requested_by="t")
        assert _texts(tracker_engine) == []
        time.sleep(0.01)

        # ... and the turn ends: Rasa would write every event beyond the stored count (0), the old ones too.
        broker.published.clear()
        in_flight.update(UserUttered("tin mới", {"name": "greet", "confidence": 0.9}, [], input_channel="telegram"))
        await store.save(in_flight)
        in_flight.update(BotUttered("trả lời mới"))
        await store.save(in_flight)  # Rasa saves twice a turn: after the message, after the actions

    asyncio.run(scenario())
    stored = [json.loads(data) for data in _texts(tracker_engine)]
    assert [e.get("text") for e in stored] == ["tin mới", "trả lời mới"]  # the erased past stays erased
    assert [e.get("text") for e in broker.published] == ["tin mới", "trả lời mới"]  # nor goes to the record

    async def later() -> None:
        tracker = await store.retrieve(SENDER)
        assert tracker is not None
        tracker.update(BotUttered("chào bạn"))
        await store.save(tracker)

    asyncio.run(later())
    assert len(_texts(tracker_engine)) == 3  # the new conversation goes on as usual
    tracker_engine.dispose()


def test_a_conversation_never_erased_is_stored_as_before(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = PrivateSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db))

    async def scenario() -> None:
        tracker = DialogueStateTracker(SENDER, [])
        tracker.update(UserUttered("xin chào", {"name": "greet", "confidence": 0.9}, []))
        await store.save(tracker)
        tracker.update(BotUttered("chào bạn"))
        await store.save(tracker)

    asyncio.run(scenario())
    engine = make_engine(f"sqlite:///{db}")
    assert len(_texts(engine)) == 2
    engine.dispose()
