"""bot/runtime/pika_broker.py on the machine's RabbitMQ: publishes keep up while the server's loop is busy.

The event loop here plays a Rasa server's: it is blocked for 20 ms at a time (the NLU and policies run
inside the loop) between turns of 12 events. Rasa's own broker sends about one event per turn of the
loop there (the memory growth of issue 13's soak); this one must have published and had confirmed
nearly everything by the time the turns end. Each test uses its own exchange and queue and deletes them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.rabbitmq import delete_queues

TURNS, EVENTS_PER_TURN, BUSY_SECONDS = 60, 12, 0.02


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    """A private exchange and queue, deleted afterwards."""
    if not _listening(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"test-pika-broker-{tag}", f"test_pika_broker_{tag}"
    yield exchange, queue
    delete_queues(queue, exchanges=(exchange,))


async def _received(queue: str, expected: int, timeout: float = 20.0) -> list[dict[str, object]]:
    import aio_pika

    bodies: list[dict[str, object]] = []
    connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, durable=True)
        deadline = time.monotonic() + timeout
        while len(bodies) < expected and time.monotonic() < deadline:
            message = await q.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            bodies.append(json.loads(message.body))
    return bodies


def _broker(exchange: str, queue: str):  # type: ignore[no-untyped-def]
    from bot.runtime.pika_broker import PromptPikaEventBroker

    return PromptPikaEventBroker(
        "127.0.0.1", "guest", "guest", queues=[queue], exchange_name=exchange, connection_attempts=2
    )


def test_publishes_keep_up_with_a_busy_loop_and_arrive_in_order(names: tuple[str, str]) -> None:
    exchange, queue = names

    async def run() -> tuple[int, float]:
        broker = _broker(exchange, queue)
        await broker.connect()
        assert broker.is_ready()
        for turn in range(TURNS):
            for i in range(EVENTS_PER_TURN):
                broker.publish({"sender_id": "s", "event": "user", "n": turn * EVENTS_PER_TURN + i})
            await asyncio.sleep(0)
            time.sleep(BUSY_SECONDS)  # the NLU of the next turn, inside the loop
        in_flight = len(broker._background_tasks)
        started = time.monotonic()
        await broker.close()
        return in_flight, time.monotonic() - started

    in_flight, closing = asyncio.run(run())
    total = TURNS * EVENTS_PER_TURN
    # Rasa's broker had 717 of 720 still waiting here; this one a turn's worth or two (a quarter of all
    # leaves room for a loaded machine).
    assert in_flight <= total // 4, in_flight
    assert closing < 5, closing
    bodies = asyncio.run(_received(queue, total))
    assert [b["n"] for b in bodies] == list(range(total))
    assert all(b["sender_id"] == "s" for b in bodies)


def test_close_publishes_what_is_in_flight(names: tuple[str, str]) -> None:
    exchange, queue = names

    async def run() -> None:
        broker = _broker(exchange, queue)
        await broker.connect()
        for n in range(500):
            broker.publish({"sender_id": "s", "event": "bot", "n": n})
        await broker.close()
        broker.publish({"sender_id": "s", "event": "bot", "n": -1})  # after close: logged, not raised

    asyncio.run(run())
    bodies = asyncio.run(_received(queue, 500))
    assert [b["n"] for b in bodies] == list(range(500))
