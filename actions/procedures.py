"""Answers about procedures: documents, fees, time, place, online filing, overview."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    advisor,
    answered,
    first_entity,
    in_english,
    latest_intent,
    previous_choices,
    procedure_mention,
    typed_text,
)
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
        english = await in_english(tracker)
        if english is not None:
            return answered(dispatcher, english)
        answer = await asyncio.to_thread(
            advisor().answer,
            intent,
            mention=procedure_mention(tracker),
            code=first_entity(tracker, "procedure_code"),
            previous_code=tracker.get_slot("procedure_code"),
            case=first_entity(tracker, "case"),
            message=typed_text(tracker),
            previous_choices=previous_choices(tracker),
        )
        return answered(dispatcher, answer)
