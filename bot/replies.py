"""The one reply model: what the bot says in one utterance, independent of the channel (no Rasa imports).

Renderers (:mod:`bot.answers`, :mod:`bot.dialogue`, :mod:`bot.dossiers.render`) build a
:class:`Reply`; actions send it (:func:`actions.common.send`); channel connectors read Rasa's
bot messages back into a :class:`Reply` (:func:`bot.channels.replies.from_rasa`) and render it
natively (inline keyboard, quick replies, numbered list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.text import split_message
from bot.wording import text

__all__ = ["Button", "Link", "Reply", "human_button", "payload"]


@dataclass(frozen=True)
class Button:
    """A choice the user can tap: ``title`` is shown, ``payload`` goes back to Rasa as the user message."""

    title: str
    payload: str


@dataclass(frozen=True)
class Link:
    """A web address shown as a link button where the platform has them."""

    title: str
    url: str


@dataclass(frozen=True)
class Reply:
    """One bot utterance: text, then buttons and links (any iterable is stored as a tuple)."""

    text: str = ""
    buttons: tuple[Button, ...] = field(default=())
    links: tuple[Link, ...] = field(default=())

    def __post_init__(self) -> None:
        # Callers may pass lists; a frozen reply keeps tuples so it can be compared and hashed.
        object.__setattr__(self, "buttons", tuple(self.buttons))
        object.__setattr__(self, "links", tuple(self.links))

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to send."""
        return not (self.text.strip() or self.buttons or self.links)

    def parts(self, limit: int) -> list[str]:
        """The text cut into messages of at most ``limit`` characters (one empty part for a buttons-only reply)."""
        parts = split_message(self.text, limit) if self.text.strip() else []
        return parts or ([""] if self.buttons or self.links else [])


def payload(intent: str, **entities: str) -> str:
    """A Rasa-style payload ``/intent{"entity": "value"}`` for a button."""
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


def human_button(reason: str | None = None) -> Button:
    """The "Gặp cán bộ hỗ trợ" button (hand the conversation to a person), built in one place.

    ``reason`` (``fallback``, ``low_confidence``, ``dossier``) tells the help desk why the bot offered it;
    without one the citizen simply asked."""
    if reason:
        return Button(text("button.request_human"), payload("request_human", handoff_reason=reason))
    return Button(text("button.request_human"), payload("request_human"))

