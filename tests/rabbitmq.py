"""The machine's RabbitMQ in tests: a queue a test declared is deleted afterwards.

Rasa's broker binds each queue it declares to its fanout exchange (``rasa-exchange``), so a queue left
behind keeps receiving every later test's events, and nothing consumes them.
"""

from __future__ import annotations

import asyncio
import contextlib

URL = "amqp://guest:guest@127.0.0.1:5672/"


def delete_queues(*names: str, exchanges: tuple[str, ...] = ()) -> None:
    """Delete ``names`` (and ``exchanges``) on the local RabbitMQ; best effort, at most 15 s."""
    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect(URL, timeout=5)
        async with connection:
            channel = await connection.channel()
            for name in names:
                await channel.queue_delete(name)
            for name in exchanges:
                await channel.exchange_delete(name)

    with contextlib.suppress(Exception):
        asyncio.run(asyncio.wait_for(delete(), 15))
