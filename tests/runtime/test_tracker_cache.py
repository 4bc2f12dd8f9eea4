"""The tracker store keeps the trackers it saved for the next turn, and never serves a stale one
(bot.runtime.tracker_store.TrackerCache and PrivateSQLTrackerStore)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker

from bot.runtime.tracker_store import PrivateSQLTrackerStore, TrackerCache

SENDER = "rest:cache-citizen"
DOMAIN = Domain.from_dict(
    {
        "intents": ["greet", "provide_phone_digits"],
        "slots": {
            "phone_last4": {"type": "text", "mappings": [{"type": "custom"}]},
            "note": {"type": "text", "mappings": [{"type": "custom"}]},
        },
    }
)


def _store(db: Path, cache_size: int = 8) -> PrivateSQLTrackerStore:
    return PrivateSQLTrackerStore(DOMAIN, dialect="sqlite", db=str(db), cache_size=cache_size)


def _turn(tracker: DialogueStateTracker, text: str) -> None:
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 0.9}, [], input_channel="rest"))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered("Dạ, em chào anh/chị!"))
    tracker.update(ActionExecuted("action_listen"))


def _rows(db: Path) -> list[str]:
    return [row[0] for row in sqlite3.connect(db).execute("SELECT data FROM events ORDER BY id")]


def _same_state(a: DialogueStateTracker, b: DialogueStateTracker) -> None:
    assert [e.as_dict() for e in a.events] == [e.as_dict() for e in b.events]
    assert a.current_slot_values() == b.current_slot_values()
    assert a.latest_message.text == b.latest_message.text


def _new_tracker() -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        SENDER, [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")],
        DOMAIN.slots,
    )  # fmt: skip


async def _second_turn(store: PrivateSQLTrackerStore, text: str = "xin chào") -> DialogueStateTracker:
    """A conversation's first turn saved, and its second read back: a session's start is never kept in
    memory (read back, the session begins at its SessionStarted), so the second turn reads the store."""
    first = _new_tracker()
    _turn(first, text)
    await store.save(first)
    assert store.cache.take(SENDER) is None
    tracker = await store.retrieve(SENDER)
    assert tracker is not None and tracker is not first
    return tracker


def test_the_next_turn_reuses_the_saved_tracker_and_matches_the_database(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = _store(db)

    async def scenario() -> None:
        tracker = await _second_turn(store)
        _turn(tracker, "câu đầu")
        await store.save(tracker)
        for n in range(5):
            again = await store.retrieve(SENDER)
            assert again is tracker, "the saved tracker is reused"
            _turn(again, f"câu {n}")
            await store.save(again)
        fresh = await _store(db, cache_size=0).retrieve(SENDER)
        assert fresh is not None
        _same_state(tracker, fresh)

    asyncio.run(scenario())
    assert store.cache.hits == 5
    assert len(_rows(db)) == 3 + 7 * 4, "each event stored once"


def test_another_replica_writing_makes_the_next_turn_read_the_database(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    one, two = _store(db), _store(db)

    async def scenario() -> None:
        tracker = await _second_turn(one, "bắt đầu")
        _turn(tracker, "xin chào")
        await one.save(tracker)
        other = await two.retrieve(SENDER)  # the next message reached the other replica
        assert other is not None and other is not tracker
        _turn(other, "đăng ký tạm trú")
        await two.save(other)
        back = await one.retrieve(SENDER)  # and the one after that came back here
        assert back is not None and back is not tracker, "a stale tracker is never served"
        assert [e.text for e in back.events if isinstance(e, UserUttered)] == ["bắt đầu", "xin chào", "đăng ký tạm trú"]
        _turn(back, "cảm ơn")
        await one.save(back)

    asyncio.run(scenario())
    texts = [row for row in _rows(db) if '"event": "user"' in row]
    assert len(texts) == 4, "no event lost, none written twice"


def test_an_erasure_between_turns_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = _store(db)

    async def scenario() -> DialogueStateTracker | None:
        tracker = await _second_turn(store)
        _turn(tracker, "thêm")
        await store.save(tracker)
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM events WHERE sender_id = ?", (SENDER,))
        return await store.retrieve(SENDER)

    assert asyncio.run(scenario()) is None, "the erased conversation is not resurrected from memory"


def test_a_turn_that_failed_before_saving_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = _store(db)

    async def scenario() -> None:
        tracker = await _second_turn(store)
        _turn(tracker, "thêm")
        await store.save(tracker)
        broken = await store.retrieve(SENDER)
        assert broken is tracker
        _turn(broken, "tin nhắn dở dang")  # the turn fails here: never saved
        again = await store.retrieve(SENDER)
        assert again is not None and again is not broken
        assert "tin nhắn dở dang" not in [e.text for e in again.events if isinstance(e, UserUttered)]

    asyncio.run(scenario())


def test_slots_in_memory_hold_what_was_stored_not_the_digits(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = _store(db)

    async def scenario() -> None:
        tracker = await _second_turn(store)
        tracker.update(UserUttered("6789", {"name": "provide_phone_digits", "confidence": 0.9}))
        tracker.update(SlotSet("phone_last4", "6789"))
        tracker.update(SlotSet("note", "gọi 0912345678"))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        cached = await store.retrieve(SENDER)
        assert cached is tracker
        fresh = await _store(db, cache_size=0).retrieve(SENDER)
        assert fresh is not None
        assert cached.get_slot("phone_last4") is None
        assert "0912345678" not in str(cached.get_slot("note"))
        _same_state(cached, fresh)

    asyncio.run(scenario())


def test_the_cache_is_bounded() -> None:
    cache = TrackerCache(2)
    trackers = [DialogueStateTracker(f"s{i}", [TextSlot("note", [])]) for i in range(3)]
    for tracker in trackers:
        cache.put(tracker)
    assert len(cache) == 2
    assert cache.take("s0") is None, "the least recently saved went first"
    assert cache.take("s2") is trackers[2]
    assert cache.take("s2") is None, "a turn takes its tracker"
    none = TrackerCache(0)
    none.put(trackers[0])
    assert len(none) == 0


@pytest.mark.parametrize("cache_size", [0, 8])
def test_turns_read_back_the_same_with_or_without_the_cache(tmp_path: Path, cache_size: int) -> None:
    db = tmp_path / f"tracker{cache_size}.db"
    store = _store(db, cache_size)

    async def scenario() -> list[str]:
        await store.save(_new_tracker())
        for n in range(4):
            tracker = await store.retrieve(SENDER)
            assert tracker is not None
            _turn(tracker, f"câu {n}")
            await store.save(tracker)
        return _rows(db)

    rows = asyncio.run(scenario())
    assert len(rows) == 3 + 4 * 4


def test_a_new_model_empties_the_cache(tmp_path: Path) -> None:
    """PUT /model gives the store the new model's domain: trackers built with the old slots go."""
    store = _store(tmp_path / "tracker.db")

    async def scenario() -> None:
        tracker = await _second_turn(store)
        _turn(tracker, "thêm")
        await store.save(tracker)
        assert len(store.cache) == 1
        store.domain = DOMAIN  # the same domain again: kept
        assert len(store.cache) == 1
        store.domain = Domain.from_dict({"intents": ["greet"]})
        assert len(store.cache) == 0

    asyncio.run(scenario())


def test_a_first_turn_that_failed_half_way_is_not_served(tmp_path: Path) -> None:
    """Rasa saves a new conversation's empty tracker before the turn runs; the turn then fails (the client
    went away): the next message must not get that half-done object (the red-team's case)."""
    from rasa.core.tracker_store import TrackerStore

    db = tmp_path / "tracker.db"
    store = _store(db)

    async def scenario() -> None:
        tracker = await TrackerStore.get_or_create_tracker(store, SENDER, append_action_listen=False)
        tracker.update(UserUttered("tin nhắn bị bỏ dở", {"name": "greet", "confidence": 0.9}))  # never saved
        again = await store.retrieve(SENDER)
        assert again is None, "nothing was stored: the conversation starts anew"

    asyncio.run(scenario())
