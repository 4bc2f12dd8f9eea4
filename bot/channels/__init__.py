"""Messaging channels: Telegram, Zalo OA and the self-hosted web widget (Rasa input/output channels).

Every channel is listed in ``credentials.yml``; secrets come from environment
variables (the ``channels`` section of :mod:`bot.settings`), so a channel whose
secrets are unset is simply disabled instead of stopping Rasa at start-up (Rasa's
own ``${VAR}`` expansion raises on an unset variable).
"""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

T = TypeVar("T")


def setting(credentials: dict[str, Any] | None, key: str, default: T) -> str | T:
    """A channel option: the value in credentials.yml if set, else ``default`` (the channel's settings value)."""
    value = (credentials or {}).get(key)
    return str(value) if value not in (None, "") else default


def mask_user(user_id: str | int | None) -> str:
    """A stable, non-reversible tag for a chat/user id, for logs (never log raw ids)."""
    if user_id in (None, ""):
        return "-"
    digest = hashlib.sha256(str(user_id).encode()).hexdigest()[:8]
    return f"u:{digest}"
