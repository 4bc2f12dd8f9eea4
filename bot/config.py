"""Settings read from environment variables, with safe on-premise defaults.

One place for every knob: other modules call :func:`settings` rather than
reading ``os.environ`` themselves.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Files our processes create (databases, logs, secrets) are readable by their owner only.
PRIVATE_UMASK = 0o077


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = _env(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_list(name: str, default: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in _env(name, default).split(",") if item.strip())


_secret_lock = threading.Lock()
_secret_cache: dict[Path, str] = {}


def local_secret(env_name: str, file_name: str, var_dir: Path | None = None, path: Path | None = None) -> str:
    """A server secret: ``env_name`` when set, else a random value generated once in ``var/secrets/``.

    Several processes on one machine read the same file; several machines (the
    production profile) must set the variable so that all replicas agree.
    ``path`` overrides the file's location.
    """
    value = os.environ.get(env_name, "")
    if value:
        return value
    path = path or (var_dir or Path(_env("BOT_VAR_DIR", str(PROJECT_ROOT / "var")))) / "secrets" / file_name
    with _secret_lock:
        if path in _secret_cache:
            return _secret_cache[path]
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # O_EXCL: two processes starting together must not write two different secrets.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(40):  # the creating process may not have written it yet
                value = path.read_text(encoding="ascii").strip()
                if value:
                    _secret_cache[path] = value
                    return value
                time.sleep(0.05)
            raise RuntimeError(f"{path} is empty; delete it or set {env_name}") from None
        value = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value + "\n")
        _secret_cache[path] = value
        return value


def harden_var_dir(var_dir: Path) -> None:
    """Make databases, logs and secrets already under ``var_dir`` private (0600 files, 0700 folders).

    New files are private through :data:`PRIVATE_UMASK`; this fixes files an older
    version created world-readable.
    """
    if not var_dir.is_dir():
        return
    var_dir.chmod(0o700)
    for path in var_dir.rglob("*"):
        try:
            path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError:  # a file removed meanwhile, or not ours
            continue


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with :func:`settings`."""

    database_url: str
    catalog_dir: Path
    var_dir: Path
    portal_base_url: str
    portal_procedure_url: str
    hotline: str
    office_hours: str
    bind_host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_port: int = 5055
    # Browser origins allowed to call the Rasa server (CORS) and open the widget's socket.
    cors_origins: tuple[str, ...] = ()
    # Client addresses whose X-Forwarded-For is believed: the reverse proxy in front of Rasa. None by
    # default, since without a proxy any local process could otherwise pick its own address.
    trusted_proxies: tuple[str, ...] = ()
    max_message_chars: int = 2000
    max_sender_id_chars: int = 128
    # Largest request body the Rasa server (channels and API) and the action server accept, in bytes.
    max_request_bytes: int = 1_000_000
    max_action_request_bytes: int = 16_000_000
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        """Where our own processes reach the Rasa server's HTTP API (``RASA_URL``)."""
        return _env("RASA_URL", f"http://{self.bind_host}:{self.rasa_port}").rstrip("/")

    @property
    def rasa_token(self) -> str:
        """The token of Rasa's HTTP API (``RASA_TOKEN``; generated in var/secrets when unset)."""
        return local_secret("RASA_TOKEN", "rasa_token", self.var_dir)

    @property
    def action_server_token(self) -> str:
        """Shared secret Rasa sends to the action server (``ACTION_SERVER_TOKEN``)."""
        return local_secret("ACTION_SERVER_TOKEN", "action_server_token", self.var_dir)

    @property
    def session_secret(self) -> str:
        """Signs web-widget session ids and hashes client addresses (``SESSION_SECRET``)."""
        return local_secret("SESSION_SECRET", "session_secret", self.var_dir)


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The browser origins of the bot's own pages (the widget at /widget/) on ``host:port``."""
    names = dict.fromkeys([host, "localhost", "127.0.0.1"])
    return tuple(f"http://{name}:{port}" for name in names)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Return the process-wide settings (cached; call ``settings.cache_clear()`` in tests)."""
    var_dir = Path(_env("BOT_VAR_DIR", str(PROJECT_ROOT / "var")))
    bind_host = _env("BIND_HOST", "127.0.0.1")
    rasa_port = _env_int("RASA_PORT", 5005)
    return Settings(
        database_url=_env("DATABASE_URL", f"sqlite:///{var_dir / 'bot.db'}"),
        catalog_dir=Path(_env("CATALOG_DIR", str(PROJECT_ROOT / "data" / "catalog"))),
        var_dir=var_dir,
        portal_base_url=_env("PORTAL_BASE_URL", "https://dichvucong.gov.vn"),
        # The public detail page of a procedure; {code} is the mã TTHC.
        portal_procedure_url=_env(
            "PORTAL_PROCEDURE_URL",
            "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc={code}",
        ),
        hotline=_env("HELPDESK_HOTLINE", "1900 xxxx (tổng đài của Trung tâm Phục vụ hành chính công)"),
        office_hours=_env("HELPDESK_HOURS", "7h30–11h30 và 13h30–17h00, thứ Hai đến thứ Sáu; sáng thứ Bảy"),
        bind_host=bind_host,
        rasa_port=rasa_port,
        action_port=_env_int("ACTION_PORT", 5055),
        cors_origins=_env_list("CORS_ORIGINS", ",".join(own_origins(bind_host, rasa_port))),
        trusted_proxies=_env_list("TRUSTED_PROXIES", ""),
        max_message_chars=_env_int("MAX_MESSAGE_CHARS", 2000),
        max_sender_id_chars=_env_int("MAX_SENDER_ID_CHARS", 128),
        max_request_bytes=_env_int("MAX_REQUEST_BYTES", 1_000_000, minimum=10_000),
        max_action_request_bytes=_env_int("MAX_ACTION_REQUEST_BYTES", 16_000_000, minimum=100_000),
    )
