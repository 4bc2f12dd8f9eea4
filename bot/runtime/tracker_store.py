"""Rasa's SQL tracker store, with personal data and the dossier second factor kept out of what it stores.

Configured in ``endpoints.yml`` (SQLite) and ``endpoints.prod.yml`` (PostgreSQL) as
``type: bot.runtime.tracker_store.PrivateSQLTrackerStore``; it takes the same options
as Rasa's ``SQL`` store. Before a turn's new events are written (and published to the
event broker, which reads the same event objects):

- a citizen's answer to "the last 4 digits of your phone" has every digit replaced
  by ``•`` (the digits unlock a dossier: they must not be stored anywhere);
- every other message has phone numbers, ID numbers and e-mails masked
  (:func:`bot.privacy.mask_text`);
- a ``phone_last4`` slot event keeps only "received"/"invalid", never digits.

The live turn is unaffected: actions see the message as typed, because redaction
happens when the turn is saved, after the actions have run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.privacy import mask_text

# Set on events read back from the store: they were redacted when they were saved.
_STORED = "_dvc_stored"
SECOND_FACTOR_SLOT = "phone_last4"
SECOND_FACTOR_ACTION = "action_dossier_status"
_SLOT_MARKERS = frozenset({"received", "invalid"})
DIGIT_MASK = "•"


def _hide_digits(text: str) -> str:
    return "".join(DIGIT_MASK if ch.isdigit() else ch for ch in text)


def _second_factor_answers(events: list[Event]) -> set[int]:
    """Indices of user messages that answer the digits question (asked by the form, or retried)."""
    answers: set[int] = set()
    requested: Any = None
    last_user: int | None = None
    for i, event in enumerate(events):
        if isinstance(event, SlotSet) and event.key == "requested_slot":
            requested = event.value
        elif isinstance(event, UserUttered):
            last_user = i
            if requested == SECOND_FACTOR_SLOT:
                answers.add(i)
        elif isinstance(event, ActionExecuted) and event.action_name == SECOND_FACTOR_ACTION and last_user is not None:
            # "digits after a failed verification" reach the lookup outside the form.
            answers.add(last_user)
    return answers


def _set_text(event: UserUttered, text: str) -> None:
    event.text = text
    event.parse_data["text"] = text
    event.parse_data.pop("text_tokens", None)


def redact(events: Iterable[Event]) -> None:
    """Redact, in place, the events not yet stored (see the module docstring)."""
    events = list(events)
    factor_answers = _second_factor_answers(events)
    for i, event in enumerate(events):
        if getattr(event, _STORED, False):
            continue
        if isinstance(event, UserUttered) and event.text:
            if i in factor_answers:
                _set_text(event, _hide_digits(event.text))
                event.entities = [e for e in event.entities if not any(ch.isdigit() for ch in str(e.get("value")))]
                event.parse_data["entities"] = list(event.entities)
            else:
                masked = mask_text(event.text)
                if masked != event.text:
                    _set_text(event, masked)
        elif isinstance(event, SlotSet) and event.key == SECOND_FACTOR_SLOT and event.value not in _SLOT_MARKERS:
            event.value = None


def _mark_stored(tracker: DialogueStateTracker | None) -> DialogueStateTracker | None:
    if tracker is not None:
        for event in tracker.events:
            setattr(event, _STORED, True)
    return tracker


class PrivateSQLTrackerStore(SQLTrackerStore):
    """:class:`rasa.core.tracker_store.SQLTrackerStore` that redacts before it stores (module docstring)."""

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        return _mark_stored(await super()._retrieve(sender_id, fetch_events_from_all_sessions))

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Redact the turn's new events, then store (and publish) them."""
        redact(tracker.events)
        await super().save(tracker)
        _mark_stored(tracker)
