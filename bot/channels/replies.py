"""Rasa's bot messages as a :class:`~bot.replies.Reply`, and plain-text rendering for platforms without buttons.

Rasa hands every output channel dicts such as ``{"text": ..., "buttons": [...]}``,
``{"custom": {...}}`` or ``{"attachment": ...}``. Connectors turn them into a
:class:`~bot.replies.Reply` with :func:`from_rasa` and render it natively (inline
keyboard, quick replies, numbered list). Responses in domain.yml may add links through ``custom``::

    custom:
      text: "..."
      links: [{title: "Cổng Dịch vụ công", url: "https://dichvucong.gov.vn"}]
      buttons: [{title: "...", payload: "/ask_documents"}]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.replies import Button, Link, Reply
from bot.wording import text as wording

__all__ = ["TELEGRAM_TEXT_LIMIT", "ZALO_TEXT_LIMIT", "as_plain_text", "from_rasa"]

TELEGRAM_TEXT_LIMIT = 4096
# Zalo OA v3 rejects text messages longer than 2000 characters.
ZALO_TEXT_LIMIT = 2000


def from_rasa(message: Mapping[str, Any]) -> Reply:
    """A reply from a Rasa bot message dict (text, buttons, quick_replies, custom, attachment, image)."""
    texts: list[str] = []
    buttons: list[Button] = []
    links: list[Link] = []
    _collect(message, texts, buttons, links)
    custom = message.get("custom")
    if isinstance(custom, Mapping):
        _collect(custom, texts, buttons, links)
        # Rasa's socket.io channel emits custom["data"] as the event payload, so responses keep their
        # text/buttons/links there to work on the widget as well.
        if isinstance(custom.get("data"), Mapping):
            _collect(custom["data"], texts, buttons, links)
    return Reply(text="\n\n".join(t for t in texts if t), buttons=tuple(buttons), links=_unique(links))


def as_plain_text(reply: Reply, *, numbered_choices: bool = True) -> str:
    """The whole reply as text: buttons as a numbered list, links as ``title: url`` lines."""
    lines: list[str] = [reply.text.strip()] if reply.text.strip() else []
    if reply.buttons and numbered_choices:
        choices = "\n".join(f"{i}. {b.title}" for i, b in enumerate(reply.buttons, start=1))
        lines.append(f"{choices}\n{wording('channel.numbered_choices_hint')}")
    if reply.links:
        lines.append("\n".join(f"🔗 {link.title}: {link.url}" for link in reply.links))
    return "\n\n".join(lines)


def _collect(data: Mapping[str, Any], texts: list[str], buttons: list[Button], links: list[Link]) -> None:
    text = data.get("text")
    if isinstance(text, str) and text.strip():
        texts.append(text.strip())
    for raw in list(data.get("buttons") or []) + list(data.get("quick_replies") or []):
        if not isinstance(raw, Mapping):
            continue
        title = str(raw.get("title") or "").strip()
        url = raw.get("url")
        if url and title:
            # Rasa's web_url buttons carry a url instead of a payload.
            links.append(Link(title, str(url)))
        elif title:
            buttons.append(Button(title, str(raw.get("payload") or title)))
    for raw in data.get("links") or []:
        if isinstance(raw, Mapping) and raw.get("url"):
            links.append(Link(str(raw.get("title") or raw["url"]), str(raw["url"])))
    image = data.get("image")
    if isinstance(image, str) and image:
        links.append(Link(wording("channel.image_link"), image))
    attachment = data.get("attachment")
    if isinstance(attachment, str) and attachment:
        links.append(Link(wording("channel.attachment_link"), attachment))
    elif isinstance(attachment, Mapping):
        payload = attachment.get("payload")
        src = payload.get("src") or payload.get("url") if isinstance(payload, Mapping) else None
        if src:
            links.append(Link(str(payload.get("title") or wording("channel.attachment_link")), str(src)))


def _unique(links: Iterable[Link]) -> tuple[Link, ...]:
    seen: set[str] = set()
    out: list[Link] = []
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            out.append(link)
    return tuple(out)
