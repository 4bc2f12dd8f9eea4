"""Rasa's SQL tracker store, with personal data and the dossier second factor kept out of what it stores.

Configured in ``endpoints.yml`` (SQLite) and ``endpoints.prod.yml`` (PostgreSQL) as
``type: bot.runtime.tracker_store.PrivateSQLTrackerStore``; it takes the same options
as Rasa's ``SQL`` store. Before a turn's new events are written (and published to the
event broker, which reads the same event objects):

- in a message of the dossier flow (the answer to "the last 4 digits of your phone",
  any message while the dossier form is open or right after a lookup, any message
  holding a dossier code) every digit outside a dossier code becomes ``•``: the 4
  digits unlock a dossier and must not be stored anywhere;
- every other message, entity value, slot value and bot message has phone numbers,
  ID numbers and e-mails masked (:func:`bot.privacy.mask_text`); a user message that
  masking changed keeps its original encrypted in ``metadata["sealed"]``
  (:func:`bot.privacy.seal`) for the console's audited "unmask";
- a ``phone_last4`` slot keeps only "received"/"invalid", and a ``dossier_code`` slot
  only a well-formed code.

The live turn is unaffected: actions see the message as typed, because redaction
happens when the turn is saved, after the actions have run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.dossiers.codes import code_spans, is_valid_code
from bot.privacy import mask_text, seal

# Set on events read back from the store: they were redacted when they were saved.
_STORED = "_dvc_stored"
SECOND_FACTOR_SLOT = "phone_last4"
DOSSIER_SLOT = "dossier_code"
DOSSIER_FORM = "dossier_form"
DOSSIER_ACTION = "action_dossier_status"
_SLOT_MARKERS = frozenset({"received", "invalid"})
_LISTEN = "action_listen"
DIGIT_MASK = "•"
#: Metadata key of a user message's sealed original (read by bot.conversations).
SEALED_KEY = "sealed"


def hide_digits(text: str) -> str:
    """``text`` with every digit outside a dossier code replaced by ``•``."""
    out = list(text)
    keep = [range(a, b) for a, b in code_spans(text)]
    for i, ch in enumerate(out):
        if ch.isdigit() and not any(i in span for span in keep):
            out[i] = DIGIT_MASK
    return "".join(out)


def _dossier_flow_messages(events: list[Event]) -> set[int]:
    """Indices of user messages of the dossier flow: sent while the form is open or right after a
    lookup (a retry of the digits), or followed by a lookup in the same turn."""
    flow: set[int] = set()
    requested: Any = None
    loop: Any = None
    last_action: str | None = None
    last_user: int | None = None
    for i, event in enumerate(events):
        if isinstance(event, SlotSet) and event.key == "requested_slot":
            requested = event.value
        elif isinstance(event, ActiveLoop):
            loop = event.name
        elif isinstance(event, UserUttered):
            last_user = i
            if requested == SECOND_FACTOR_SLOT or loop == DOSSIER_FORM or last_action == DOSSIER_ACTION:
                flow.add(i)
        elif isinstance(event, ActionExecuted) and event.action_name != _LISTEN:
            last_action = event.action_name
            if event.action_name == DOSSIER_ACTION and last_user is not None:
                flow.add(last_user)
    return flow


def _set_text(event: UserUttered, text: str) -> None:
    event.text = text
    event.parse_data["text"] = text
    event.parse_data.pop("text_tokens", None)


def _redact_user(event: UserUttered, in_flow: bool) -> None:
    text = event.text or ""
    if in_flow or code_spans(text):
        redacted = mask_text(hide_digits(text))
        kept = [
            e for e in event.entities
            if not any(ch.isdigit() for ch in str(e.get("value"))) or is_valid_code(str(e.get("value")))
        ]  # fmt: skip
    else:
        redacted = mask_text(text)
        kept = [{**e, "value": mask_text(e["value"])} if isinstance(e.get("value"), str) else e for e in event.entities]
        if redacted != text:
            # Outside the dossier flow the original stays readable, encrypted, for a supervisor
            # who gives a reason in the console (bot.privacy.sealing); the 4 digits never are.
            event.metadata = {**(event.metadata or {}), SEALED_KEY: seal(text)}
    if redacted != text:
        _set_text(event, redacted)
    if kept != event.entities:
        event.entities = kept
        event.parse_data["entities"] = list(kept)


def _redact_slot(event: SlotSet) -> None:
    if event.key == SECOND_FACTOR_SLOT:
        if event.value not in _SLOT_MARKERS:
            event.value = None
    elif event.key == DOSSIER_SLOT:
        if event.value is not None and not is_valid_code(str(event.value)):
            event.value = None
    elif isinstance(event.value, str):
        event.value = mask_text(event.value)


def redact(events: Iterable[Event]) -> None:
    """Redact, in place, the events not yet stored (see the module docstring)."""
    events = list(events)
    flow = _dossier_flow_messages(events)
    for i, event in enumerate(events):
        if getattr(event, _STORED, False):
            continue
        if isinstance(event, UserUttered):
            _redact_user(event, i in flow)
        elif isinstance(event, SlotSet):
            _redact_slot(event)
        elif isinstance(event, BotUttered) and event.text:
            event.text = mask_text(event.text)


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

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publish the turn's new events: those beyond the stored count, as :meth:`save` stores them.

        Rasa's own version reads the whole tracker back and diffs it on every turn, which made a turn
        with the record of conversations about 15 % slower (bench/webhook_bench.py --record-cost).
        """
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Redact the turn's new events, then store (and publish) them."""
        redact(tracker.events)
        await super().save(tracker)
        _mark_stored(tracker)
