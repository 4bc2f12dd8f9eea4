"""The production consumer (bot.runtime.broker_consumer) against the real RabbitMQ on 127.0.0.1:5672.

Events are published by Rasa's own producer (``PikaEventBroker``), each test on its own exchange
and queue (deleted afterwards), and recorded by the real Recorder into a temporary SQLite file.
Skipped when RabbitMQ is not reachable; the connection-drop case also needs ``rabbitmqctl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from rasa.core.brokers.pika import PikaEventBroker
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.runtime.broker_consumer import EventConsumer, decode, default_url, main
from bot.settings import PROJECT_ROOT, overridden

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
RABBIT_URL = f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/"
EVENTS_PER_TURN = 4


@pytest.fixture
def rabbit() -> str:
    """The test RabbitMQ's URL; skips when nothing listens on 127.0.0.1:5672."""
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"RabbitMQ not reachable at {RABBIT_HOST}:{RABBIT_PORT} (guest/guest): {type(exc).__name__}")
    return RABBIT_URL


@pytest.fixture
def names(rabbit: str) -> Iterator[tuple[str, str]]:
    """A unique (queue, exchange) pair, deleted after the test."""
    suffix = uuid.uuid4().hex[:10]
    queue, exchange = f"test_dvc_events_{suffix}", f"test-rasa-exchange-{suffix}"
    yield queue, exchange

    async def cleanup() -> None:
        connection = await aio_pika.connect(rabbit)
        async with connection:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(queue)
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)

    asyncio.run(cleanup())


def conversation(sender: str, turns: int, t0: float = 1_760_000_000.0) -> list[dict[str, Any]]:
    """A conversation's events as Rasa's tracker store publishes them (4 per turn, turn i says "câu hỏi số i")."""
    out = []
    for i in range(turns):
        t = t0 + i
        for event in (
            UserUttered(f"câu hỏi số {i}", {"name": "ask_documents", "confidence": 0.9}, timestamp=t),
            ActionExecuted("action_answer_procedure", timestamp=t + 0.1),
            BotUttered("Hồ sơ gồm…", timestamp=t + 0.2),
            ActionExecuted("action_listen", timestamp=t + 0.3),
        ):
            out.append({"sender_id": sender, **event.as_dict()})
    return out


async def publish_like_rasa(events: list[dict[str, Any]], queue: str, exchange: str) -> None:
    """Publish ``events`` with Rasa's own pika broker (it declares the exchange and the durable queue)."""
    broker = PikaEventBroker(
        RABBIT_HOST, "guest", "guest", port=RABBIT_PORT, queues=[queue], exchange_name=exchange,
        event_loop=asyncio.get_running_loop(), connection_attempts=1, raise_on_failure=True,
    )  # fmt: skip
    await broker.connect()
    try:
        for event in events:
            broker.publish(event)
        while broker._background_tasks:
            await asyncio.gather(*list(broker._background_tasks))
    finally:
        await broker.close()


async def publish_raw(bodies: list[bytes], exchange: str) -> None:
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        ex = await channel.declare_exchange(exchange, type=aio_pika.ExchangeType.FANOUT)
        for body in bodies:
            await ex.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "")


async def queue_depth(queue: str) -> int:
    """Messages ready in ``queue`` (unacknowledged ones not counted)."""
    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)


def counts(engine: Engine) -> tuple[int, int]:
    """(events recorded, turns) of the record."""
    with engine.connect() as conn:
        seen = conn.execute(text("SELECT count(*) FROM conv_events_seen")).scalar_one()
        turns = conn.execute(text("SELECT count(*) FROM conv_turns")).scalar_one()
    return int(seen), int(turns)


def turn_texts(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sender_id, text FROM conv_turns ORDER BY id")).all()
    out: dict[str, list[str]] = {}
    for sender, said in rows:
        out.setdefault(sender, []).append(said)
    return out


async def until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(consumer: EventConsumer) -> AsyncIterator[asyncio.Event]:
    """``consumer`` running in this loop until the block ends (then stopped cleanly)."""
    stop = asyncio.Event()
    task = asyncio.ensure_future(consumer.run(stop))
    waiter = asyncio.ensure_future(consumer.ready.wait())
    await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert consumer.ready.is_set(), "the consumer did not start"
    try:
        yield stop
    finally:
        stop.set()
        waiter.cancel()
        await asyncio.wait_for(task, 30)


def consumer_for(sqlite_url: str, queue: str, exchange: str, **options: Any) -> EventConsumer:
    return EventConsumer(
        RABBIT_URL, queue, database_url=sqlite_url, exchange=exchange,
        batch_wait=options.pop("batch_wait", 0.02), reconnect_interval=options.pop("reconnect_interval", 0.5),
        **options,
    )  # fmt: skip


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------------


def test_decode() -> None:
    assert decode(b'{"sender_id": "rest:a", "event": "user"}') == {"sender_id": "rest:a", "event": "user"}
    assert decode(b"not json") is None
    assert decode(b"[1, 2]") is None
    assert decode(b"\xff\xfe") is None


def test_default_url_from_the_production_settings() -> None:
    with overridden(RABBITMQ_HOST="mq.internal", RABBITMQ_USER="dvc", RABBITMQ_PASSWORD="p@ss/word"):
        assert default_url() == "amqp://dvc:p%40ss%2Fword@mq.internal:5672/"
    with overridden(RABBITMQ_HOST="amqps://mq.internal:5671/dvc", RABBITMQ_USER="dvc", RABBITMQ_PASSWORD="x"):
        assert default_url() == "amqps://dvc:x@mq.internal:5671/dvc"
    assert default_url() == "amqp://guest:guest@127.0.0.1:5672/"


def test_events_from_rasas_producer_arrive_in_the_record(
    names: tuple[str, str], engine: Engine, sqlite_url: str
) -> None:
    queue, exchange = names
    events = conversation("rest:an", 5) + conversation("socketio:binh", 3)

    async def scenario() -> None:
        consumer = consumer_for(sqlite_url, queue, exchange)
        await publish_like_rasa(events, queue, exchange)  # before the consumer starts: the queue keeps them
        async with running(consumer):
            await until(lambda: counts(engine)[0] == len(events), what="the events")
        assert consumer.stats.acked == len(events) and consumer.stats.applied == len(events)
        assert await queue_depth(queue) == 0

    run(scenario)
    assert counts(engine) == (len(events), 8)
    assert turn_texts(engine) == {
        "rest:an": [f"câu hỏi số {i}" for i in range(5)],
        "socketio:binh": [f"câu hỏi số {i}" for i in range(3)],
    }


def test_duplicate_deliveries_make_one_row(names: tuple[str, str], engine: Engine, sqlite_url: str) -> None:
    queue, exchange = names
    events = conversation("rest:an", 4)
    twice = [e for event in events for e in (event, event)]  # each event published twice

    async def scenario() -> None:
        consumer = consumer_for(sqlite_url, queue, exchange, batch_size=3)
        async with running(consumer):
            await publish_like_rasa(twice, queue, exchange)
            await until(lambda: consumer.stats.acked == len(twice), what="every delivery acknowledged")
            await publish_like_rasa(events, queue, exchange)  # and the whole stream once more
            await until(lambda: consumer.stats.acked == len(twice) + len(events), what="the replay")
        assert consumer.stats.applied == len(events)
        assert await queue_depth(queue) == 0

    run(scenario)
    assert counts(engine) == (len(events), 4)


def test_malformed_bodies_are_acknowledged_and_counted(names: tuple[str, str], engine: Engine, sqlite_url: str) -> None:
    queue, exchange = names
    events = conversation("rest:an", 2)

    async def scenario() -> None:
        consumer = consumer_for(sqlite_url, queue, exchange)
        async with running(consumer):
            await publish_like_rasa(events[:4], queue, exchange)
            await publish_raw([b"not json", b"[1, 2, 3]", '"chuỗi"'.encode(), b"\xff"], exchange)
            await publish_like_rasa(events[4:], queue, exchange)
            await until(lambda: consumer.stats.acked == len(events) and consumer.stats.malformed == 4)
        assert await queue_depth(queue) == 0

    run(scenario)
    assert counts(engine) == (len(events), 2)


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("rabbitmqctl")
    if exe is None:
        pytest.skip("rabbitmqctl not installed: cannot drop the connection from the server side")
    try:
        done = subprocess.run([exe, "-q", *args], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("rabbitmqctl did not answer within 60 s")
    if done.returncode != 0:
        pytest.skip(f"rabbitmqctl {args[0]} failed (exit {done.returncode}; permissions or Erlang cookie?)")
    return done


def _connection_pids(name: str) -> list[str]:
    """Server-side ids of the open connections whose client named itself ``name``."""
    listing = _rabbitmqctl("list_connections", "pid", "client_properties").stdout
    return [line.split("\t", 1)[0] for line in listing.splitlines() if name in line]


def test_it_reconnects_when_rabbitmq_drops_the_connection(
    names: tuple[str, str], engine: Engine, sqlite_url: str
) -> None:
    queue, exchange = names
    name = f"test-consumer-{uuid.uuid4().hex[:8]}"
    before, after = conversation("rest:an", 3), conversation("rest:binh", 3)

    async def scenario() -> None:
        consumer = consumer_for(sqlite_url, queue, exchange, connection_name=name)
        async with running(consumer):
            await publish_like_rasa(before, queue, exchange)
            await until(lambda: consumer.stats.acked == len(before), what="the first events")
            pids = await asyncio.to_thread(_connection_pids, name)
            assert len(pids) == 1, pids
            await asyncio.to_thread(_rabbitmqctl, "close_connection", pids[0], "test: dropped by the server")
            # Published while the consumer is away or reconnecting: the durable queue keeps them.
            await publish_like_rasa(after, queue, exchange)
            await until(lambda: counts(engine)[0] == len(before) + len(after), timeout=60, what="the reconnection")
            new_pids = await asyncio.to_thread(_connection_pids, name)
            assert len(new_pids) == 1 and new_pids != pids
        assert await queue_depth(queue) == 0

    run(scenario)
    assert counts(engine) == (len(before) + len(after), 6)


def test_database_outage_keeps_messages_in_the_queue(names: tuple[str, str], engine: Engine, sqlite_url: str) -> None:
    queue, exchange = names
    first, second = conversation("rest:an", 3), conversation("zalo:chi", 3)
    path = sqlite_url.removeprefix("sqlite:///")

    @contextlib.contextmanager
    def database_locked() -> Iterator[None]:
        """Another writer holds the database: the recorder's writes fail with "database is locked" (after 5 s)."""
        lock = sqlite3.connect(path, timeout=0, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()

    async def scenario() -> None:
        # 1. The outage passes while the consumer runs: it retries, then the events arrive.
        consumer = consumer_for(sqlite_url, queue, exchange)
        async with running(consumer):
            with database_locked():
                await publish_like_rasa(first, queue, exchange)
                await until(lambda: consumer.stats.retries >= 1, timeout=30, what="a failed write")
                assert consumer.stats.acked == 0 and consumer.stats.errors == {"OperationalError": 1}
            await until(lambda: consumer.stats.acked == len(first), timeout=30, what="the retry")
        assert counts(engine)[0] == len(first)

        # 2. The consumer stops during an outage: nothing was acknowledged, all of it is back in the queue.
        consumer = consumer_for(sqlite_url, queue, exchange)
        with database_locked():
            async with running(consumer):
                await publish_like_rasa(second, queue, exchange)
                await until(lambda: consumer.stats.retries >= 1, timeout=30, what="a failed write")
            assert consumer.stats.acked == 0
            assert await queue_depth(queue) == len(second)
        assert counts(engine)[0] == len(first)

        # 3. The database is back: a new consumer records them.
        consumer = consumer_for(sqlite_url, queue, exchange)
        async with running(consumer):
            await until(lambda: counts(engine)[0] == len(first) + len(second), what="the events kept in the queue")
        assert await queue_depth(queue) == 0

    run(scenario)
    assert counts(engine) == (len(first) + len(second), 6)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.runtime.broker_consumer", *args],
            cwd=PROJECT_ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def test_killed_mid_stream_then_restarted_records_every_event_once(
    names: tuple[str, str], engine: Engine, sqlite_url: str, tmp_path: Path
) -> None:
    queue, exchange = names
    senders = [f"socketio:s{i:03d}" for i in range(60)]
    turns = 10
    events = [e for sender in senders for e in conversation(sender, turns)]
    # Interleave the conversations, as several citizens talk at once.
    events.sort(key=lambda e: (e["timestamp"], e["sender_id"]))
    args = ["--url", RABBIT_URL, "--queue", queue, "--exchange", exchange, "--database-url", sqlite_url,
            "--batch-size", "25", "--batch-wait-ms", "10"]  # fmt: skip
    log = tmp_path / "consumer.log"

    asyncio.run(publish_like_rasa(events, queue, exchange))
    proc = _start(args, log)
    try:
        deadline = time.monotonic() + 60
        while counts(engine)[0] < 300 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        recorded = counts(engine)[0]
        assert 0 < recorded < len(events), f"kill came too late or too early ({recorded}); {log.read_text()}"

        proc = _start(args, log)
        deadline = time.monotonic() + 120
        while counts(engine)[0] < len(events) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert counts(engine) == (len(events), len(senders) * turns)
    expected = [f"câu hỏi số {i}" for i in range(turns)]
    assert turn_texts(engine) == {sender: expected for sender in senders}
    assert asyncio.run(queue_depth(queue)) == 0
    assert "câu hỏi" not in log.read_text() and "socketio:s0" not in log.read_text()


def test_main_stops_on_sigterm_after_a_clean_start(names: tuple[str, str], engine: Engine, sqlite_url: str,
                                                   tmp_path: Path) -> None:  # fmt: skip
    queue, exchange = names
    events = conversation("rest:an", 2)
    asyncio.run(publish_like_rasa(events, queue, exchange))
    log = tmp_path / "consumer.log"
    proc = _start(["--url", RABBIT_URL, "--queue", queue, "--exchange", exchange, "--database-url", sqlite_url], log)
    try:
        deadline = time.monotonic() + 60
        while counts(engine)[0] < len(events) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert counts(engine) == (len(events), 2)
    assert "guest:guest" not in log.read_text()


def test_main_rejects_a_bad_batch_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err
