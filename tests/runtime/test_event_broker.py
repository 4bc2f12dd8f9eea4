"""The embedded event broker (bot.runtime.event_broker): Rasa's events into the conversation record, off the loop."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
import sqlalchemy.exc
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.runtime.event_broker import RecordingEventBroker, is_transient


class StandInRecorder:
    """Records event dicts by (sender_id, event, timestamp), idempotently; can be slow or fail first."""

    def __init__(self, delay: float = 0.0, failures: int = 0, error: Callable[[str], Exception] = RuntimeError) -> None:
        self.delay = delay
        self.failures = failures
        self.error = error
        self.calls = 0
        self.seen: set[tuple[Any, ...]] = set()
        self.by_sender: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    def apply(self, events: Sequence[Mapping[str, Any]]) -> int:
        with self.lock:
            self.calls += 1
            if self.delay:
                time.sleep(self.delay)
            if self.failures > 0:
                self.failures -= 1
                raise self.error("database unavailable")
            new = 0
            for event in events:
                key = (event["sender_id"], event["event"], event["timestamp"])
                if key in self.seen:
                    continue
                self.seen.add(key)
                self.by_sender.setdefault(event["sender_id"], []).append(event["n"])
                new += 1
            return new

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.seen)


def _event(sender: str, n: int) -> dict[str, Any]:
    return {"sender_id": sender, "event": "user", "timestamp": 1_700_000_000 + n / 1000, "text": "xin chào", "n": n}


def _wait(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_events_land_and_publish_does_not_wait_for_a_slow_recorder() -> None:
    recorder = StandInRecorder(delay=0.05)  # 50 ms per batch
    broker = RecordingEventBroker(recorder.apply, batch_wait=0.01)

    async def scenario() -> float:
        start = time.perf_counter()
        for n in range(2000):
            broker.publish(_event(f"rest:{n % 7}", n))
            if n % 100 == 0:
                await asyncio.sleep(0)  # like Rasa: publishes between other work on the loop
        elapsed = time.perf_counter() - start
        await broker.close()
        return elapsed

    elapsed = asyncio.run(scenario())
    assert elapsed / 2000 < 0.001, f"publish took {elapsed / 2000 * 1e6:.0f} µs on average"
    assert recorder.count == 2000
    assert broker.stats.published == 2000 and broker.stats.applied == 2000
    assert broker.stats.dropped == 0
    assert recorder.calls < 2000 / 10  # batched


def test_close_flushes_what_is_queued() -> None:
    recorder = StandInRecorder(delay=0.02)
    broker = RecordingEventBroker(recorder.apply, batch_size=10)

    async def scenario() -> None:
        for n in range(300):
            broker.publish(_event("rest:a", n))
        await broker.close()

    asyncio.run(scenario())
    assert recorder.count == 300
    assert not broker.is_ready()


def test_close_is_bounded_when_the_database_stays_down() -> None:
    recorder = StandInRecorder(
        failures=10**9, error=lambda msg: sqlalchemy.exc.OperationalError("INSERT", {}, Exception(msg))
    )
    broker = RecordingEventBroker(recorder.apply, close_timeout=0.5)

    async def scenario() -> float:
        broker.publish(_event("rest:a", 1))
        start = time.monotonic()
        await broker.close()
        return time.monotonic() - start

    assert asyncio.run(scenario()) < 2.0
    assert recorder.count == 0
    assert broker.stats.failed == 1


def test_a_failing_recorder_is_retried_until_it_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    recorder = StandInRecorder(failures=3)
    broker = RecordingEventBroker(recorder.apply)
    broker.start()
    for n in range(5):
        broker.publish(_event("zalo:secret-person", n))
    assert broker.flush(10)
    assert recorder.by_sender["zalo:secret-person"] == [0, 1, 2, 3, 4]
    assert broker.stats.retries == 3 and broker.stats.errors == {"RuntimeError": 3}
    assert broker.stats.failed == 0
    broker.stop()
    # Logs name counts and the error type, never the conversation or its text.
    text = caplog.text
    assert "RuntimeError" in text
    assert "secret-person" not in text and "xin chào" not in text and "database unavailable" not in text


def test_an_event_the_recorder_always_refuses_is_given_up_alone() -> None:
    class Picky(StandInRecorder):
        def apply(self, events: Sequence[Mapping[str, Any]]) -> int:
            if any(e["n"] == 3 for e in events):
                raise ValueError("bad event")
            return super().apply(events)

    recorder = Picky()
    broker = RecordingEventBroker(recorder.apply, max_attempts=2)
    broker.start()
    for n in range(6):
        broker.publish(_event("rest:a", n))
    assert broker.flush(10)
    broker.stop()
    assert recorder.by_sender["rest:a"] == [0, 1, 2, 4, 5]
    assert broker.stats.failed == 1


def test_events_are_applied_in_order_per_conversation() -> None:
    recorder = StandInRecorder(failures=2)
    broker = RecordingEventBroker(recorder.apply, batch_size=7, batch_wait=0.001)
    senders = [f"socketio:{i}" for i in range(5)]

    async def conversation(sender: str, base: int) -> None:
        for n in range(base, base + 100):
            broker.publish(_event(sender, n))
            await asyncio.sleep(0)

    async def scenario() -> None:
        await asyncio.gather(*(conversation(s, i * 1000) for i, s in enumerate(senders)))
        await broker.close()

    asyncio.run(scenario())
    for i, sender in enumerate(senders):
        assert recorder.by_sender[sender] == list(range(i * 1000, i * 1000 + 100))


def test_a_full_queue_drops_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()

    def blocked(events: Sequence[Mapping[str, Any]]) -> int:
        gate.wait(5)
        return len(events)

    broker = RecordingEventBroker(blocked, queue_size=10, batch_size=1)
    broker.start()
    broker.publish(_event("rest:a", 0))
    assert _wait(lambda: broker._writer.queue.empty())  # the worker holds the first event
    for n in range(1, 16):
        broker.publish(_event("rest:a", n))
    assert broker.stats.published == 11 and broker.stats.dropped == 5
    assert "dropped" in caplog.text and "conversations rebuild" in caplog.text
    gate.set()
    assert broker.flush(5)
    broker.stop()
    assert broker.stats.written == 11


def test_the_worker_restarts_after_close() -> None:
    recorder = StandInRecorder()
    broker = RecordingEventBroker(recorder.apply)
    broker.start()
    assert broker.is_ready()
    assert broker.stop(2)
    assert not broker.is_ready()
    broker.publish(_event("rest:a", 1))  # e.g. a model reload kept the broker
    assert broker.is_ready()
    assert broker.flush(5) and recorder.count == 1
    broker.stop()


def test_a_dropped_broker_writes_its_queue_and_its_thread_ends() -> None:
    # Rasa builds a new agent, and a new broker, when a model is replaced through the HTTP API.
    recorder = StandInRecorder(delay=0.02)
    broker = RecordingEventBroker(recorder.apply, batch_size=5)
    broker.start()
    for n in range(50):
        broker.publish(_event("rest:a", n))
    thread = broker._thread
    assert thread is not None
    del broker
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()
    assert recorder.count == 50


def test_transient_errors() -> None:
    assert is_transient(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("locked")))
    assert is_transient(ConnectionRefusedError())
    assert not is_transient(ValueError("bad"))
    assert not is_transient(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("dup")))


def test_rasa_builds_it_from_the_endpoints_file(tmp_path: Any) -> None:
    config = EndpointConfig.from_dict(
        {
            "type": "bot.runtime.event_broker.RecordingEventBroker",
            "url": f"sqlite:///{tmp_path / 'record.db'}",
            "batch_size": 50,
            "batch_wait_ms": 20,
            "queue_size": 100,
        }
    )

    async def scenario() -> EventBroker | None:
        broker = await EventBroker.create(config)
        assert broker is not None and broker.is_ready()
        await broker.close()
        return broker

    broker = asyncio.run(scenario())
    assert isinstance(broker, RecordingEventBroker)
    assert broker.batch_size == 50 and broker.batch_wait == pytest.approx(0.02)
    assert broker._writer.queue.maxsize == 100


def test_the_endpoints_file_configures_it() -> None:
    import yaml

    from bot.settings import PROJECT_ROOT

    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["event_broker"]["type"] == "bot.runtime.event_broker.RecordingEventBroker"


def test_events_reach_the_real_record(engine: Any, sqlite_url: str) -> None:
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from sqlalchemy import text

    broker = RecordingEventBroker(database_url=sqlite_url)

    async def scenario() -> None:
        for i in range(3):
            for event in (
                UserUttered(f"câu hỏi số {i}", {"name": "ask_fee", "confidence": 0.9}, timestamp=1_760_000_000 + i),
                ActionExecuted("action_answer_procedure", timestamp=1_760_000_000 + i + 0.1),
                BotUttered("Lệ phí…", timestamp=1_760_000_000 + i + 0.2),
            ):
                broker.publish({"sender_id": "rest:an", **event.as_dict()})
        await broker.close()

    asyncio.run(scenario())
    assert broker.stats.applied == 9 and broker.stats.failed == 0
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT text, reply FROM conv_turns WHERE sender_id = 'rest:an' ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(f"câu hỏi số {i}", "Lệ phí…") for i in range(3)]


def test_the_tracker_store_feeds_the_record_with_redacted_events(engine: Any, sqlite_url: str, tmp_path: Any) -> None:
    """Rasa's own publishing path (SQLTrackerStore.save → stream_events → publish), two turns saved apart."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy import text

    from bot.runtime.tracker_store import PrivateSQLTrackerStore

    def turn(said: str, t: float) -> list[Any]:
        return [
            UserUttered(said, {"name": "ask_fee", "confidence": 0.9}, [], input_channel="rest", timestamp=t),
            ActionExecuted("action_answer_procedure", timestamp=t + 0.1),
            BotUttered("Lệ phí…", timestamp=t + 0.2),
            ActionExecuted("action_listen", timestamp=t + 0.3),
        ]

    broker = RecordingEventBroker(database_url=sqlite_url)
    store = PrivateSQLTrackerStore(
        Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"), event_broker=broker
    )

    async def scenario() -> None:
        tracker = DialogueStateTracker.from_events("rest:citizen", turn("lệ phí làm căn cước?", 1_760_000_000))
        await store.save(tracker)
        tracker = await store.retrieve("rest:citizen")
        assert tracker is not None
        for event in turn("số em là 0912345678", 1_760_000_010):
            tracker.update(event)
        await store.save(tracker)
        await broker.close()

    asyncio.run(scenario())
    with engine.connect() as conn:
        said = [
            row[0]
            for row in conn.execute(text("SELECT text FROM conv_turns WHERE sender_id = 'rest:citizen' ORDER BY id"))
        ]
    assert len(said) == 2 and said[0] == "lệ phí làm căn cước?"
    assert "0912345678" not in said[1]  # masked before it was published
    assert broker.stats.failed == 0 and broker.stats.written == broker.stats.published


@pytest.mark.filterwarnings("ignore:No valid configuration given to load agent")
def test_rasa_loads_it_from_the_runners_endpoints_and_closes_it(tmp_path: Any) -> None:
    """The way `make run` starts Rasa: the runner's endpoints file, Rasa's load_agent and close_resources."""
    from types import SimpleNamespace

    from rasa.core.agent import load_agent
    from rasa.core.run import close_resources
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.events import UserUttered
    from sqlalchemy import text

    from bot.db import make_engine
    from bot.db.schema import ensure_schema
    from bot.runtime.runner import Ports, runtime_endpoints

    ensure_schema()  # the app database (under the test's BOT_VAR_DIR), as the runner does first
    path = runtime_endpoints(Ports(), tmp_path / "endpoints.yml", tracker_db=tmp_path / "tracker.db")

    async def scenario() -> RecordingEventBroker:
        agent = await load_agent(endpoints=AvailableEndpoints.read_endpoints(str(path)))
        broker = agent.tracker_store.event_broker
        assert isinstance(broker, RecordingEventBroker) and broker.is_ready()
        tracker = await agent.tracker_store.get_or_create_tracker("rest:citizen")
        tracker.update(UserUttered("xin chào", {"name": "greet", "confidence": 0.9}, timestamp=1_760_000_000))
        await agent.tracker_store.save(tracker)
        await close_resources(SimpleNamespace(ctx=SimpleNamespace(agent=agent)), asyncio.get_running_loop())  # type: ignore[arg-type]
        assert not broker.is_ready()
        return broker

    broker = asyncio.run(scenario())
    assert broker.stats.failed == 0 and broker.stats.written == broker.stats.published >= 1
    engine = make_engine()
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT sender_id, text FROM conv_turns")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [("rest:citizen", "xin chào")]
