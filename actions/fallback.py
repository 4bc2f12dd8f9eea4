"""The fallback ladder and the handoff to a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import send
from bot import dialogue


class ActionFallbackLadder(Action):
    """Low confidence: first ask "Ý anh/chị là …?", on a second failure in a row offer a person."""

    def name(self) -> str:
        return "action_fallback_ladder"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        failures = float(tracker.get_slot("fallback_count") or 0)
        if failures >= 1:
            send(dispatcher, dialogue.offer_human())
            return [SlotSet("fallback_count", 0.0)]
        message = tracker.latest_message
        ranking = [(r["name"], float(r.get("confidence", 0))) for r in message.get("intent_ranking", [])]
        entities = {e["entity"]: str(e["value"]) for e in message.get("entities", []) if e.get("entity") == "procedure"}
        send(dispatcher, dialogue.clarify(ranking, entities))
        return [SlotSet("fallback_count", failures + 1)]


class ActionRequestHuman(Action):
    """Hand the conversation to the help desk (for now: the hotline and office hours)."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        send(dispatcher, dialogue.handoff())
        return [SlotSet("fallback_count", 0.0)]
