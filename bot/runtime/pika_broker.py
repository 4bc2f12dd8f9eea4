"""Rasa's RabbitMQ event broker, publishing from its own thread so that it keeps up with a busy server.

Configured in ``endpoints.prod.yml`` as ``event_broker: {type: bot.runtime.pika_broker.PromptPikaEventBroker}``
with Rasa's own options (``url``, ``port``, ``username``, ``password``, ``queues``…).

Why: Rasa's :class:`~rasa.core.brokers.pika.PikaEventBroker` publishes each event in a task of the
server's event loop, and aio-pika's client (aiormq) needs several turns of that loop per message: the
channel's lock is handed from one publish to the next once per turn, and reading each publisher
confirmation from RabbitMQ starts new tasks (its reads have a timeout). In a Rasa server those turns
wait behind the NLU and the policies, which run inside the loop. Under a sustained load (the soak of
bench/webhook_bench.py, 20 users, one replica) a replica produced about 12 events per conversation turn
and sent a few dozen per second: after two minutes 13,000 publishes waited for their confirmation,
memory grew by about 87 KB per turn without bound, and the record of conversations fell minutes
behind. Nothing was lost: the backlog left once the load stopped.

How: the broker runs aio-pika on an event loop of its own, in a daemon thread. :meth:`publish` (called
by the tracker store in the server's loop) hands the event to that loop and returns at once; there each
event is published as Rasa does, with RabbitMQ's publisher confirmation, and one whose publish fails
(the connection dropped) is kept and published again on reconnection, as Rasa's broker does. The
thread's loop does nothing else, so its turns are short. Messages, exchange and queues are Rasa's own
(:mod:`bot.runtime.broker_consumer` reads them unchanged). :meth:`close` waits up to
:data:`CLOSE_TIMEOUT` seconds for the publishes in flight, then closes the connection and the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from asyncio import AbstractEventLoop
from collections.abc import Coroutine
from typing import Any, TypeVar

from rasa.core.brokers.pika import PikaEventBroker

__all__ = ["CLOSE_TIMEOUT", "PromptPikaEventBroker"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds :meth:`PromptPikaEventBroker.close` waits for the publishes in flight.
CLOSE_TIMEOUT = 10.0


class PromptPikaEventBroker(PikaEventBroker):
    """:class:`PikaEventBroker` whose connection lives on its own event loop, in a daemon thread."""

    def __init__(self, *args: Any, event_loop: AbstractEventLoop | None = None, **kwargs: Any) -> None:
        # The server's loop (``event_loop``) is not used: every aio-pika call runs on the broker's own.
        self._own_loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="event-broker", daemon=True)
        self._thread.start()
        super().__init__(*args, event_loop=self._own_loop, **kwargs)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._own_loop)
        try:
            self._own_loop.run_forever()
        finally:
            self._own_loop.close()

    async def _on_own_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the broker's loop and wait for it from the caller's loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._own_loop))

    async def connect(self) -> None:
        """Connect on the broker's loop (Rasa awaits this once, when the server starts)."""
        await self._on_own_loop(super().connect())

    def publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        """Hand ``event`` to the broker's loop, which publishes it (thread-safe, returns at once)."""
        if self._own_loop.is_closed():
            logger.error("event broker: closed, a %s event was not published", event.get("event"))
            return
        self._own_loop.call_soon_threadsafe(super().publish, event, headers)

    async def _drain(self, timeout: float) -> int:
        """Wait until no publish is in flight, at most ``timeout`` s; how many are still in flight."""
        deadline = time.monotonic() + timeout
        while self._background_tasks and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return len(self._background_tasks)

    async def close(self) -> None:
        """Publish what is in flight (at most :data:`CLOSE_TIMEOUT` s), close the connection, stop the thread."""
        if self._own_loop.is_closed():
            return
        left = await self._on_own_loop(self._drain(CLOSE_TIMEOUT))
        if left:
            logger.error("event broker: %d event(s) not confirmed by RabbitMQ before closing", left)
        await self._on_own_loop(super().close())
        self._own_loop.call_soon_threadsafe(self._own_loop.stop)
        await asyncio.to_thread(self._thread.join, CLOSE_TIMEOUT)
