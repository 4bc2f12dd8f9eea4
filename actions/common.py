"""Helpers shared by the actions: service singletons and sending a channel-neutral reply."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.answers import ProcedureAdvisor
from bot.replies import Reply
from bot.text import entity_text

# Chat apps read better in short messages; connectors split again at their own hard limits.
MESSAGE_LIMIT = 1200


@lru_cache(maxsize=1)
def advisor() -> ProcedureAdvisor:
    """The process-wide advisor over the catalogue database (built on first use)."""
    from bot.catalog.service import ProcedureCatalog

    return ProcedureAdvisor(ProcedureCatalog())


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    """Send ``reply`` in chat-sized parts, the buttons (and links, as Rasa's ``url`` buttons) with the last part.

    The one way an action speaks: every action builds a :class:`Reply` with a renderer and sends it here.
    An empty reply (no text, buttons or links) sends nothing.
    """
    parts = reply.parts(MESSAGE_LIMIT)
    if not parts:
        return
    for part in parts[:-1]:
        dispatcher.utter_message(text=part)
    buttons: list[dict[str, Any]] = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
    buttons += [{"title": link.title, "url": link.url, "type": "web_url"} for link in reply.links]
    dispatcher.utter_message(text=parts[-1], buttons=buttons or None)


def first_entity(tracker: Tracker, name: str) -> str | None:
    """The first value of entity ``name`` in the latest user message, if any, as clean text.

    A button payload typed by hand can carry any JSON value: only what
    :func:`bot.text.entity_text` accepts counts.
    """
    for entity in tracker.latest_message.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == name:
            return entity_text(entity.get("value"))
    return None


def latest_intent(tracker: Tracker) -> str:
    """Name of the latest user message's intent ('' when none)."""
    intent: dict[str, Any] = tracker.latest_message.get("intent") or {}
    return str(intent.get("name") or "")
