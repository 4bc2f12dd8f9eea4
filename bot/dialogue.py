"""Dialogue replies that are not about one procedure: fallback guesses and handoff (no Rasa imports)."""

from __future__ import annotations

from datetime import datetime

from bot.catalog.query import asks_in
from bot.catalog.resolve import topic_words
from bot.db.clock import utcnow
from bot.helpdesk.hours import OfficeCalendar, office_calendar
from bot.replies import Button, Reply, human_button, payload
from bot.settings import settings
from bot.text import expand
from bot.wording import text

# The button title offered for each intent the fallback may guess (literal wording keys).
INTENT_LABELS = {
    "ask_documents": "dialogue.intent.ask_documents",
    "ask_fee": "dialogue.intent.ask_fee",
    "ask_processing_time": "dialogue.intent.ask_processing_time",
    "ask_where": "dialogue.intent.ask_where",
    "ask_how_online": "dialogue.intent.ask_how_online",
    "ask_procedure_info": "dialogue.intent.ask_procedure_info",
    "ask_conditions": "dialogue.intent.ask_conditions",
    "track_dossier": "dialogue.intent.track_dossier",
    "request_human": "button.request_human",
    "greet": "dialogue.intent.greet",
    "goodbye": "dialogue.intent.goodbye",
    "thank": "dialogue.intent.thank",
    "subscribe_dossier": "dialogue.intent.subscribe_dossier",
    "unsubscribe_dossier": "dialogue.intent.unsubscribe_dossier",
}
# Intents worth offering as a guess: a button for "affirm" or "deny" would mean nothing.
GUESSABLE = tuple(INTENT_LABELS)


#: What can be asked about a procedure: the only guesses for a message about one.
QUESTION_GUESSES = tuple(i for i in GUESSABLE if i.startswith("ask_"))


def names_a_topic(message: str | None) -> bool:
    """True when a message is about a procedure: it names an ask ("lệ phí", "ở đâu") or topic words."""
    if not message:
        return False
    return bool(asks_in(expand(message)) or topic_words(message))


def clarify(ranking: list[tuple[str, float]], entities: dict[str, str], *, questions_only: bool = False) -> Reply:
    """First step of the fallback ladder: "Ý anh/chị là …?" with the top two guesses as buttons.

    ``questions_only`` (a message about a procedure) keeps the guesses to the question intents:
    greeting, subscribing or tracking a dossier mean nothing for "hộ chiếu".
    """
    allowed = QUESTION_GUESSES if questions_only else GUESSABLE
    guesses = [name for name, _ in ranking if name in allowed][:2]
    if questions_only and len(guesses) < 2:
        guesses += [g for g in ("ask_procedure_info", "ask_documents") if g not in guesses][: 2 - len(guesses)]
    if not guesses:
        return offer_human()
    buttons = [Button(text(INTENT_LABELS[g]), payload(g, **entities)) for g in guesses]
    buttons.append(Button(text("button.not_this_ask_human"), payload("request_human", handoff_reason="low_confidence")))
    return Reply(text("dialogue.clarify"), tuple(buttons))


def out_of_scope() -> Reply:
    """Not a public-service question: say what the assistant does, with an example (as ``utter_out_of_scope``)."""
    return Reply(text("chat.out_of_scope"))


def offer_human() -> Reply:
    """Second failure in a row: stop guessing and offer a person."""
    return Reply(text("dialogue.offer_human"), (human_button("fallback"),))


#: Weekday names as the wording writes them (0 = Monday).
WEEKDAY_KEYS = ("common.weekday.mon", "common.weekday.tue", "common.weekday.wed", "common.weekday.thu",
                "common.weekday.fri", "common.weekday.sat", "common.weekday.sun")  # fmt: skip


def closed_hours(calendar: OfficeCalendar, now: datetime) -> Reply:
    """Outside office hours: when staff are back (next opening of ``calendar`` after ``now``, aware or
    naive UTC), and the hotline; without a next opening in sight, only the hotline and the hours."""
    s = settings().helpdesk
    back = calendar.next_opening(now)
    if back is None:
        return Reply(text("dialogue.handoff_closed_unknown", hotline=s.hotline, office_hours=s.office_hours))
    when = text("dialogue.handoff_when", time=f"{back:%H:%M}", weekday=text(WEEKDAY_KEYS[back.weekday()]),
                date=f"{back:%d/%m/%Y}")  # fmt: skip
    return Reply(text("dialogue.handoff_closed", when=when, hotline=s.hotline, office_hours=s.office_hours))


def handoff(now: datetime | None = None) -> Reply:
    """The hotline and office hours (where the conversation cannot be handed over in the chat); outside
    them, when staff are back. ``now`` (aware, or naive UTC) defaults to the current time; the office
    calendar is :func:`bot.helpdesk.hours.office_calendar` (weekly schedule, holidays, swapped days)."""
    s = settings().helpdesk
    calendar = office_calendar()
    now = now or utcnow()
    if calendar.is_open(now):
        return Reply(text("dialogue.handoff", hotline=s.hotline, office_hours=s.office_hours))
    return closed_hours(calendar, now)
