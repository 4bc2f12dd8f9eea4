"""Rebuild the conversation record from Rasa's tracker store (its SQL table ``events``).

Plain SQLAlchemy, no Rasa import: the table has ``id``, ``sender_id``, ``type_name``, ``timestamp``,
``intent_name``, ``action_name`` and ``data`` (JSON text of ``event.as_dict()``). Rows are read in
``id`` order, so the recorder sees each conversation's events in the order Rasa stored them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import MetaData, Table, delete, select
from sqlalchemy.engine import Engine

from bot.conversations.models import ConversationRow, EventSeenRow, IntentRow, ProcedureRow, TermRow, TurnRow
from bot.conversations.recorder import Recorder
from bot.db import engine_for, make_engine
from bot.privacy.models import TRACKER_EVENTS

__all__ = ["clear", "rebuild", "tracker_events_table"]

_LOG = logging.getLogger(__name__)


def tracker_events_table(metadata: MetaData | None = None) -> Table:
    """Rasa's tracker-store table ``events`` (:data:`bot.privacy.models.TRACKER_EVENTS`), on ``metadata``."""
    return TRACKER_EVENTS.to_metadata(metadata or MetaData())


def clear(engine: Engine) -> None:
    """Delete the whole conversation record (every ``conv_*`` row), in one transaction."""
    with engine.begin() as conn:
        for model in (TermRow, IntentRow, ProcedureRow, TurnRow, ConversationRow, EventSeenRow):
            conn.execute(delete(model.__table__))


def rebuild(tracker_url: str, engine: Engine | None = None, *, batch: int = 1000,
            progress: Callable[[int], None] | None = None, keep: bool = False) -> int:  # fmt: skip
    """Replay the tracker store at ``tracker_url`` into the record over ``engine``; return the events applied.

    The record is cleared first unless ``keep`` (then only events not seen yet are applied).
    ``progress`` is called with the number of tracker rows read in each batch of ``batch`` rows.
    Rows whose ``data`` is not a JSON object are skipped.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    engine = engine or engine_for()
    if not keep:
        clear(engine)
    recorder = Recorder(engine)
    source = make_engine(tracker_url)
    events = tracker_events_table()
    applied, last_id = 0, None
    try:
        while True:
            query = select(events.c.id, events.c.sender_id, events.c.data).order_by(events.c.id).limit(batch)
            if last_id is not None:
                query = query.where(events.c.id > last_id)
            with source.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                break
            last_id = rows[-1].id
            applied += recorder.apply([e for row in rows if (e := _event(row.sender_id, row.data)) is not None])
            if progress is not None:
                progress(len(rows))
    finally:
        source.dispose()
    return applied


def _event(sender_id: str, data: str | None) -> dict[str, Any] | None:
    try:
        event = json.loads(data) if data else None
    except ValueError:
        event = None
    if not isinstance(event, dict):
        _LOG.debug("skipped a tracker row whose data is not a JSON object")
        return None
    event["sender_id"] = sender_id
    return event
