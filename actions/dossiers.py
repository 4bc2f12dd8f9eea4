"""Dossier status with verification, subscriptions and pushed updates (service: bot.dossiers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import answered, first_entity, latest_intent, rescued, send
from bot import dialogue
from bot.dossiers import render
from bot.dossiers.codes import InvalidDossierCode, find_codes, normalise_dossier_code
from bot.dossiers.service import DossierLookup, Verified, build_lookup, normalise_phone_last4

logger = logging.getLogger(__name__)
T = TypeVar("T")

# The phone_last4 slot says only whether the digits were given; the digits stay in the latest message.
DIGITS_RECEIVED = "received"
DIGITS_INVALID = "invalid"
# Intents after which the answer to "4 số cuối?" is not an answer (as the domain's dossier_code mapping).
NOT_AN_ANSWER_INTENTS = frozenset(
    {
        "cancel", "deny", "goodbye", "request_human", "ask_documents", "ask_fee",
        "ask_processing_time", "ask_where", "ask_how_online", "ask_procedure_info", "ask_conditions",
    }
)  # fmt: skip


@lru_cache(maxsize=1)
def lookup() -> DossierLookup:
    """The process-wide dossier service (built on first use)."""
    return build_lookup()


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def _requester(tracker: Tracker) -> str | None:
    """Who is asking, as the channel layer saw it (a keyed hash the client cannot choose), if known."""
    metadata = tracker.latest_message.get("metadata") or {}
    value = metadata.get("requester") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value.startswith("rq:") and len(value) <= 64 else None


async def _call_service(dispatcher: CollectingDispatcher, what: str, method: Callable[..., T], *args: Any) -> T | None:
    """Run a blocking service call off the event loop; on any failure say "busy" and log the detail."""
    try:
        return await asyncio.to_thread(method, *args)
    except Exception:  # the citizen sees a polite message whatever broke; the log has the detail
        logger.exception("dossier %s failed", what)
        send(dispatcher, render.busy_reply())
        return None


class ValidateDossierForm(FormValidationAction):
    """Normalise the dossier code and the 4 phone digits; explain the expected format on a mistake."""

    def name(self) -> str:
        return "validate_dossier_form"

    def validate_dossier_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Accept a code typed loosely (spaces, lower case, a missing dot); otherwise show the format."""
        text = str(value or "")
        found = find_codes(text)
        try:
            return {"dossier_code": normalise_dossier_code(found[0] if found else text)}
        except InvalidDossierCode as exc:
            send(dispatcher, render.invalid_code_reply(exc))
            return {"dossier_code": None}

    async def extract_phone_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Note that the citizen answered the digits question, without copying the digits anywhere.

        The digits are a second factor: they stay in the latest message (which
        :class:`ActionDossierStatus` reads in this same turn) and never reach a slot, so
        the tracker store and the event broker never hold them.
        """
        if tracker.get_slot("requested_slot") != "phone_last4" or latest_intent(tracker) in NOT_AN_ANSWER_INTENTS:
            return {}
        received = normalise_phone_last4(tracker.latest_message.get("text")) is not None
        return {"phone_last4": DIGITS_RECEIVED if received else DIGITS_INVALID}

    def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Ask again when the answer held no 4 digits."""
        if value != DIGITS_RECEIVED:
            send(dispatcher, render.ask_phone_digits_reply())
            return {"phone_last4": None}
        return {"phone_last4": DIGITS_RECEIVED}


class ActionDossierStatus(Action):
    """Look the dossier up with its second factor; reveal the status only when verified."""

    def name(self) -> str:
        return "action_dossier_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = tracker.get_slot("dossier_code")
        digits = normalise_phone_last4(tracker.latest_message.get("text"))
        if not code:
            # Digits with no lookup under way are not an answer to "4 số cuối?": a procedure code
            # ("2.001955") is answered as one; anything else is not understood, never a form prompt.
            answer = await rescued(tracker)
            if answer is not None:
                return [SlotSet("phone_last4", None), *answered(dispatcher, answer)]
            # Four digits alone may still mean a lookup: offer it; anything else gets the honest "not understood".
            guess = dialogue.clarify([("track_dossier", 1.0)], {}) if digits else dialogue.offer_human()
            send(dispatcher, guess)
            return [SlotSet("phone_last4", None)]
        if not digits:
            send(dispatcher, render.ask_phone_digits_reply())
            return [SlotSet("phone_last4", None)]
        result = await _call_service(
            dispatcher, "lookup", partial(lookup().status, requester=_requester(tracker)),
            code, digits, tracker.sender_id, _channel(tracker),
        )  # fmt: skip
        # The digits are a one-time factor: never keep them in the conversation state.
        events: list[EventType] = [SlotSet("phone_last4", None)]
        if result is None:
            return events
        send(dispatcher, render.lookup_reply(result))
        if isinstance(result, Verified):
            events.append(SlotSet("verified_dossier", result.view.code))
        return events


class ActionSubscribeDossier(Action):
    """Record a subscription for the dossier this sender has just verified."""

    def name(self) -> str:
        return "action_subscribe_dossier"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = tracker.get_slot("verified_dossier") or tracker.get_slot("dossier_code")
        if not code:
            send(dispatcher, render.verify_before_subscribe_reply())
            return []
        result = await _call_service(
            dispatcher, "subscription", lookup().subscribe, code, _channel(tracker), tracker.sender_id
        )
        if result is not None:
            send(dispatcher, render.subscription_reply(result))
        return []


class ActionUnsubscribeDossier(Action):
    """Stop notifications for the named dossier, or for all this sender follows."""

    def name(self) -> str:
        return "action_unsubscribe_dossier"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = first_entity(tracker, "dossier_code")
        result = await _call_service(
            dispatcher, "unsubscription", lookup().unsubscribe, code, _channel(tracker), tracker.sender_id
        )
        if result is not None:
            send(dispatcher, render.subscription_reply(result))
        return []


class ActionNotifyDossierUpdate(Action):
    """Pushed by the watcher (EXTERNAL_dossier_update) to a verified subscriber: the new status and next step."""

    def name(self) -> str:
        return "action_notify_dossier_update"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        # The service decides whether this conversation may hear it (trigger_intent can name any conversation).
        result = await _call_service(
            dispatcher, "update check", lookup().update_for,
            first_entity(tracker, "dossier_code"), first_entity(tracker, "status"), tracker.sender_id,
        )  # fmt: skip
        if result is not None:
            send(dispatcher, render.update_reply(result))  # empty, so nothing is sent, when it may not be told
        return []
