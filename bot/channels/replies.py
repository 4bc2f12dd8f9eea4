"""A channel-neutral reply (text, buttons, links) built from Rasa's bot message dicts.

Rasa hands every output channel dicts such as ``{"text": ..., "buttons": [...]}``,
``{"custom": {...}}`` or ``{"attachment": ...}``. Connectors turn them into a
:class:`Reply` and render it natively (inline keyboard, quick replies, numbered
list). Responses in domain.yml may add links through ``custom``::

    custom:
      text: "Dạ, anh/chị nộp hồ sơ trực tuyến tại đây:"
      links: [{title: "Cổng Dịch vụ công", url: "https://dichvucong.gov.vn"}]
      buttons: [{title: "Giấy tờ cần có", payload: "/ask_documents"}]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.text import split_message

TELEGRAM_TEXT_LIMIT = 4096
# Zalo OA v3 rejects text messages longer than 2000 characters.
ZALO_TEXT_LIMIT = 2000
WIDGET_TEXT_LIMIT = 1200


@dataclass(frozen=True)
class Button:
    """A choice the user can tap; ``payload`` goes back to Rasa as the user message."""

    title: str
    payload: str


@dataclass(frozen=True)
class Link:
    """A web address shown as a link button where the platform has them."""

    title: str
    url: str


@dataclass
class Reply:
    """One bot utterance, independent of the channel."""

    text: str = ""
    buttons: list[Button] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @classmethod
    def from_rasa(cls, message: Mapping[str, Any]) -> Reply:
        """Build a reply from a Rasa bot message dict (text, buttons, quick_replies, custom, attachment, image)."""
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
        return cls(text="\n\n".join(t for t in texts if t), buttons=buttons, links=_unique(links))

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to send."""
        return not (self.text.strip() or self.buttons or self.links)

    def parts(self, limit: int) -> list[str]:
        """The text cut into platform-sized messages (at least one part when there are buttons or links)."""
        parts = split_message(self.text, limit) if self.text.strip() else []
        return parts or ([""] if self.buttons or self.links else [])

    def as_plain_text(self, *, numbered_choices: bool = True) -> str:
        """The whole reply as text: buttons as a numbered list, links as ``title: url`` lines."""
        lines: list[str] = [self.text.strip()] if self.text.strip() else []
        if self.buttons and numbered_choices:
            choices = "\n".join(f"{i}. {b.title}" for i, b in enumerate(self.buttons, start=1))
            lines.append(f"{choices}\n(Anh/chị trả lời bằng số thứ tự, ví dụ: 1)")
        if self.links:
            lines.append("\n".join(f"🔗 {link.title}: {link.url}" for link in self.links))
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
        links.append(Link("Hình ảnh", image))
    attachment = data.get("attachment")
    if isinstance(attachment, str) and attachment:
        links.append(Link("Tệp đính kèm", attachment))
    elif isinstance(attachment, Mapping):
        payload = attachment.get("payload")
        src = payload.get("src") or payload.get("url") if isinstance(payload, Mapping) else None
        if src:
            links.append(Link(str(payload.get("title") or "Tệp đính kèm"), str(src)))


def _unique(links: Iterable[Link]) -> list[Link]:
    seen: set[str] = set()
    out: list[Link] = []
    for link in links:
        if link.url not in seen:
            seen.add(link.url)
            out.append(link)
    return out
