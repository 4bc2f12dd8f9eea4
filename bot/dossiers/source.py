"""The one interface every dossier source implements, and the record it returns."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from bot.settings import settings

__all__ = [
    "DossierRecord",
    "DossierSource",
    "DossierSourceUnavailable",
    "hash_last4",
    "hash_phone",
    "last4_matches",
    "normalise_phone",
    "phone_last4",
    "requester_ref",
    "sender_ref",
]


class DossierSourceUnavailable(RuntimeError):
    """The source cannot answer now (timeout, HTTP 5xx, garbage, circuit open). Never shown to the user."""


@dataclass(frozen=True)
class DossierRecord:
    """A dossier as a source knows it. Personal fields are kept out of ``repr`` so they never reach a log.

    The second factor is ``last4_hash`` (:func:`hash_last4` of the registered phone's last 4 digits):
    the SQL store keeps only that hash. ``phone_last4`` (the digits in clear) is set only by a source
    that receives them at run time, such as the one-door connector, and lives in memory only.
    """

    code: str
    procedure_code: str
    procedure_name: str
    status: int
    receiving_unit: str = ""
    received_date: date | None = None
    promised_date: date | None = None
    phone_last4: str | None = field(default=None, repr=False)
    phone_hash: str | None = field(default=None, repr=False)
    last4_hash: str | None = field(default=None, repr=False)
    applicant_name: str | None = field(default=None, repr=False)
    applicant_address: str | None = field(default=None, repr=False)
    applicant_id: str | None = field(default=None, repr=False)
    is_demo: bool = False
    updated_at: datetime | None = None


@runtime_checkable
class DossierSource(Protocol):
    """Where dossiers come from: the embedded SQL store or a provincial one-door system."""

    def fetch(self, code: str) -> DossierRecord | None:
        """The dossier with this normalised code, None when unknown; raises DossierSourceUnavailable."""
        ...


def normalise_phone(phone: str) -> str:
    """National form of a Vietnamese phone number: digits only, ``+84``/``84``/``0084`` -> ``0``."""
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits


def phone_last4(phone: str) -> str | None:
    """The last 4 digits of a phone number, or None when it has fewer."""
    digits = normalise_phone(phone)
    return digits[-4:] if len(digits) >= 4 else None


def _keyed_hex(message: bytes, salt: bytes | None) -> str:
    """HMAC-SHA256 (hex) of ``message`` under ``salt``, or the server secret (``DOSSIER_PHONE_SALT``)."""
    key = salt if salt is not None else settings().dossiers.phone_salt.reveal().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hash_phone(phone: str, salt: bytes | None = None) -> str:
    """HMAC-SHA256 of the normalised phone number with the server secret (hex)."""
    return _keyed_hex(normalise_phone(phone).encode("ascii"), salt)


def hash_last4(digits: str, salt: bytes | None = None) -> str:
    """HMAC-SHA256 (hex) of the 4 verification digits with the server secret; what the store keeps.

    A distinct prefix keeps it from ever equalling :func:`hash_phone` of the same digits.
    """
    return _keyed_hex(f"last4:{digits}".encode("ascii"), salt)


def last4_matches(record: DossierRecord, digits: str, salt: bytes | None = None) -> bool:
    """Whether ``digits`` (4 digits) are the record's second factor, compared in constant time on HMACs."""
    if len(digits) != 4 or not digits.isdigit():
        return False
    if record.phone_last4 and len(record.phone_last4) == 4:
        # A source holding the digits in memory (the connector): hash them with the caller's salt.
        expected: str | None = hash_last4(record.phone_last4, salt)
    else:
        expected = record.last4_hash  # the SQL store keeps only this
    if not expected:
        return False
    return hmac.compare_digest(expected.encode("ascii"), hash_last4(digits, salt).encode("ascii"))


def sender_ref(channel: str, sender_id: str, salt: bytes | None = None) -> str:
    """A pseudonymous, stable reference to a conversation partner (its verified lookups, the audit log)."""
    return _keyed_hex(f"sender:{channel}:{sender_id}".encode(), salt)[:32]


def requester_ref(requester: str, salt: bytes | None = None) -> str:
    """A pseudonymous reference to the party asking (a server-chosen key, see ``DossierLookup.status``).

    Hashed under a prefix of its own, so a requester key never equals a :func:`sender_ref`. The channel
    is deliberately not part of it: one client address using both the REST API and the web widget has
    one budget. The key must therefore be namespaced by its kind already (``bot.channels.inbound``'s
    ``rq:`` keys hash ``"ip:…"``, ``"telegram_ptb:…"``, …).
    """
    return _keyed_hex(f"requester:{requester}".encode(), salt)[:32]
