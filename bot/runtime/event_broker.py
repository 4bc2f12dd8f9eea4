"""Rasa's event broker for one machine: every event goes into the conversation record, in-process.

Configured in ``endpoints.yml`` as ``event_broker: {type: bot.runtime.event_broker.RecordingEventBroker}``.
Rasa's tracker store calls :meth:`RecordingEventBroker.publish` from its event loop with
``{"sender_id": …, **event.as_dict()}`` (already redacted by :mod:`bot.runtime.tracker_store`).
``publish`` only puts the event on a bounded queue; a daemon thread takes batches (up to
``batch_size`` events, or what came within ``batch_wait`` seconds) and applies each in one
transaction with :class:`bot.conversations.recorder.Recorder` on the app database.

- A failed write is retried with a growing pause (0.05 s doubling to 5 s): forever while the
  database is unreachable (SQLAlchemy ``OperationalError`` and the like), ``max_attempts``
  times for any other error, after which the batch is applied event by event and the events
  that still fail are dropped and counted. Rasa never sees an error.
- A full queue (the database is down for long) drops the event and counts it; the record is
  rebuilt from the tracker store with ``python -m bot conversations rebuild``.
- One thread applies everything in the order published, so each conversation's events are
  applied in order.
- Logs carry counts and error types only, never what a conversation said.

Options of the endpoint block (all optional): ``url`` (a database URL; default the app's
``DATABASE_URL``), ``queue_size`` (10000), ``batch_size`` (200), ``batch_wait_ms`` (50),
``close_timeout`` (5 s), ``max_attempts`` (8).

The worker thread starts with the broker (Rasa creates it in the server's event loop, in the
process that serves) and again on the next ``publish`` if it is not running in this process
(after a fork, or after :meth:`~RecordingEventBroker.close`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from bot.conversations.feed import Apply, default_apply, is_transient

logger = logging.getLogger(__name__)

_FIRST_PAUSE = 0.05  # seconds before the first retry; doubles up to _MAX_PAUSE
_MAX_PAUSE = 5.0
_WARN_EVERY = 1000  # a dropped-event warning every this many drops (the first one too)


@dataclass
class BrokerStats:
    """Counters of one broker (events unless named otherwise); read them from any thread."""

    published: int = 0  # accepted by publish()
    applied: int = 0  # newly recorded (the recorder's count)
    written: int = 0  # events in batches that committed (applied + already recorded)
    dropped: int = 0  # refused by a full queue
    failed: int = 0  # given up after retries (non-transient errors)
    retries: int = 0  # failed attempts (batches)
    errors: dict[str, int] = field(default_factory=dict)  # failed attempts by error type


class _Writer:
    """The worker thread's side: batches from the queue into ``apply``, with the retries of the module docstring.

    Separate from the broker so that the thread holds no reference to it: when Rasa drops a
    broker without closing it (a model replaced through the HTTP API builds a new agent and a
    new broker), the thread writes what is queued and ends.
    """

    def __init__(self, apply: Apply, queue_size: int, batch_size: int, batch_wait: float, max_attempts: int) -> None:
        self.apply = apply
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.max_attempts = max_attempts
        self.stats = BrokerStats()
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.pending = 0  # events accepted and not yet written, dropped or failed

    def offer(self, event: dict[str, Any]) -> bool:
        """Queue ``event`` without waiting; False when the queue is full (counted as dropped)."""
        with self.lock:
            try:
                self.queue.put_nowait(event)
            except queue.Full:
                self.stats.dropped += 1
                return False
            self.stats.published += 1
            self.pending += 1
            return True

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until every accepted event is written or given up; True if so."""
        deadline = time.monotonic() + timeout
        with self.idle:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(left)
        return True

    def run(self, stop: threading.Event, owner: weakref.ref[Any]) -> None:
        """The thread: until ``stop`` is set or the broker is gone, and the queue is empty."""
        while True:
            batch = self._next_batch(stop)
            if not batch:
                if stop.is_set() or owner() is None:
                    return
                continue
            try:
                self._write(batch, stop)
            except Exception as exc:  # never let the thread die: the next batch may well succeed
                logger.error("conversation record: %d events lost (%s)", len(batch), type(exc).__name__)
                self.stats.failed += len(batch)
            finally:
                self._settle(len(batch))

    def _settle(self, count: int) -> None:
        with self.idle:
            self.pending = max(0, self.pending - count)
            if not self.pending:
                self.idle.notify_all()

    def _next_batch(self, stop: threading.Event) -> list[dict[str, Any]]:
        """Up to ``batch_size`` events: waits for a first one (0.2 s at most), then ``batch_wait`` for more."""
        try:
            batch = [self.queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0 or stop.is_set():
                break
            try:
                batch.append(self.queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _attempt(self, events: Sequence[Mapping[str, Any]]) -> BaseException | None:
        try:
            applied = self.apply(events)
        except Exception as exc:
            name = type(exc).__name__
            self.stats.retries += 1
            self.stats.errors[name] = self.stats.errors.get(name, 0) + 1
            return exc
        self.stats.applied += applied
        self.stats.written += len(events)
        return None

    def _write(self, batch: list[dict[str, Any]], stop: threading.Event) -> None:
        """Apply ``batch``; retry as the module docstring says; give up only on persistent non-transient errors."""
        pause = _FIRST_PAUSE
        attempts = 0
        while True:
            error = self._attempt(batch)
            if error is None:
                if attempts:
                    logger.info("conversation record: %d events written after %d retries", len(batch), attempts)
                return
            attempts += 1
            if attempts == 1 or attempts % 10 == 0:
                logger.warning(
                    "conversation record: writing %d events failed (%s, attempt %d); retrying",
                    len(batch), type(error).__name__, attempts,
                )  # fmt: skip
            if not is_transient(error) and attempts >= self.max_attempts:
                break
            # While stopping, a database that stays down ends the wait (close() is bounded).
            if stop.wait(pause) and attempts >= 3:
                self.stats.failed += len(batch)
                logger.error(
                    "conversation record: %d events not written at shutdown (%s)", len(batch), type(error).__name__
                )
                return
            pause = min(pause * 2, _MAX_PAUSE)
        # One event may be what the recorder refuses: write the others one by one, in order.
        lost = sum(self._attempt([event]) is not None for event in batch)
        self.stats.failed += lost
        if lost:
            logger.error("conversation record: %d of %d events given up (%s)", lost, len(batch), type(error).__name__)


class RecordingEventBroker(EventBroker):
    """Puts Rasa's events into the conversation record from a worker thread (module docstring)."""

    def __init__(
        self,
        apply: Apply | None = None,
        *,
        database_url: str | None = None,
        queue_size: int = 10_000,
        batch_size: int = 200,
        batch_wait: float = 0.05,
        close_timeout: float = 5.0,
        max_attempts: int = 8,
    ) -> None:
        """``apply`` defaults to the :class:`~bot.conversations.recorder.Recorder` on ``database_url``.

        ``batch_wait`` and ``close_timeout`` are in seconds; ValueError on a size below 1.
        """
        if queue_size < 1 or batch_size < 1 or max_attempts < 1:
            raise ValueError("queue_size, batch_size and max_attempts must be at least 1")
        self._apply = apply or default_apply(database_url)
        self._options = (queue_size, batch_size, batch_wait, max_attempts)
        self.close_timeout = close_timeout
        self._writer = _Writer(self._apply, *self._options)
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()

    @property
    def stats(self) -> BrokerStats:
        """The counters (of this process)."""
        return self._writer.stats

    @property
    def batch_size(self) -> int:
        """Events per transaction, at most."""
        return self._writer.batch_size

    @property
    def batch_wait(self) -> float:
        """Seconds a batch waits for more events after its first."""
        return self._writer.batch_wait

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: EndpointConfig | None,
        event_loop: asyncio.AbstractEventLoop | None = None,
    ) -> RecordingEventBroker | None:
        """The broker of an ``event_broker`` endpoint block (options in the module docstring), started."""
        if broker_config is None:
            return None
        kwargs = dict(broker_config.kwargs)
        options: dict[str, Any] = {}
        for name in ("queue_size", "batch_size", "max_attempts"):
            if name in kwargs:
                options[name] = int(kwargs[name])
        if "batch_wait_ms" in kwargs:
            options["batch_wait"] = float(kwargs["batch_wait_ms"]) / 1000
        if "close_timeout" in kwargs:
            options["close_timeout"] = float(kwargs["close_timeout"])
        broker = cls(database_url=broker_config.url or None, **options)
        broker.start()
        return broker

    # -- the event loop's side ------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for the record; never blocks, never raises (a full queue drops it)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or self._pid != os.getpid():
            self.start()
        # A copy of the top level: Rasa may reuse the event afterwards.
        if self._writer.offer(dict(event)):
            return
        dropped = self._writer.stats.dropped
        if dropped == 1 or dropped % _WARN_EVERY == 0:
            logger.warning(
                "conversation record: queue full (%d events), %d events dropped so far; "
                "rebuild with `python -m bot conversations rebuild`",
                self._writer.queue.maxsize,
                dropped,
            )

    def is_ready(self) -> bool:
        """True while the worker thread runs in this process."""
        thread = self._thread
        return thread is not None and thread.is_alive() and self._pid == os.getpid()

    async def close(self) -> None:
        """Write what is queued (waiting at most ``close_timeout`` s, off the event loop), then stop."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop, self.close_timeout)

    # -- threads ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread in this process unless it runs already (idempotent, thread-safe)."""
        with self._start_lock:
            if self.is_ready():
                return
            if self._pid is not None and self._pid != os.getpid():
                # A forked child inherits a copy of the queue and no thread: start clean.
                self._writer = _Writer(self._apply, *self._options)
            self._stop = threading.Event()
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._writer.run,
                args=(self._stop, weakref.ref(self)),
                name="conversation-record",
                daemon=True,
            )
            self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s until every published event is written or given up; True if so."""
        return self._writer.flush(timeout)

    def stop(self, timeout: float = 5.0) -> bool:
        """Flush (at most ``timeout`` s), then stop the worker; True when nothing was left unwritten."""
        done = self.flush(timeout) if self.is_ready() else not self._writer.pending
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(0.5)
        if not done:
            logger.warning("conversation record: %d events not written at shutdown", self._writer.pending)
        return done
