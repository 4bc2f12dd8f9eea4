"""Sealed originals: a message's text before masking, encrypted, for the console's "unmask with a reason".

Stores keep only masked text (:func:`bot.privacy.mask_text`). Where masking changed a message, the
tracker store adds the original, encrypted with ``SEAL_KEY`` (Fernet: AES-128-CBC with an HMAC,
from ``cryptography``), to the event's metadata; only the console opens it, for a supervisor or an
admin who gives a reason, and writes that to its audit log. The dossier flow's 4 digits are never
sealed: they unlock a dossier and are kept nowhere.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from bot.settings import settings

__all__ = ["SealError", "seal", "unseal"]


class SealError(ValueError):
    """A sealed text that cannot be opened: damaged, or sealed with another ``SEAL_KEY``."""


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    # Any secret text works as SEAL_KEY: it is stretched to Fernet's 32-byte key.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest()))


def seal(text: str) -> str:
    """``text`` encrypted with ``SEAL_KEY``, as URL-safe ASCII (about 4/3 of the UTF-8 length plus 100)."""
    return _fernet(settings().core.seal_key.reveal()).encrypt(text.encode("utf-8")).decode("ascii")


def unseal(token: str) -> str:
    """The text :func:`seal` sealed; :class:`SealError` when ``token`` is damaged or from another key."""
    try:
        return _fernet(settings().core.seal_key.reveal()).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as exc:
        raise SealError("the sealed text cannot be opened (damaged, or sealed with another SEAL_KEY)") from exc
