"""Dossier status with verification, subscriptions and pushed updates (service: bot.dossiers)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import first_entity, send
from bot.answers import Button, Reply, payload
from bot.dossiers.codes import InvalidDossierCode, find_codes, normalize_code
from bot.dossiers.service import (
    BUSY_MESSAGE,
    DossierLookup,
    Verified,
    WrongPhone,
    build_lookup,
    format_result,
    normalize_last4,
)
from bot.dossiers.status import status_info

logger = logging.getLogger(__name__)
T = TypeVar("T")

PHONE_DIGITS_PROMPT = (
    "Dạ, anh/chị vui lòng nhập đúng 4 chữ số cuối của số điện thoại đã đăng ký trên hồ sơ (ví dụ: 6789) ạ."
)


@lru_cache(maxsize=1)
def lookup() -> DossierLookup:
    """The process-wide dossier service (built on first use)."""
    return build_lookup()


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


async def _call_service(dispatcher: CollectingDispatcher, what: str, method: Callable[..., T], *args: Any) -> T | None:
    """Run a blocking service call off the event loop; on any failure say "busy" and log the detail."""
    try:
        return await asyncio.to_thread(method, *args)
    except Exception:  # the citizen sees a polite message whatever broke; the log has the detail
        logger.exception("dossier %s failed", what)
        dispatcher.utter_message(text=BUSY_MESSAGE)
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
            return {"dossier_code": normalize_code(found[0] if found else text)}
        except InvalidDossierCode as exc:
            dispatcher.utter_message(text=exc.user_message)
            return {"dossier_code": None}

    def validate_phone_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Keep only the 4 digits; ask again when the citizen typed something else."""
        digits = normalize_last4(str(value or ""))
        if digits is None:
            dispatcher.utter_message(text=PHONE_DIGITS_PROMPT)
        return {"phone_last4": digits}


class ActionDossierStatus(Action):
    """Look the dossier up with its second factor; reveal the status only when verified."""

    def name(self) -> str:
        return "action_dossier_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = tracker.get_slot("dossier_code")
        digits = tracker.get_slot("phone_last4") or normalize_last4(tracker.latest_message.get("text"))
        if not code:
            dispatcher.utter_message(response="utter_ask_dossier_code")
            return [SlotSet("phone_last4", None)]
        if not digits:
            dispatcher.utter_message(text=PHONE_DIGITS_PROMPT)
            return [SlotSet("phone_last4", None)]
        result = await _call_service(
            dispatcher, "lookup", lookup().status, code, digits, tracker.sender_id, _channel(tracker)
        )
        # The digits are a one-time factor: never keep them in the conversation state.
        events: list[EventType] = [SlotSet("phone_last4", None)]
        if result is None:
            return events
        text = format_result(result)
        if isinstance(result, Verified):
            send(dispatcher, Reply(text, (Button("Báo cho tôi khi có kết quả", payload("subscribe_dossier")),)))
            events.append(SlotSet("verified_dossier", result.view.code))
        elif isinstance(result, WrongPhone) and result.attempts_left > 0:
            dispatcher.utter_message(text=f"{text} Anh/chị vui lòng nhập lại 4 số cuối ạ.")
        else:
            dispatcher.utter_message(text=text)
        return events


class ActionSubscribeDossier(Action):
    """Record a subscription for the dossier this sender has just verified."""

    def name(self) -> str:
        return "action_subscribe_dossier"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = tracker.get_slot("verified_dossier") or tracker.get_slot("dossier_code")
        if not code:
            dispatcher.utter_message(
                text="Dạ, anh/chị vui lòng tra cứu và xác minh hồ sơ trước, rồi em sẽ đăng ký nhận thông báo ạ."
            )
            return []
        result = await _call_service(
            dispatcher, "subscription", lookup().subscribe, code, _channel(tracker), tracker.sender_id
        )
        if result is not None:
            dispatcher.utter_message(text=result.message)
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
            dispatcher.utter_message(text=result.message)
        return []


class ActionNotifyDossierUpdate(Action):
    """Pushed by the watcher (EXTERNAL_dossier_update) to a verified subscriber: the new status and next step."""

    def name(self) -> str:
        return "action_notify_dossier_update"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        code = first_entity(tracker, "dossier_code")
        status = first_entity(tracker, "status")
        if not code or not status or not status.isdigit():
            logger.warning("dossier update without code or status ignored")
            return []
        info = status_info(int(status))
        dispatcher.utter_message(
            text=f"Dạ, hồ sơ {code} của anh/chị vừa chuyển sang trạng thái: {info.label}.\n{info.next_step}"
        )
        return []
