"""Helpers shared by the actions: service singletons and sending a channel-neutral reply."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.answers import Answer, ProcedureAdvisor
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


def procedure_mention(tracker: Tracker) -> str | None:
    """The NLU's procedure mention: one the NLU mapped to a catalogue name first, else the first one.

    A mapped value (a synonym: "làm giấy khai sinh" -> "Thủ tục đăng ký khai sinh") names a procedure
    for sure; a span taken as typed may be part of the situation ("bệnh viện đã cấp giấy báo tử").
    """
    typed = (tracker.latest_message.get("text") or "").casefold()
    values = [
        value
        for e in tracker.latest_message.get("entities") or []
        if isinstance(e, dict) and e.get("entity") == "procedure" and (value := entity_text(e.get("value")))
    ]
    mapped = [v for v in values if v.casefold() not in typed]
    return (mapped or values or [None])[0]


def latest_intent(tracker: Tracker) -> str:
    """Name of the latest user message's intent ('' when none)."""
    intent: dict[str, Any] = tracker.latest_message.get("intent") or {}
    return str(intent.get("name") or "")


def typed_text(tracker: Tracker) -> str | None:
    """What the citizen typed; None for a button's payload ("/ask_documents{...}"), which names its procedure."""
    typed = tracker.latest_message.get("text")
    return typed if isinstance(typed, str) and typed.strip() and not typed.lstrip().startswith("/") else None


async def in_english(tracker: Tracker) -> Answer | None:
    """The answer to a message written in English (:mod:`bot.english`); None for any other message."""
    from bot.english import answer_in_english

    return await asyncio.to_thread(
        answer_in_english, advisor().catalog, typed_text(tracker), previous_code=tracker.get_slot("procedure_code")
    )


async def rescued(tracker: Tracker) -> Answer | None:
    """A message the NLU did not read as a procedure question that still is one (English, or named in
    the words): its answer; None to go on with the caller's own reply (:meth:`ProcedureAdvisor.rescue`)."""
    english = await in_english(tracker)
    if english is not None:
        return english
    return await asyncio.to_thread(
        advisor().rescue,
        typed_text(tracker),
        mention=procedure_mention(tracker),
        previous_code=tracker.get_slot("procedure_code"),
        previous_choices=previous_choices(tracker),
    )


def answered(dispatcher: CollectingDispatcher, answer: Answer) -> list[EventType]:
    """Send an answer about a procedure; the events that keep its topic for the follow-ups."""
    send(dispatcher, answer.reply)
    return [
        SlotSet("procedure_code", answer.procedure_code),
        SlotSet("procedure_choices", " ".join(answer.choices) or None),
        SlotSet("offered_intent", answer.offered_intent),
        SlotSet("fallback_count", 0.0),
    ]


def previous_choices(tracker: Tracker) -> tuple[str, ...]:
    """The procedure codes the previous turn offered as buttons (slot ``procedure_choices``)."""
    value = tracker.get_slot("procedure_choices")
    return tuple(str(value).split()) if value else ()
