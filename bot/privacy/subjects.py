"""Who a personal-data request is about (:class:`Subject`), and the keyed hashes that name people without naming them.

A subject is one of:

- ``sender``: a Rasa conversation id as the channels make it, ``"<channel>:<platform user id>"``
  (``telegram_ptb:123456``, ``zalo:8400…``, ``socketio:…``, ``rest:…``; see
  ``bot.channels.inbound.conversation_id``). Taken as given, never expanded: a bare ``123456`` is not
  looked up as ``telegram_ptb:123456`` *and* ``zalo:123456``, because the same number on two platforms
  is two different people. Ask the citizen which channel they used.
- ``phone``: a Vietnamese number, normalised to its national digits (``+84 912 345 678`` ->
  ``0912345678``); 10 or 11 digits starting with 0.
- ``dossier``: a dossier code in the national format, normalised as ``bot.dossiers.codes`` does
  (``000.00.12.H61-240831-0001``; spaces, case, missing dots or hyphens tolerated).

``bot.privacy`` is a foundation package and may not import the dossier service: the two helpers that
must agree with it (:func:`normalise_dossier_code` and :func:`sender_ref`) are re-stated here, and
``tests/privacy`` pins them to ``bot.dossiers.codes`` and ``bot.dossiers.source``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from bot.privacy.masking import mask_phone
from bot.settings import settings

__all__ = [
    "KINDS",
    "KNOWN_CHANNELS",
    "Subject",
    "SubjectKind",
    "channel_of",
    "normalise_dossier_code",
    "normalise_phone",
    "sender_key",
    "sender_ref",
]

SubjectKind = Literal["sender", "phone", "dossier"]
KINDS: tuple[str, ...] = ("sender", "phone", "dossier")
#: The channel prefixes of conversation ids (bot.channels: rest, socketio, telegram, zalo).
KNOWN_CHANNELS: tuple[str, ...] = ("rest", "socketio", "telegram_ptb", "zalo")
_MAX_SENDER = 255  # events.sender_id is a String(255)

_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "_": "-"})
_CODE = re.compile(r"(\d{3})\.?(\d{2})\.?(\d{2})\.?([A-Z]\d{2})-?(\d{2})(\d{2})(\d{2})-?(\d{4})")
_SEP = r"[\s.\-()]*"  # what people put between the digits of a phone number


def normalise_phone(value: str) -> str:
    """National digits of a Vietnamese phone number: ``+84``/``84``/``0084`` -> ``0``; ValueError if not one."""
    text = unicodedata.normalize("NFKC", str(value))
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    if digits.startswith("00"):
        digits = digits[1:]
    if not digits:
        raise ValueError("a phone number needs digits, e.g. 0912345678 or +84 912 345 678")
    if not digits.startswith("0") or len(digits) not in (10, 11):
        raise ValueError(
            f"not a Vietnamese phone number ({len(digits)} digits): give 10 or 11 digits starting with 0, "
            "or the +84 form"
        )
    return digits


def normalise_dossier_code(value: str) -> str:
    """The canonical dossier code (``bot.dossiers.codes.normalise_dossier_code``); ValueError when malformed."""
    cleaned = "".join(unicodedata.normalize("NFKC", str(value)).translate(_DASHES).split()).upper()
    match = _CODE.fullmatch(cleaned)
    if match is None:
        raise ValueError(f"not a dossier code in the national format V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX: {value!r}")
    v, z, y, m, yy, mm, dd, seq = match.groups()
    try:
        date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        raise ValueError(f"not a dossier code: impossible filing date {yy}{mm}{dd} in {value!r}") from None
    return f"{v}.{z}.{y}.{m}-{yy}{mm}{dd}-{seq}"


def channel_of(sender_id: str) -> str:
    """The channel of a conversation id: its prefix (``"zalo:123"`` -> ``"zalo"``), else ``"rest"``."""
    prefix, sep, _ = sender_id.partition(":")
    return prefix if sep and prefix else "rest"


def sender_ref(channel: str, sender_id: str) -> str:
    """``bot.dossiers.source.sender_ref``: the dossier store's pseudonymous reference of a conversation."""
    key = settings().dossiers.phone_salt.reveal().encode()
    return hmac.new(key, f"sender:{channel}:{sender_id}".encode(), hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=4)
def _erasure_key(secret: str) -> bytes:
    # Derived from SEAL_KEY under a label of its own: one secret less to share between processes.
    return hashlib.sha256(b"privacy-erasure:" + secret.encode("utf-8")).digest()


def sender_key(sender_id: str) -> str:
    """Keyed hash (HMAC-SHA256 hex) of a sender id: the tombstone's and the request audit's name for it."""
    key = _erasure_key(settings().core.seal_key.reveal())
    return hmac.new(key, sender_id.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Subject:
    """Whom a request is about; validated and normalised on creation.

    Raises ValueError with the reason for an unknown ``kind``, an empty or overlong sender id, a number
    that is not a Vietnamese phone number, or a malformed dossier code.
    """

    kind: SubjectKind
    value: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown subject kind {self.kind!r}: one of {', '.join(KINDS)}")
        if not isinstance(self.value, str) or not self.value.strip():
            raise ValueError(f"empty {self.kind}: give a value")
        value = self.value.strip()
        if self.kind == "sender":
            if len(value) > _MAX_SENDER:
                raise ValueError(f"a sender id has at most {_MAX_SENDER} characters")
            if any(unicodedata.category(ch) == "Cc" for ch in value):
                raise ValueError("a sender id has no control characters")
        elif self.kind == "phone":
            value = normalise_phone(value)
        else:
            value = normalise_dossier_code(value)
        object.__setattr__(self, "value", value)

    @property
    def label(self) -> str:
        """How the request audit names the subject: never the clear phone number nor the sender id."""
        if self.kind == "sender":
            return f"sender #{sender_key(self.value)[:16]}"
        if self.kind == "phone":
            return f"{mask_phone(self.value)} #{sender_key('phone:' + self.value)[:16]}"
        return self.value  # the one-door system's code: it names a dossier, not a person

    def matcher(self) -> re.Pattern[str] | None:
        """A pattern finding the phone number or the dossier code in free text (NFKC), however typed."""
        if self.kind == "phone":
            national = self.value[1:]
            body = _SEP.join(re.escape(ch) for ch in national)
            return re.compile(rf"(?<!\d)(?:0|\+?{_SEP}84{_SEP}(?:\(0\){_SEP})?|0084{_SEP}){_SEP}{body}(?!\d)")
        if self.kind == "dossier":
            parts = re.fullmatch(r"(\d{3})\.(\d{2})\.(\d{2})\.([A-Z])(\d{2})-(\d{6})-(\d{4})", self.value)
            assert parts is not None  # normalised in __post_init__
            v, z, y, letter, m, ymd, seq = parts.groups()
            dot, dash = r"\s*(?:\.\s*)?", r"\s*(?:-\s*)?"
            return re.compile(
                rf"(?<![\w.]){v}{dot}{z}{dot}{y}{dot}{letter}\s*{m}{dash}{ymd}{dash}{seq}(?!\w)", re.IGNORECASE
            )
        return None

    def found_in(self, text: str | None) -> bool:
        """True when ``text`` holds this phone number or dossier code (False for a sender subject)."""
        pattern = self.matcher()
        if pattern is None or not text:
            return False
        return pattern.search(unicodedata.normalize("NFKC", text).translate(_DASHES)) is not None
