"""Fixtures of the conversation-record tests: a migrated database (SQLite, and PostgreSQL when it is up)
and :class:`Chat`, which writes Rasa event dicts the way the event broker publishes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.conversations.models import ConversationRow, EventSeenRow, IntentRow, ProcedureRow, TermRow, TurnRow

T0 = 1733550000.125  # 2024-12-07 05:40 UTC, 12:40 in Vietnam
DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A database at the newest schema: SQLite, then PostgreSQL (skipped when it is not reachable)."""
    name = "engine" if request.param == "sqlite" else "pg_schema_engine"
    yield request.getfixturevalue(name)


class Chat:
    """Events of one conversation, each 0.5 s after the previous one."""

    def __init__(self, sender_id: str, start: float = T0, model_id: str = "model-1") -> None:
        self.sender_id, self.t, self.model_id = sender_id, start, model_id

    def _event(self, **fields: Any) -> dict[str, Any]:
        self.t += 0.5
        return {"sender_id": self.sender_id, "timestamp": self.t, **fields}

    def user(self, text: str, intent: str = "ask_fee", confidence: float = 0.93,
             entities: list[dict[str, Any]] | None = None, sealed: str | None = None) -> dict[str, Any]:  # fmt: skip
        meta: dict[str, Any] = {"model_id": self.model_id}
        if sealed is not None:
            meta["sealed"] = sealed
        return self._event(
            event="user", text=text, input_channel=self.sender_id.partition(":")[0], message_id="m",
            parse_data={"intent": {"name": intent, "confidence": confidence}, "entities": entities or [],
                        "intent_ranking": [{"name": intent, "confidence": confidence}], "text": text},
            metadata=meta,
        )  # fmt: skip

    def bot(self, text: str | None, agent: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"utter_action": "utter_x", "model_id": self.model_id}
        if agent is not None:
            meta["agent"] = agent
        return self._event(event="bot", text=text, data={"buttons": [{"title": "Có", "payload": "/affirm"}]},
                           metadata=meta)  # fmt: skip

    def action(self, name: str) -> dict[str, Any]:
        return self._event(event="action", name=name, policy="RulePolicy", confidence=1.0, metadata={})

    def slot(self, name: str, value: Any) -> dict[str, Any]:
        return self._event(event="slot", name=name, value=value)

    def pause(self) -> dict[str, Any]:
        return self._event(event="pause")

    def resume(self) -> dict[str, Any]:
        return self._event(event="resume")

    def exchange(self, text: str, answer: str, intent: str = "ask_fee", confidence: float = 0.93,
                 code: str | None = None, action: str = "action_answer_procedure") -> list[dict[str, Any]]:  # fmt: skip
        """A whole turn: the citizen's message, the action, its slot and reply, then listening."""
        events = [self.user(text, intent, confidence), self.action(action)]
        if code is not None:
            events.append(self.slot("procedure_code", code))
        return [*events, self.bot(answer), self.action("action_listen")]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every conv_* table, in a stable order (ids of conversations replaced by sender ids)."""
    with engine.connect() as conn:
        ids = dict(conn.execute(select(ConversationRow.id, ConversationRow.sender_id)).all())
        out: dict[str, list[tuple[Any, ...]]] = {}
        for model in (ConversationRow, TurnRow, ProcedureRow, IntentRow, TermRow, EventSeenRow):
            table = model.__table__
            rows = []
            for row in conn.execute(select(table)).mappings():
                values = dict(row)
                if "conversation_id" in values:
                    values["conversation_id"] = ids[values["conversation_id"]]
                values.pop("id", None) if model is ConversationRow else None
                rows.append(tuple(sorted((k, repr(v)) for k, v in values.items())))
            out[table.name] = sorted(rows)
        return out
