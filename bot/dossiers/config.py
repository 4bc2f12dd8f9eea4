"""Dossier-tracking settings from environment variables (kept apart from ``bot.config`` to stay additive).

Variables: DOSSIER_SOURCE (sql|http), DOSSIER_PHONE_SALT, DOSSIER_WATCH_INTERVAL, DEMO_DATA,
ONEDOOR_* (connector, see :class:`bot.dossiers.connector.OneDoorConfig`), ONEDOOR_WEBHOOK_SECRET,
ONEDOOR_WEBHOOK_TOLERANCE; RASA_URL and RASA_TOKEN come from :mod:`bot.config`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot.config import local_secret, settings

__all__ = ["DossierSettings", "dossier_settings", "phone_salt"]


def _env(name: str, default: str = "") -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    return raw not in ("0", "false", "no", "off", "khong", "không")


@dataclass(frozen=True)
class DossierSettings:
    """Settings of the dossier service, watcher and notifier."""

    source: str
    watch_interval: float
    demo_data: bool
    webhook_secret: str
    webhook_tolerance: float
    rasa_url: str
    rasa_token: str
    notify_timeout: float


def dossier_settings() -> DossierSettings:
    """Read the dossier settings from the environment (not cached: cheap, and tests change env)."""
    source = _env("DOSSIER_SOURCE", "sql").lower()
    if source not in ("sql", "http"):
        raise ValueError(f"DOSSIER_SOURCE must be 'sql' or 'http', got {source!r}")
    return DossierSettings(
        source=source,
        watch_interval=_env_float("DOSSIER_WATCH_INTERVAL", 300.0),
        demo_data=_env_bool("DEMO_DATA", True),
        webhook_secret=_env("ONEDOOR_WEBHOOK_SECRET"),
        webhook_tolerance=_env_float("ONEDOOR_WEBHOOK_TOLERANCE", 300.0),
        rasa_url=settings().rasa_url,
        rasa_token=settings().rasa_token,
        notify_timeout=_env_float("RASA_NOTIFY_TIMEOUT", 5.0),
    )


def phone_salt(var_dir: Path | None = None) -> bytes:
    """The server secret for hashing phone numbers and sender ids.

    ``DOSSIER_PHONE_SALT`` when set; otherwise a random secret generated once and kept in
    ``var/dossier_phone_salt`` (var/ is git-ignored: the secret must never be committed).
    """
    folder = var_dir or settings().var_dir
    return local_secret("DOSSIER_PHONE_SALT", "dossier_phone_salt", path=folder / "dossier_phone_salt").encode()
