"""A turn waiting for a conversation's lock is served after a killed replica's ticket expired
(bot.runtime.conversation_lock.serve_waiters_whose_ticket_expired), on the real Redis."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest

from bot.runtime.conversation_lock import serve_waiters_whose_ticket_expired


def _redis() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def store():  # type: ignore[no-untyped-def]
    if not _redis():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    from rasa.core.lock_store import RedisLockStore

    serve_waiters_whose_ticket_expired()  # as every Rasa replica and the privacy commands apply it
    return RedisLockStore(host="127.0.0.1", port=6379, db=3, key_prefix=f"reissue{uuid.uuid4().hex[:6]}")


def test_a_waiter_outlives_a_dead_ticket(store) -> None:  # type: ignore[no-untyped-def]
    """A replica issued a ticket and was killed; the retry on another replica, 0.3 s later with the same
    lifetime, gets the lock once the dead ticket expires (Rasa 3.6 waited for ever: its own ticket
    expired too before it looked again)."""
    lifetime = 2.5

    async def scenario() -> float:
        store.issue_ticket("conversation", lifetime)  # the killed replica's, never released
        await asyncio.sleep(0.3)
        started = time.monotonic()
        async with store.lock("conversation", lock_lifetime=lifetime, wait_time_in_seconds=1):
            waited = time.monotonic() - started
        return waited

    waited = asyncio.run(asyncio.wait_for(scenario(), 4 * lifetime))
    assert waited <= lifetime + 1.5
    held = store.get_lock("conversation")
    assert held is None or not held.tickets, "the ticket finally held was released"


def test_turns_still_take_turns(store) -> None:  # type: ignore[no-untyped-def]
    """Two turns of one conversation never hold the lock at once, and the second waits for the first."""
    events: list[str] = []

    async def turn(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with store.lock("c2", lock_lifetime=10, wait_time_in_seconds=0.05):
            events.append(f"{name} in")
            await asyncio.sleep(0.3)
            events.append(f"{name} out")

    async def both() -> None:
        await asyncio.gather(turn("a", 0), turn("b", 0.05))

    asyncio.run(both())
    assert events == ["a in", "a out", "b in", "b out"]
