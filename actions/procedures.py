"""Answers about procedures: documents, fees, time, place, online filing, overview."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import advisor, first_entity, latest_intent, send
from bot.answers import QUESTION_INTENTS


class ActionAnswerProcedure(Action):
    """Resolve the procedure (entity, button, or previous turn) and answer from the catalogue."""

    def name(self) -> str:
        return "action_answer_procedure"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        intent = latest_intent(tracker)
        if intent not in QUESTION_INTENTS:
            # "Có" after an overview means "yes, show me the documents".
            intent = tracker.get_slot("offered_intent") or ""
            if intent not in QUESTION_INTENTS:
                dispatcher.utter_message(response="utter_anything_else")
                return [SlotSet("offered_intent", None)]
        answer = await asyncio.to_thread(
            advisor().answer,
            intent,
            mention=first_entity(tracker, "procedure"),
            code=first_entity(tracker, "procedure_code"),
            previous_code=tracker.get_slot("procedure_code"),
            case=first_entity(tracker, "case"),
            message=_typed_text(tracker),
        )
        send(dispatcher, answer.reply)
        offered = "ask_documents" if answer.resolved and intent == "ask_procedure_info" else None
        return [
            SlotSet("procedure_code", answer.procedure_code),
            SlotSet("offered_intent", offered),
            SlotSet("fallback_count", 0.0),
        ]


def _typed_text(tracker: Tracker) -> str | None:
    """What the citizen typed; None for a button's payload ("/ask_documents{...}"), which names its procedure."""
    typed = tracker.latest_message.get("text")
    return typed if isinstance(typed, str) and typed.strip() and not typed.lstrip().startswith("/") else None
