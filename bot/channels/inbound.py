"""What every channel checks on the way in: bounded, clean text; conversation ids per channel; who is asking.

No Rasa imports: the channels (REST, socket.io, Telegram, Zalo) call these before
they hand a message to Rasa, so the NLU only ever sees bounded, well-formed text.

- :func:`clean_text` removes what no citizen types (lone surrogates, control
  characters), writes Unicode digits as ASCII, and reads as words anything starting
  with "/" that is not one of our buttons (``/EXTERNAL_…`` intents, which only the
  server may trigger, unknown intents and entities).
- :func:`too_long` says whether a message is over ``MAX_MESSAGE_CHARS`` (2,000 by
  default): the channel then answers :func:`too_long_reply` without calling Rasa.
- :func:`conversation_id` namespaces a platform's user id by channel
  (``"telegram_ptb:12345"``), so one channel can never write into another's
  conversation; :func:`platform_user_id` takes the prefix off again for sending.
- :func:`requester_key` is a keyed hash of who is asking (a client address, a
  verified platform user): the dossier lockout counts failures by it, and a
  client cannot choose it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import unicodedata
from functools import lru_cache

import yaml

from bot.settings import PROJECT_ROOT, settings
from bot.text import UNWANTED_CHARS as _UNWANTED
from bot.text import entity_text
from bot.wording import text as wording

__all__ = [
    "clean_text",
    "client_address",
    "conversation_id",
    "platform_user_id",
    "requester_key",
    "too_long",
    "too_long_reply",
    "valid_sender",
]

# A button payload: "/intent" with an optional JSON object of entities (Rasa's own format).
_PAYLOAD_RE = re.compile(r"/(?P<intent>[A-Za-z_][A-Za-z0-9_]{0,63})(?P<entities>\{.*\})?", re.DOTALL)


def too_long(text: str) -> bool:
    """True when ``text`` is over the configured maximum message length (``MAX_MESSAGE_CHARS``)."""
    return len(text) > settings().core.max_message_chars


def too_long_reply() -> str:
    """The polite answer to a message over the limit (the limit read from the settings)."""
    return wording("channel.too_long", limit=f"{settings().core.max_message_chars:,}".replace(",", "."))


@lru_cache(maxsize=1)
def _domain_names() -> tuple[frozenset[str], frozenset[str]]:
    """The intents a button may name (not the server-only ``EXTERNAL_`` ones) and the entities it may carry."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")) or {}
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents") or []}
    entities = {e if isinstance(e, str) else next(iter(e)) for e in domain.get("entities") or []}
    return frozenset(i for i in intents if not i.startswith("EXTERNAL_")), frozenset(entities)


def _is_button_payload(text: str) -> bool:
    """True for ``/intent`` or ``/intent{"entity": "value", ...}`` naming the domain's own intent and entities.

    Anything else that starts with "/" is read as words: Rasa would otherwise print the whole line
    (with whatever the citizen typed in it) in a warning, and act on entities it was never meant to get.
    """
    match = _PAYLOAD_RE.fullmatch(text)
    if match is None:
        return False
    intents, entities = _domain_names()
    if match["intent"] not in intents:
        return False
    if match["entities"] is None:
        return True
    try:
        values = json.loads(match["entities"])
    except (ValueError, RecursionError):
        return False
    return isinstance(values, dict) and all(
        key in entities and entity_text(value) is not None for key, value in values.items()
    )


class _DigitTable(dict[int, int]):
    """``str.translate`` table: full-width and other Unicode digits to ASCII, every other character unchanged."""

    def __missing__(self, codepoint: int) -> int:
        value = unicodedata.digit(chr(codepoint), None)
        return ord(str(value)) if value is not None else codepoint


_DIGITS = _DigitTable()


def clean_text(text: str) -> str:
    """The message as the NLU may see it.

    Drops lone surrogates and control characters, writes Unicode digits ("６７８９") as ASCII,
    strips surrounding space, and reads anything starting with "/" that is not one of our
    button payloads (:func:`_is_button_payload`) as words, the leading "/" removed: typed
    ``/EXTERNAL_…`` intents, unknown intents or entities, malformed or nested JSON.
    """
    text = _UNWANTED.sub("", text)
    if not text.isascii():
        text = text.translate(_DIGITS)
    text = text.strip()
    if text.startswith("/") and not _is_button_payload(text):
        text = text.lstrip("/ ").strip()
    return text


# Characters a client-chosen sender id may use: they need no escaping in a URL path, so the
# conversation can be named in Rasa's API (which does not unescape "%3A" and the like).
_SENDER_RE = re.compile(r"[A-Za-z0-9_.:@-]+")


def valid_sender(sender: object) -> bool:
    """A client-chosen sender id: 1..``MAX_SENDER_ID_CHARS`` characters of ``A-Z a-z 0-9 _ . : @ -``."""
    return (
        isinstance(sender, str)
        and 0 < len(sender) <= settings().core.max_sender_id_chars
        and _SENDER_RE.fullmatch(sender) is not None
    )


def conversation_id(channel: str, user_id: str | int) -> str:
    """The Rasa conversation (tracker) id of ``user_id`` on ``channel``: ``"<channel>:<user_id>"``."""
    return f"{channel}:{user_id}"


def platform_user_id(recipient_id: str | int, channel: str) -> str:
    """The platform's own id inside a conversation id of ``channel`` (the id itself if not prefixed)."""
    value = str(recipient_id)
    prefix = f"{channel}:"
    return value[len(prefix) :] if value.startswith(prefix) else value


def requester_key(kind: str, value: str) -> str:
    """A keyed, non-reversible key of who is asking (``kind`` "ip", "telegram_ptb", …): ``"rq:" + 32 hex``.

    The channel puts it in the message metadata as ``requester``; the dossier service hashes it
    again into its own stored pseudonym (:func:`bot.dossiers.source.requester_ref`).
    """
    key = settings().core.session_secret.reveal().encode()
    return "rq:" + hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def client_address(remote_addr: str, forwarded_for: str | None) -> str:
    """The client's address: ``remote_addr``, or the nearest untrusted hop of X-Forwarded-For.

    X-Forwarded-For is believed only when the request comes from a trusted proxy
    (``TRUSTED_PROXIES``); hops are read from the right, skipping trusted proxies, so a
    client cannot pick its own address by sending the header.
    """
    trusted = set(settings().core.trusted_proxies)
    if remote_addr not in trusted or not forwarded_for:
        return remote_addr
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return remote_addr  # a forged or garbled header: fall back to the proxy itself
        if hop not in trusted:
            return hop
    return remote_addr
