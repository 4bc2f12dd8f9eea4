"""The production profile's reader of Rasa's events: RabbitMQ queue ``dvc_events`` → the conversation record.

``python -m bot events consume`` (or ``python -m bot.runtime.broker_consumer``) runs
:func:`main`. Rasa's pika broker (``endpoints.prod.yml``) declares the fanout exchange
``rasa-exchange`` and the durable queue, and publishes each event as a persistent message whose
body is the JSON of ``{"sender_id": …, **event.as_dict()}``; this process declares the same
(so it may start first) and applies what it receives with
:class:`bot.conversations.recorder.Recorder`.

- At least once: a message is acknowledged only after the transaction of its batch (up to
  ``--batch-size`` messages, or what came within ``--batch-wait-ms``; the prefetch is two batches)
  committed. Redelivered events change nothing (the recorder keys every event).
- Database down (SQLAlchemy ``OperationalError`` and the like): the batch stays unacknowledged
  and is retried with a growing pause (0.5 s doubling to 30 s) until it commits; the broker
  redelivers it to whoever consumes next if this process dies meanwhile.
- Another error (a bug, not an outage): after ``MAX_ATTEMPTS`` the batch is applied message by
  message; a message that still fails is rejected without requeue (to the queue's
  dead-letter exchange if one is set) and counted; ``python -m bot conversations rebuild`` remakes
  the record from the tracker store.
- A body that is not JSON of an object is acknowledged and dropped (counted).
- RabbitMQ restarts: ``connect_robust`` reconnects (every ``--reconnect-interval`` s) and resumes
  consuming; an acknowledgement lost with the old channel only means a harmless redelivery.
- SIGTERM/SIGINT: the current batch is finished (applied and acknowledged), then the process
  stops; messages received but not yet applied return to the queue when the channel closes.

Logs hold counts and error types only, never an event, a conversation id or a password.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from yarl import URL

from bot.conversations.feed import Apply, default_apply, is_transient

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "dvc_events"
EXCHANGE = "rasa-exchange"  # rasa.core.brokers.pika.RABBITMQ_EXCHANGE
CONNECTION_NAME = "dvc-conversation-consumer"
MAX_ATTEMPTS = 5  # tries of a batch that fails with a non-transient error
_FIRST_PAUSE = 0.5  # seconds; doubles up to _MAX_PAUSE between retries and connection attempts
_MAX_PAUSE = 30.0


@dataclass
class ConsumerStats:
    """Counters, in messages (``batches`` excepted)."""

    received: int = 0
    applied: int = 0  # events new to the record
    acked: int = 0  # acknowledged after their batch committed (applied + already recorded)
    malformed: int = 0  # not JSON of an object: acknowledged and dropped
    rejected: int = 0  # refused by the recorder even alone, after retries
    stale_acks: int = 0  # acknowledgements refused by a closed channel (the message comes again)
    batches: int = 0
    retries: int = 0  # failed attempts to apply a batch
    errors: dict[str, int] = field(default_factory=dict)  # failed attempts by error type


def decode(body: bytes) -> dict[str, Any] | None:
    """The event dict in a message body (UTF-8 JSON of an object), or None when it is not one."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class EventConsumer:
    """Consumes one queue into the record (module docstring); :meth:`run` until ``stop`` is set."""

    def __init__(
        self,
        url: str,
        queue: str = DEFAULT_QUEUE,
        apply: Apply | None = None,
        *,
        database_url: str | None = None,
        exchange: str = EXCHANGE,
        batch_size: int = 200,
        batch_wait: float = 0.1,
        reconnect_interval: float = 2.0,
        connection_name: str = CONNECTION_NAME,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        """``apply`` defaults to the Recorder on ``database_url`` (default: the app database).

        ``batch_wait`` and ``reconnect_interval`` are in seconds.
        """
        if batch_size < 1 or max_attempts < 1:
            raise ValueError("batch_size and max_attempts must be at least 1")
        self.url = url
        self.queue = queue
        self.exchange = exchange
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.reconnect_interval = reconnect_interval
        self.connection_name = connection_name
        self.max_attempts = max_attempts
        self.stats = ConsumerStats()
        self._apply = apply or default_apply(database_url)
        self.ready = asyncio.Event()  # set once consuming (for tests and health checks)

    # -- connection -------------------------------------------------------------------------------

    async def _connect(self, stop: asyncio.Event) -> AbstractRobustConnection | None:
        """A robust connection, retrying the first one too; None when ``stop`` was set meanwhile."""
        pause = _FIRST_PAUSE
        attempt = 0
        while not stop.is_set():
            try:
                return await aio_pika.connect_robust(self._connection_url())
            except Exception as exc:  # refused, DNS, authentication…: RabbitMQ may be starting
                attempt += 1
                if attempt == 1 or attempt % 10 == 0:
                    logger.warning(
                        "event consumer: cannot connect to RabbitMQ at %s (%s, attempt %d); retrying",
                        _host(self.url), type(exc).__name__, attempt,
                    )  # fmt: skip
                if await _wait(stop, pause):
                    return None
                pause = min(pause * 2, _MAX_PAUSE)
        return None

    def _connection_url(self) -> URL:
        """``url`` with the connection's name and reconnection pause (aio-pika reads both from the
        query string only: with a URL, its keyword arguments are ignored)."""
        url = URL(self.url)
        extra = {"name": self.connection_name, "reconnect_interval": f"{self.reconnect_interval:g}"}
        return url.update_query({**extra, **url.query})

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set (then finish the current batch); errors only on a broken setup."""
        connection = await self._connect(stop)
        if connection is None:
            return
        connection.reconnect_callbacks.add(self._reconnected)
        try:
            channel = await connection.channel()
            # Two batches in flight: the next one arrives while this one is written.
            await channel.set_qos(prefetch_count=2 * self.batch_size)
            # Declared exactly as Rasa's pika broker does, so whichever starts first creates them.
            exchange = await channel.declare_exchange(self.exchange, type=aio_pika.ExchangeType.FANOUT)
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "")
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

            async def received(message: AbstractIncomingMessage) -> None:
                inbox.put_nowait(message)

            tag = await queue.consume(received)
            logger.info("event consumer: consuming queue %s on %s", self.queue, _host(self.url))
            self.ready.set()
            while not stop.is_set():
                batch = await self._next_batch(inbox, stop)
                if batch and not await self._handle(batch, stop):
                    break
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        finally:
            self.ready.clear()
            # Closing the channel gives every unacknowledged message back to the queue.
            with contextlib.suppress(Exception):
                await connection.close()
            s = self.stats
            logger.info(
                "event consumer: stopped; %d received, %d acknowledged (%d new), %d malformed, %d rejected",
                s.received, s.acked, s.applied, s.malformed, s.rejected,
            )  # fmt: skip

    def _reconnected(self, *_: Any) -> None:
        logger.info("event consumer: reconnected to RabbitMQ")

    # -- batches ----------------------------------------------------------------------------------

    async def _next_batch(
        self, inbox: asyncio.Queue[AbstractIncomingMessage], stop: asyncio.Event
    ) -> list[AbstractIncomingMessage]:
        """Up to ``batch_size`` messages: the first as soon as it comes (or [] on stop), then ``batch_wait``."""
        getter = asyncio.ensure_future(inbox.get())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if not getter.done():
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter
            if not getter.cancelled():  # it completed while being cancelled: keep it
                batch = [getter.result()]
            else:
                return []
        else:
            batch = [getter.result()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_wait
        while len(batch) < self.batch_size:
            if not inbox.empty():
                batch.append(inbox.get_nowait())
                continue
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(inbox.get(), left))
            except asyncio.TimeoutError:
                break
        self.stats.received += len(batch)
        return batch

    async def _handle(self, batch: list[AbstractIncomingMessage], stop: asyncio.Event) -> bool:
        """Apply ``batch`` and acknowledge it; False when stopped before it could commit (nothing acked)."""
        good: list[tuple[AbstractIncomingMessage, dict[str, Any]]] = []
        bad: list[AbstractIncomingMessage] = []
        for message in batch:
            event = decode(message.body)
            if event is None:
                bad.append(message)
            else:
                good.append((message, event))
        if bad:
            self.stats.malformed += len(bad)
            logger.warning("event consumer: %d malformed messages dropped (%d so far)", len(bad), self.stats.malformed)
        self.stats.batches += 1
        if good:
            outcome = await self._apply_batch([event for _, event in good], stop)
            if outcome is None:
                return False
            refused = set(outcome)
            for i in sorted(refused):
                await self._settle(good[i][0], reject=True)
            kept = [message for i, (message, _) in enumerate(good) if i not in refused]
        else:
            kept = []
        await self._ack([*kept, *bad])
        self.stats.acked += len(kept)
        return True

    async def _ack(self, messages: list[AbstractIncomingMessage]) -> None:
        """Acknowledge ``messages``: one ``multiple`` ack per channel, for its highest delivery tag.

        Safe because batches are taken in delivery order: every lower tag of that channel is in
        this batch or an earlier one, already settled.
        """
        last: dict[int, AbstractIncomingMessage] = {}
        sizes: dict[int, int] = {}
        for message in messages:
            key = id(message.channel)  # a reconnection brings a new channel, with tags from 1 again
            sizes[key] = sizes.get(key, 0) + 1
            if key not in last or (message.delivery_tag or 0) > (last[key].delivery_tag or 0):
                last[key] = message
        for key, message in last.items():
            if not await self._settle(message, multiple=True):
                self.stats.stale_acks += sizes[key] - 1

    async def _settle(self, message: AbstractIncomingMessage, reject: bool = False, multiple: bool = False) -> bool:
        """Acknowledge (or reject without requeue) ``message``; False when its channel is gone."""
        try:
            if reject:
                await message.reject(requeue=False)
            else:
                await message.ack(multiple=multiple)
        except Exception as exc:  # the channel it came on is gone: it will be delivered again
            self.stats.stale_acks += 1
            logger.debug("event consumer: acknowledgement lost (%s)", type(exc).__name__)
            return False
        return True

    async def _call(self, events: Sequence[dict[str, Any]]) -> BaseException | None:
        loop = asyncio.get_running_loop()
        try:
            # In a thread: the connection's heartbeats go on while the database works or waits.
            applied = await loop.run_in_executor(None, self._apply, events)
        except Exception as exc:
            name = type(exc).__name__
            self.stats.retries += 1
            self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
            return exc
        self.stats.applied += int(applied)
        return None

    async def _apply_batch(self, events: list[dict[str, Any]], stop: asyncio.Event) -> list[int] | None:
        """Commit ``events``; the indices of those refused for good, or None when stopped while retrying."""
        pause = _FIRST_PAUSE
        attempts = 0
        while True:
            error = await self._call(events)
            if error is None:
                if attempts:
                    logger.info("event consumer: %d events applied after %d retries", len(events), attempts)
                return []
            attempts += 1
            if attempts == 1 or attempts % 10 == 0:
                logger.warning(
                    "event consumer: applying %d events failed (%s, attempt %d); not acknowledged, retrying",
                    len(events), type(error).__name__, attempts,
                )  # fmt: skip
            if not is_transient(error) and attempts >= self.max_attempts:
                break
            if await _wait(stop, pause):
                return None
            pause = min(pause * 2, _MAX_PAUSE)
        # Not an outage: find the events the recorder refuses, one by one, in order.
        refused: list[int] = []
        for i, event in enumerate(events):
            while True:
                error = await self._call([event])
                if error is None:
                    break
                if not is_transient(error):
                    refused.append(i)
                    break
                if await _wait(stop, pause):
                    return None
                pause = min(pause * 2, _MAX_PAUSE)
        if refused:
            self.stats.rejected += len(refused)
            logger.error(
                "event consumer: %d of %d events rejected (%s); rebuild the record to recover them",
                len(refused), len(events), type(error).__name__,
            )  # fmt: skip
        return refused


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; whether it is set."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def _host(url: str) -> str:
    """``host:port`` of an AMQP URL (never the credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 5672}"


def default_url() -> str:
    """The AMQP URL from ``RABBITMQ_HOST`` (a host name, ``host:port`` or an ``amqp(s)://`` URL),
    ``RABBITMQ_PORT`` (for a bare host name), ``RABBITMQ_USER`` and ``RABBITMQ_PASSWORD``;
    ``amqp://guest:guest@127.0.0.1:5672/`` when unset."""
    from bot.settings import settings

    prod = settings().production
    host = prod.rabbitmq_host or "127.0.0.1"
    user = quote(prod.rabbitmq_user or "guest", safe="")
    password = quote(prod.rabbitmq_password or "guest", safe="")
    if host.startswith(("amqp://", "amqps://")):
        parts = urlsplit(host)
        if parts.username:
            return host
        netloc = f"{user}:{password}@{parts.netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, parts.fragment))
    if ":" not in host:
        host = f"{host}:{prod.rabbitmq_port or 5672}"
    return f"amqp://{user}:{password}@{host}/"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The consumer's options on ``parser`` (its own, or ``python -m bot events consume``)."""
    parser.add_argument("--url", help="amqp://user:password@host:port/ (default: RABBITMQ_HOST/USER/PASSWORD)")
    parser.add_argument("--queue", help=f"queue to consume (default: RABBITMQ_QUEUE, else {DEFAULT_QUEUE})")
    parser.add_argument("--exchange", default=EXCHANGE, help="Rasa's fanout exchange (default: %(default)s)")
    parser.add_argument("--database-url", help="the record's database (default: DATABASE_URL)")
    parser.add_argument(
        "--batch-size", type=int, default=200, help="messages per transaction (the prefetch is twice that)"
    )
    parser.add_argument("--batch-wait-ms", type=float, default=100, help="wait this long to fill a batch")
    parser.add_argument("--reconnect-interval", type=float, default=2.0, help="seconds between reconnections")
    parser.add_argument("--connection-name", default=CONNECTION_NAME, help="shown by rabbitmqctl list_connections")
    return parser


def _parser() -> argparse.ArgumentParser:
    return add_arguments(
        argparse.ArgumentParser(
            prog="python -m bot events consume",
            description="Apply Rasa's events from RabbitMQ (endpoints.prod.yml) to the conversation record.",
        )
    )


async def _serve(consumer: EventConsumer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        await consumer.run(stop)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the consumer until SIGTERM/SIGINT; 0 after a clean stop, 1 when the setup is broken."""
    return run(_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """:func:`main` with its options already parsed (see :func:`add_arguments`)."""
    if args.batch_size < 1:
        print("error: --batch-size must be at least 1", file=sys.stderr)
        return 2
    from bot.db.schema import ensure_schema
    from bot.settings import validate_or_exit

    validate_or_exit()
    try:
        ensure_schema(args.database_url)
    except Exception as exc:
        print(f"error: cannot prepare the database ({type(exc).__name__})", file=sys.stderr)
        return 1
    from bot.settings import settings

    url = args.url or default_url()
    consumer = EventConsumer(
        url,
        args.queue or settings().production.rabbitmq_queue or DEFAULT_QUEUE,
        database_url=args.database_url,
        exchange=args.exchange,
        batch_size=args.batch_size,
        batch_wait=args.batch_wait_ms / 1000,
        reconnect_interval=args.reconnect_interval,
        connection_name=args.connection_name,
    )
    try:
        asyncio.run(_serve(consumer))
    except Exception as exc:  # a queue declared otherwise, permissions…: configuration to fix
        password = urlsplit(url).password
        reason = str(exc).replace(password, "••••") if password else str(exc)
        print(f"error: event consumer stopped ({type(exc).__name__}: {reason})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise SystemExit(main(sys.argv[1:]))
