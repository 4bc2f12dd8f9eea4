"""The help desk in the dialogue: asking for a person, leaving the queue, call-backs and the rating (CSAT)."""

from __future__ import annotations

import asyncio
import re
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import first_entity, send
from bot.helpdesk.service import REASONS, CitizenDesk
from bot.replies import Button, Reply, payload
from bot.wording import text

#: The rating scale offered as buttons.
STARS = ("1", "2", "3", "4", "5")
RATING_SLOT, TARGET_SLOT = "csat_rating", "csat_target"
WANTED_SLOT, COMMENT_SLOT = "csat_comment_wanted", "csat_comment"


@lru_cache(maxsize=1)
def desk() -> CitizenDesk:
    """The process-wide citizen desk over the application database."""
    return CitizenDesk()


def rating_buttons() -> tuple[Button, ...]:
    """Buttons 1..5 that send ``/rate{"csat_rating": "n"}``."""
    return tuple(Button(star, payload("rate", csat_rating=star)) for star in STARS)


def stars_in(message: object) -> str | None:
    """The one rating 1–5 written in a message ("5 sao", "cho 4 điểm"), when there is exactly one digit."""
    digits = re.findall(r"\d+", message) if isinstance(message, str) else []
    return digits[0] if len(digits) == 1 and digits[0] in STARS else None


class ActionRequestHuman(Action):
    """Queue the conversation for a person and pause the bot; outside hours or with no one online, say
    when staff are back and offer a call-back (the bot keeps answering)."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        reason = first_entity(tracker, "handoff_reason")
        outcome = await asyncio.to_thread(desk().request, tracker.sender_id, reason if reason in REASONS else "asked")
        send(dispatcher, outcome.reply)
        events: list[EventType] = [SlotSet("fallback_count", 0.0)]
        if outcome.paused:
            events.append(ConversationPaused())
        return events


class ActionLeftQueue(Action):
    """The conversation left the queue and the bot is back (the Rasa process did both): the citizen took
    the request back, or nobody is online any more (then a call-back is offered)."""

    def name(self) -> str:
        return "action_left_queue"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        send(dispatcher, await asyncio.to_thread(desk().left_reply, tracker.sender_id))
        return []


class ValidateCallbackForm(FormValidationAction):
    """Takes the phone number for a call-back from the message as typed (the stored copy is masked)."""

    def name(self) -> str:
        return "validate_callback_form"

    async def validate_callback_phone(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        typed = tracker.latest_message.get("text") or ""
        if typed.startswith("/request_callback"):
            return {"callback_phone": None}  # the button that opened the form (again): just ask
        saved = await asyncio.to_thread(desk().leave_call_back, tracker.sender_id, typed)
        if saved is None:
            send(dispatcher, Reply(text("dialogue.callback_invalid")))
            return {"callback_phone": None}
        send(dispatcher, saved)
        # Only a marker: the number itself lives in the call-back list, never in a slot.
        return {"callback_phone": "received"}


class ActionCallbackCancelled(Action):
    """The citizen did not leave a number after all."""

    def name(self) -> str:
        return "action_callback_cancelled"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        send(dispatcher, Reply(text("dialogue.callback_cancelled")))
        return [SlotSet("callback_phone", None)]


class ActionHandoffClosed(Action):
    """A staff member closed the handoff (``EXTERNAL_handoff_closed``): the bot is back; ask for a rating."""

    def name(self) -> str:
        return "action_handoff_closed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        agent = first_entity(tracker, "agent") or "-"
        if tracker.get_slot(RATING_SLOT):
            send(dispatcher, Reply(text("dialogue.staff_closed")))
            return [SlotSet("fallback_count", 0.0)]
        send(dispatcher, Reply(f"{text('dialogue.staff_closed')}\n{text('rating.ask_staff')}", rating_buttons()))
        return [SlotSet(TARGET_SLOT, f"staff:{agent}"), SlotSet("fallback_count", 0.0)]


class ActionGoodbye(Action):
    """Goodbye; once per conversation, after an answer about a procedure, ask how the bot did."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        asked = tracker.get_slot("procedure_code") and not tracker.get_slot(RATING_SLOT)
        if asked and not tracker.get_slot(TARGET_SLOT):
            send(dispatcher, Reply(f"{text('chat.goodbye')}\n{text('rating.ask_bot')}", rating_buttons()))
            return [SlotSet(TARGET_SLOT, "bot")]
        send(dispatcher, Reply(text("chat.goodbye")))
        return []


class ActionRate(Action):
    """A rating button (1–5): kept once per conversation, then an optional comment."""

    def name(self) -> str:
        return "action_rate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        stars = first_entity(tracker, RATING_SLOT) or stars_in(tracker.latest_message.get("text"))
        if tracker.get_slot(RATING_SLOT):
            send(dispatcher, Reply(text("rating.already")))
            return [SlotSet(WANTED_SLOT, False)]
        if stars not in STARS:
            about_staff = str(tracker.get_slot(TARGET_SLOT) or "").startswith("staff:")
            send(dispatcher, Reply(text("rating.ask_staff" if about_staff else "rating.ask_bot"), rating_buttons()))
            return [SlotSet(WANTED_SLOT, False)]
        send(dispatcher, Reply(text("rating.thanks", stars=stars)))
        events: list[EventType] = [SlotSet(RATING_SLOT, int(stars)), SlotSet(WANTED_SLOT, True)]
        if not tracker.get_slot(TARGET_SLOT):
            events.append(SlotSet(TARGET_SLOT, "bot"))
        return events


class ValidateCsatCommentForm(FormValidationAction):
    """The comment form asks only right after a first rating; a repeated rating closes it at once."""

    def name(self) -> str:
        return "validate_csat_comment_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        return list(domain_slots) if tracker.get_slot(WANTED_SLOT) else []


class ActionAskCsatComment(Action):
    """The comment form's question, with a button to skip it."""

    def name(self) -> str:
        return "action_ask_csat_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        send(dispatcher, Reply(text("rating.ask_comment"), (Button(text("rating.skip"), payload("deny")),)))
        return []


class ActionRatingComment(Action):
    """The comment after a rating was taken (the form stored it in ``csat_comment``)."""

    def name(self) -> str:
        return "action_rating_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if tracker.get_slot(WANTED_SLOT) and tracker.get_slot(COMMENT_SLOT):
            send(dispatcher, Reply(text("rating.comment_thanks")))
        return [SlotSet(WANTED_SLOT, False)]
