"""Feeding the record of conversations: applying batches of Rasa's events, and which failures to wait out.

Shared by the in-process event broker (:mod:`bot.runtime.event_broker`) and the RabbitMQ consumer
(:mod:`bot.runtime.broker_consumer`); it imports nothing from Rasa, so the consumer (and every
``python -m bot`` command, whose parser names the consumer's options) does not load Rasa.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc

__all__ = ["Apply", "default_apply", "is_transient"]

# Takes a batch of event dicts, applies it in one transaction; returns how many were new.
Apply = Callable[[Sequence[Mapping[str, Any]]], int]


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable or busy (worth retrying without end)."""
    transient = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (*transient, OSError, TimeoutError, ConnectionError))


def default_apply(database_url: str | None = None) -> Apply:
    """``Recorder(engine_for(database_url)).apply``, the recorder built on first use (in the worker)."""
    recorder: list[Any] = []

    def apply(events: Sequence[Mapping[str, Any]]) -> int:
        if not recorder:
            from bot.conversations.recorder import Recorder
            from bot.db import engine_for

            recorder.append(Recorder(engine_for(database_url)))
        return int(recorder[0].apply(events))

    return apply
