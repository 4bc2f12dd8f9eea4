"""The fallback ladder and out-of-scope messages (the handoff to a person is in actions/helpdesk.py)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import answered, rescued, send, typed_text
from bot import dialogue


class ActionFallbackLadder(Action):
    """Low confidence: a procedure the words name is answered; else "Ý anh/chị là …?", then a person.

    Suggestions are the question intents only when the message is about a procedure, and the
    topic of the conversation (``procedure_code``) is kept, so the next follow-up still works.
    """

    def name(self) -> str:
        return "action_fallback_ladder"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        previous = tracker.get_slot("procedure_code")
        answer = await rescued(tracker)
        if answer is not None:
            return answered(dispatcher, answer)
        failures = float(tracker.get_slot("fallback_count") or 0)
        if failures >= 1:
            send(dispatcher, dialogue.offer_human())
            return [SlotSet("fallback_count", 0.0)]
        message = tracker.latest_message
        ranking = [(r["name"], float(r.get("confidence", 0))) for r in message.get("intent_ranking", [])]
        entities = {e["entity"]: str(e["value"]) for e in message.get("entities", []) if e.get("entity") == "procedure"}
        if previous and not entities:
            entities = {"procedure_code": previous}
        about_procedure = bool(entities) or dialogue.names_a_topic(typed_text(tracker))
        send(dispatcher, dialogue.clarify(ranking, entities, questions_only=about_procedure))
        return [SlotSet("fallback_count", failures + 1)]


class ActionOutOfScope(Action):
    """Out of scope for the NLU: still answered when the words name a procedure; else the polite refusal."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        answer = await rescued(tracker)
        if answer is not None:
            return answered(dispatcher, answer)
        send(dispatcher, dialogue.out_of_scope())
        return []
