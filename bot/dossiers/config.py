"""Dossier-tracking settings from environment variables (kept apart from ``bot.config`` to stay additive).

Variables: DOSSIER_SOURCE (sql|http), DOSSIER_PHONE_SALT, DOSSIER_WATCH_INTERVAL, DEMO_DATA,
ONEDOOR_* (connector, see :class:`bot.dossiers.connector.OneDoorConfig`), ONEDOOR_WEBHOOK_SECRET,
ONEDOOR_WEBHOOK_TOLERANCE, RASA_URL, RASA_TOKEN.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import settings

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
        rasa_url=_env("RASA_URL", "http://localhost:5005").rstrip("/"),
        rasa_token=_env("RASA_TOKEN"),
        notify_timeout=_env_float("RASA_NOTIFY_TIMEOUT", 5.0),
    )


_salt_lock = threading.Lock()
_salt_cache: dict[str, bytes] = {}


def phone_salt(var_dir: Path | None = None) -> bytes:
    """The server secret for hashing phone numbers and sender ids.

    ``DOSSIER_PHONE_SALT`` when set; otherwise a random secret generated once and kept in
    ``var/dossier_phone_salt`` (var/ is git-ignored: the secret must never be committed).
    """
    env = _env("DOSSIER_PHONE_SALT")
    if env:
        return env.encode("utf-8")
    path = (var_dir or settings().var_dir) / "dossier_phone_salt"
    key = str(path)
    with _salt_lock:
        if key in _salt_cache:
            return _salt_cache[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting together must not write two different secrets.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = ""
            for _ in range(40):  # the creating process may not have written it yet
                value = path.read_text(encoding="ascii").strip()
                if value:
                    break
                time.sleep(0.05)
        else:
            value = secrets.token_hex(32)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(value + "\n")
        if not value:
            raise RuntimeError(f"{path} is empty; delete it or set DOSSIER_PHONE_SALT")
        _salt_cache[key] = value.encode("ascii")
        return _salt_cache[key]
