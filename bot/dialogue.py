"""Dialogue replies that are not about one procedure: fallback guesses and handoff (no Rasa imports)."""

from __future__ import annotations

from bot.replies import Button, Reply, human_button, payload
from bot.settings import settings
from bot.wording import text

# The button title offered for each intent the fallback may guess (literal wording keys).
INTENT_LABELS = {
    "ask_documents": "dialogue.intent.ask_documents",
    "ask_fee": "dialogue.intent.ask_fee",
    "ask_processing_time": "dialogue.intent.ask_processing_time",
    "ask_where": "dialogue.intent.ask_where",
    "ask_how_online": "dialogue.intent.ask_how_online",
    "ask_procedure_info": "dialogue.intent.ask_procedure_info",
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


def clarify(ranking: list[tuple[str, float]], entities: dict[str, str]) -> Reply:
    """First step of the fallback ladder: "Ý anh/chị là …?" with the top two guesses as buttons."""
    guesses = [name for name, _ in ranking if name in GUESSABLE][:2]
    if not guesses:
        return offer_human()
    buttons = [Button(text(INTENT_LABELS[g]), payload(g, **entities)) for g in guesses]
    buttons.append(Button(text("button.not_this_ask_human"), payload("request_human")))
    return Reply(text("dialogue.clarify"), tuple(buttons))


def offer_human() -> Reply:
    """Second failure in a row: stop guessing and offer a person."""
    return Reply(text("dialogue.offer_human"), (human_button(),))


def handoff() -> Reply:
    """Until the help-desk console exists: the hotline and office hours."""
    s = settings().helpdesk
    return Reply(text("dialogue.handoff", hotline=s.hotline, office_hours=s.office_hours))
