"""Every setting of the project, read from environment variables in this one module.

Each variable is declared once, as a field of a frozen section dataclass (core, catalogue,
help desk, dossiers, one-door connector, channels, runtime, production profile): the field's
metadata holds the variable's name, default, description and secret flag. :data:`VARIABLES` is built from those
fields and is the single source of the loader (:func:`load`), the ``python -m bot config show``
listing and the README's configuration table (``python -m bot config markdown``).

To add a variable, declare it once in its section class, e.g.
``max_wait: int = _var("HELPDESK_MAX_WAIT_MINUTES", "meaning", "10", minimum=0)``: the annotation
(``str``, ``int``, ``float``, ``bool``, ``Path``, ``tuple[str, ...]``, ``GeneratedSecret`` or
``X | None``) chooses how the value is read, and :class:`Variable` lists the options (``minimum``,
``choices``, ``doc_default``, ``derive``, ``secret``, ``generated``). Then run
``python -m bot config markdown --update`` for the README table.

Other modules call :func:`settings` (cached; ``settings.cache_clear()`` after changing the
environment, as tests do) and never read ``os.environ`` themselves. A malformed value raises
:class:`SettingsError` naming the variable; the entry points call :func:`validate` first so a
bad deployment stops at start with one clear line.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Files our processes create (databases, logs, secrets) are readable by their owner only.
PRIVATE_UMASK = 0o077

_TRUE = ("1", "true", "yes", "on", "co", "có")
_FALSE = ("0", "false", "no", "off", "khong", "không")


class SettingsError(ValueError):
    """A variable holds a value that cannot be used; the message names the variable and what was expected."""


# ---------------------------------------------------------------------------------------------
# Declaring variables


@dataclass(frozen=True)
class Variable:
    """One environment variable: where it lands (``section.field``), its default and its meaning.

    ``default`` is written as it would be in the environment ("" means unset); ``derive``
    computes a default from variables loaded before it (``doc_default`` then says how it
    reads in the docs). ``generated`` is the path, under ``BOT_VAR_DIR``, of the random
    secret created on first use when the variable is unset.
    """

    name: str
    description: str
    default: str = ""
    doc_default: str | None = None
    derive: Callable[[Mapping[str, Any]], str] | None = None
    secret: bool = False
    generated: str | None = None
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    section: str = ""
    attribute: str = ""
    kind: str = "str"


def _var(name: str, description: str, default: str = "", **options: Any) -> Any:
    """A section field read from ``name`` (see :class:`Variable` for ``options``)."""
    spec = Variable(name, description, default, **options)
    return field(repr=not spec.secret, metadata={"variable": spec})


@dataclass(frozen=True)
class GeneratedSecret:
    """A server secret: the variable's value when set, else a random value kept in a file under var/.

    :meth:`reveal` creates the file on first use; its ``repr`` never shows the value.
    """

    name: str
    value: str = field(repr=False)
    path: Path

    def reveal(self) -> str:
        """The secret itself (creates the file when the variable is unset and no file exists)."""
        return self.value or local_secret(self.name, self.path)


def own_origins(host: str, port: int) -> tuple[str, ...]:
    """The browser origins of the bot's own pages (the widget at /widget/) on ``host:port``."""
    names = dict.fromkeys([host, "localhost", "127.0.0.1"])
    return tuple(f"http://{name}:{port}" for name in names)


# ---------------------------------------------------------------------------------------------
# Sections. The order of the sections and of their fields is the order of loading (a derived
# default may use any variable above it) and of the documentation.


@dataclass(frozen=True)
class CoreSettings:
    """Where data lives, where the servers listen, and the input bounds."""

    var_dir: Path = _var(
        "BOT_VAR_DIR",
        "folder for databases, logs and generated secrets",
        str(PROJECT_ROOT / "var"),
        doc_default="`var/`",
    )
    database_url: str = _var(
        "DATABASE_URL",
        "catalogue and dossier database (e.g. `postgresql://user@host/db`)",
        derive=lambda v: f"sqlite:///{v['BOT_VAR_DIR'] / 'bot.db'}",
        doc_default="`sqlite:///var/bot.db`",
    )
    bind_host: str = _var("BIND_HOST", "address both servers listen on (loopback only by default)", "127.0.0.1")
    rasa_port: int = _var("RASA_PORT", "port of the Rasa server (channels, widget, HTTP API)", "5005", minimum=1)
    action_port: int = _var("ACTION_PORT", "port of the action server", "5055", minimum=1)
    cors_origins: tuple[str, ...] = _var(
        "CORS_ORIGINS",
        "browser origins allowed to call Rasa and open the widget's socket (comma-separated), "
        "e.g. `https://dichvucong.example.gov.vn`",
        derive=lambda v: ",".join(own_origins(v["BIND_HOST"], v["RASA_PORT"])),
        doc_default="the bot's own address",
    )
    # Without a proxy any local process could otherwise pick its own address: none by default.
    trusted_proxies: tuple[str, ...] = _var(
        "TRUSTED_PROXIES",
        "addresses whose `X-Forwarded-For` is believed: your reverse proxy "
        "(`127.0.0.1` when nginx runs on the same machine)",
    )
    max_message_chars: int = _var(
        "MAX_MESSAGE_CHARS", "longest message the NLU reads; a longer one gets a polite reply", "2000", minimum=1
    )
    max_sender_id_chars: int = _var(
        "MAX_SENDER_ID_CHARS", "longest conversation id a channel accepts", "128", minimum=1
    )
    max_request_bytes: int = _var(
        "MAX_REQUEST_BYTES", "largest request body the Rasa server accepts (bytes)", "1000000", minimum=10_000
    )
    max_action_request_bytes: int = _var(
        "MAX_ACTION_REQUEST_BYTES",
        "largest request body the action server accepts (bytes)",
        "16000000",
        minimum=100_000,
    )
    session_secret: GeneratedSecret = _var(
        "SESSION_SECRET",
        "signs web-widget sessions (a session is resumed only by the browser it was issued to) "
        "and hashes client addresses for the dossier lockout",
        secret=True,
        generated="secrets/session_secret",
    )
    seal_key: GeneratedSecret = _var(
        "SEAL_KEY",
        "encrypts the original of a message whose personal data was masked, so that a supervisor who gives "
        "a reason can read it in the console (losing it only makes those originals unreadable)",
        secret=True,
        generated="secrets/seal_key",
    )


@dataclass(frozen=True)
class CatalogSettings:
    """The procedure catalogue and the national portal it links to."""

    catalog_dir: Path = _var(
        "CATALOG_DIR",
        "the curated catalogue data",
        str(PROJECT_ROOT / "data" / "catalog"),
        doc_default="`data/catalog`",
    )
    portal_base_url: str = _var("PORTAL_BASE_URL", "the national public-service portal", "https://dichvucong.gov.vn")
    portal_procedure_url: str = _var(
        "PORTAL_PROCEDURE_URL",
        "the source link shown under every answer (`{code}` is replaced by the mã TTHC)",
        "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc={code}",
        doc_default="dichvucong.gov.vn detail page",
    )


@dataclass(frozen=True)
class HelpdeskSettings:
    """The help desk: hotline, office calendar, queue and call-backs."""

    hotline: str = _var(
        "HELPDESK_HOTLINE",
        "the phone number the bot gives when a citizen asks for a person",
        "1900 xxxx (tổng đài của Trung tâm Phục vụ hành chính công)",
        doc_default="a placeholder",
    )
    office_hours: str = _var(
        "HELPDESK_HOURS",
        "the office hours the bot gives with the hotline",
        "7h30–11h30 và 13h30–17h00, thứ Hai đến thứ Sáu; sáng thứ Bảy",
        doc_default="a placeholder",
    )
    schedule: str = _var(
        "HELPDESK_SCHEDULE",
        "when staff answer, Vietnam time: days and intervals, e.g. `mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30`"
        " (public holidays are closed on their own)",
        "mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30",
    )
    days_off: tuple[str, ...] = _var(
        "HELPDESK_DAYS_OFF",
        "extra days off of the year's swap schedule (comma-separated YYYY-MM-DD)",
    )
    working_days: tuple[str, ...] = _var(
        "HELPDESK_WORKING_DAYS",
        "make-up working days of the year's swap schedule, with Monday's hours (comma-separated YYYY-MM-DD)",
    )
    minutes_per_citizen: float = _var(
        "HELPDESK_MINUTES_PER_CITIZEN",
        "minutes the expected wait grows for each citizen ahead in the queue (the bot says it when queuing)",
        "5",
        minimum=0,
    )
    presence_seconds: float = _var(
        "HELPDESK_PRESENCE_SECONDS",
        "an agent counts as online this long after the console last heard from them (no one online: call-back)",
        "90",
        minimum=5,
    )
    callback_days: int = _var(
        "HELPDESK_CALLBACK_DAYS",
        "call-back requests stay in the console's list this many days",
        "30",
        minimum=1,
    )


@dataclass(frozen=True)
class DossierSettings:
    """Dossier tracking: where dossiers come from, the watcher, and the one-door status webhook."""

    source: str = _var(
        "DOSSIER_SOURCE",
        "`sql` (the bot's database) or `http` (a provincial one-door system, see docs/DOSSIER_CONNECTOR.md)",
        "sql",
        choices=("sql", "http"),
    )
    watch_interval: float = _var(
        "DOSSIER_WATCH_INTERVAL", "seconds between two polls of the followed dossiers", "300", minimum=0
    )
    demo_data: bool = _var("DEMO_DATA", "seed the demo dossiers (`0` to turn off)", "1")
    phone_salt: GeneratedSecret = _var(
        "DOSSIER_PHONE_SALT",
        "server secret for the phone and last-4-digit hashes and pseudonymous ids; changing it "
        "invalidates stored hashes",
        secret=True,
        generated="dossier_phone_salt",
    )
    webhook_secret: str = _var(
        "ONEDOOR_WEBHOOK_SECRET",
        "signs the one-door system's status webhook (`/webhooks/onedoor/status`); unset: the webhook is off",
        secret=True,
    )
    webhook_tolerance: float = _var(
        "ONEDOOR_WEBHOOK_TOLERANCE", "largest age of a signed webhook call (seconds)", "300", minimum=0
    )


@dataclass(frozen=True)
class OneDoorSettings:
    """The provincial one-door system's HTTP API (``DOSSIER_SOURCE=http``; read by the connector)."""

    base_url: str = _var("ONEDOOR_BASE_URL", "the API's base address, e.g. `https://motcua.example.gov.vn/api`")
    path: str = _var("ONEDOOR_PATH", "path template of one dossier (`{code}` is replaced)", "/dossiers/{code}")
    auth_header: str = _var(
        "ONEDOOR_AUTH_HEADER", "`Name: value` sent with every call, e.g. `Authorization: Bearer …`", secret=True
    )
    timeout: float = _var("ONEDOOR_TIMEOUT", "seconds to wait for one call", "3", minimum=0)
    retries: int = _var("ONEDOOR_RETRIES", "retries of a failed call", "1", minimum=0)
    backoff: float = _var("ONEDOOR_BACKOFF", "seconds before the first retry (doubling)", "0.3", minimum=0)
    breaker_threshold: int = _var(
        "ONEDOOR_BREAKER_THRESHOLD", "consecutive failures that open the circuit", "5", minimum=1
    )
    breaker_cooldown: float = _var(
        "ONEDOOR_BREAKER_COOLDOWN", "seconds before one trial call through an open circuit", "30", minimum=0
    )
    verify_tls: str = _var("ONEDOOR_VERIFY_TLS", "`1`, `0`, or the path of a CA bundle", "1")
    field_map: str = _var(
        "ONEDOOR_FIELD_MAP", "where each field sits in the answers: JSON, or the path of a JSON/YAML file"
    )


@dataclass(frozen=True)
class ChannelSettings:
    """The web widget's socket.io, Telegram and Zalo OA (a value in credentials.yml wins over the variable)."""

    socketio_message_queue: str = _var(
        "SOCKETIO_MESSAGE_QUEUE",
        "with several Rasa replicas: the Redis through which a replica's message reaches a widget connected "
        "to another one (e.g. `redis://:password@127.0.0.1:6379/0`); the production profile sets it",
        secret=True,  # the URL carries Redis's password
    )

    telegram_bot_token: str = _var("TELEGRAM_BOT_TOKEN", "the Telegram bot's token (from @BotFather)", secret=True)
    telegram_secret_token: str = _var(
        "TELEGRAM_SECRET_TOKEN", "the secret Telegram sends with every webhook call", secret=True
    )
    telegram_api_base_url: str = _var(
        "TELEGRAM_API_BASE_URL",
        "the Bot API (a local Bot API server, or a fake in tests)",
        "https://api.telegram.org/bot",
    )
    telegram_start_text: str = _var("TELEGRAM_START_TEXT", "what `/start` is read as", "xin chào")
    zalo_app_id: str = _var("ZALO_APP_ID", "the Zalo app's id")
    zalo_app_secret: str = _var("ZALO_APP_SECRET", "the Zalo app's secret key (OAuth)", secret=True)
    zalo_oa_secret_key: str = _var("ZALO_OA_SECRET_KEY", "the OA secret key (webhook signatures)", secret=True)
    zalo_access_token: str = _var(
        "ZALO_ACCESS_TOKEN", "the first access token (later ones live in the database)", secret=True
    )
    zalo_refresh_token: str = _var(
        "ZALO_REFRESH_TOKEN", "the first refresh token (later ones live in the database)", secret=True
    )
    zalo_api_base: str = _var("ZALO_API_BASE", "the OA API", "https://openapi.zalo.me")
    zalo_oauth_base: str = _var("ZALO_OAUTH_BASE", "Zalo's OAuth server", "https://oauth.zaloapp.com")
    zalo_message_window_hours: float = _var(
        "ZALO_MESSAGE_WINDOW_HOURS", "hours after a citizen's last message in which the OA may write", "168", minimum=0
    )
    zalo_free_window_hours: float = _var(
        "ZALO_FREE_WINDOW_HOURS",
        "hours after a citizen's last message in which the OA's messages are free; later ones are billed",
        "48",
        minimum=0,
    )
    zalo_paid_messages: bool = _var(
        "ZALO_PAID_MESSAGES",
        "also send between the free window and `ZALO_MESSAGE_WINDOW_HOURS`, billed to the OA's Zalo Cloud "
        "Account (set 1 only when the province funds it)",
        "0",
    )
    zalo_max_event_age: float = _var(
        "ZALO_MAX_EVENT_AGE",
        "oldest signed webhook event accepted (seconds): Zalo retries an undelivered event for about an hour "
        "with its first timestamp; a repeat is recognised by its event id, not its age",
        "7200",
        minimum=0,
    )
    zalo_follow_text: str = _var("ZALO_FOLLOW_TEXT", "what following the OA is read as", "xin chào")


    def zalo_window(self, idle: timedelta) -> str:
        """Whether the OA may message a citizen whose last message was ``idle`` ago: ``"free"`` (within
        ``ZALO_FREE_WINDOW_HOURS``), ``"paid"`` (then until ``ZALO_MESSAGE_WINDOW_HOURS``, billed: sent only
        when ``ZALO_PAID_MESSAGES``) or ``"closed"``. The one rule for the channel and the help desk."""
        if idle <= timedelta(hours=min(self.zalo_free_window_hours, self.zalo_message_window_hours)):
            return "free"
        if idle <= timedelta(hours=self.zalo_message_window_hours):
            return "paid"
        return "closed"


@dataclass(frozen=True)
class RuntimeSettings:
    """How our processes reach each other: Rasa's HTTP API, the action server, the model cache."""

    rasa_url: str = _var(
        "RASA_URL",
        "where our own processes reach Rasa's HTTP API",
        derive=lambda v: f"http://{v['BIND_HOST']}:{v['RASA_PORT']}",
        doc_default="`http://BIND_HOST:RASA_PORT`",
    )
    rasa_urls: tuple[str, ...] = _var(
        "RASA_URLS",
        "every Rasa server that must load a promoted model (comma-separated; the production profile sets its "
        "replicas)",
        derive=lambda v: v["RASA_URL"],
        doc_default="`RASA_URL`",
    )
    rasa_token: GeneratedSecret = _var(
        "RASA_TOKEN",
        "Rasa's HTTP API (`/conversations/…`, `/model/…`, `/status`): every call needs `?token=…`",
        secret=True,
        generated="secrets/rasa_token",
    )
    action_server_token: GeneratedSecret = _var(
        "ACTION_SERVER_TOKEN",
        "the action server: Rasa sends it as the `X-Action-Token` header; anything else gets 401",
        secret=True,
        generated="secrets/action_server_token",
    )
    notify_timeout: float = _var(
        "RASA_NOTIFY_TIMEOUT", "seconds the dossier notifier waits for Rasa's HTTP API", "5", minimum=0
    )
    action_timeout: float = _var(
        "ACTION_TIMEOUT",
        "seconds Rasa waits for a custom action before the citizen is told to try again (under the "
        "conversation lock's 60 s and the balancer's 120 s)",
        "20",
        minimum=1,
    )
    tracker_cache_size: int = _var(
        "TRACKER_CACHE_SIZE",
        "conversations whose tracker each Rasa process keeps between turns (0: none); each use is "
        "checked against the stored event count, so replicas stay right",
        "256",
        minimum=0,
    )
    model_cache_dir: Path = _var(
        "MODEL_CACHE_DIR",
        "trained models kept outside the work tree, so a fresh clone skips training",
        str(Path.home() / ".cache" / "tro-ly-dich-vu-cong" / "models"),
        doc_default="`~/.cache/tro-ly-dich-vu-cong/models`",
    )


@dataclass(frozen=True)
class ProductionSettings:
    """The production profile, ``endpoints.prod.yml``: PostgreSQL tracker, Redis locks, RabbitMQ events.

    Rasa reads these itself (``${VAR}`` in the endpoints file) and refuses to start while one is
    unset, so none has a default; they are declared here so that ``config show``, the README and
    the start-up check know them. ``make run`` (endpoints.yml, SQLite) uses none of them.
    """

    action_server_url: str = _var(
        "ACTION_SERVER_URL", "where Rasa calls the action server, e.g. `http://10.0.0.5:5055/webhook`"
    )
    tracker_db_host: str = _var("TRACKER_DB_HOST", "PostgreSQL server of the conversation tracker store")
    tracker_db_port: int | None = _var("TRACKER_DB_PORT", "port of `TRACKER_DB_HOST` (usually `5432`)", minimum=1)
    tracker_db_name: str = _var("TRACKER_DB_NAME", "the tracker store's database")
    tracker_db_user: str = _var("TRACKER_DB_USER", "the tracker store's database user")
    tracker_db_password: str = _var("TRACKER_DB_PASSWORD", "password of `TRACKER_DB_USER`", secret=True)
    redis_host: str = _var("REDIS_HOST", "Redis server of the lock store (one replica per conversation at a time)")
    redis_port: int | None = _var("REDIS_PORT", "port of `REDIS_HOST` (usually `6379`)", minimum=1)
    redis_db: int | None = _var("REDIS_DB", "the Redis database number for the locks", minimum=0)
    redis_password: str = _var(
        "REDIS_PASSWORD",
        "password of `REDIS_HOST` (its `requirepass`); set it empty for a Redis without one",
        secret=True,
    )
    rabbitmq_host: str = _var("RABBITMQ_HOST", "RabbitMQ server of the event broker (analytics, help-desk console)")
    rabbitmq_user: str = _var("RABBITMQ_USER", "the event broker's RabbitMQ user")
    rabbitmq_password: str = _var("RABBITMQ_PASSWORD", "password of `RABBITMQ_USER`", secret=True)
    rabbitmq_port: int | None = _var(
        "RABBITMQ_PORT",
        "port of `RABBITMQ_HOST` (usually `5672`); the production profile writes it into Rasa's endpoints as a number",
        minimum=1,
    )
    rabbitmq_queue: str = _var("RABBITMQ_QUEUE", "the RabbitMQ queue Rasa's events go to and the consumer reads")


@dataclass(frozen=True)
class ConsoleSettings:
    """The staff web console (``python -m bot console serve``; ``make run`` starts it)."""

    port: int = _var("CONSOLE_PORT", "port of the staff console (on `BIND_HOST`)", "5006", minimum=1)
    secret: GeneratedSecret = _var(
        "CONSOLE_SECRET",
        "signs the console's session cookies and CSRF tokens",
        secret=True,
        generated="secrets/console_secret",
    )
    session_hours: float = _var(
        "CONSOLE_SESSION_HOURS", "a console login lasts this long (hours)", "10", minimum=0.1
    )
    secure_cookie: bool = _var(
        "CONSOLE_SECURE_COOKIE",
        "send the session cookie over HTTPS only (set 1 behind the province's TLS proxy)",
        "0",
    )
    max_failed_logins: int = _var(
        "CONSOLE_MAX_FAILED_LOGINS", "failed logins in a row before an account is locked", "5", minimum=1
    )
    lockout_minutes: float = _var(
        "CONSOLE_LOCKOUT_MINUTES", "how long a locked account stays locked (minutes)", "15", minimum=1
    )



@dataclass(frozen=True)
class AnalyticsSettings:
    """Daily roll-ups for the dashboard (``bot.analytics``) and the Prometheus ``/metrics`` endpoints."""

    rollup_minutes: float = _var(
        "ANALYTICS_ROLLUP_MINUTES",
        "how often `make run`'s housekeeping process rolls up today's figures (minutes)",
        "10",
        minimum=1,
    )
    metrics_token: str = _var(
        "METRICS_TOKEN",
        "bearer token Prometheus must send to `/metrics` (unset: `/metrics` answers without one)",
        secret=True,
    )


@dataclass(frozen=True)
class PrivacySettings:
    """How long personal data is kept, and the daily purge (``python -m bot privacy purge``)."""

    transcript_days: int = _var(
        "RETENTION_TRANSCRIPT_DAYS",
        "a conversation is erased from every store this many days after its last message (at least 8: "
        "a week's analytics close first)",
        "90",
        minimum=8,
    )
    rollup_days: int = _var(
        "RETENTION_ROLLUP_DAYS", "anonymous daily roll-ups (the dashboard's figures) are kept this many days", "730",
        minimum=1,
    )
    audit_days: int = _var(
        "RETENTION_AUDIT_DAYS",
        "audit logs (console, dossier lookups, erasure requests) are kept this many days; "
        "set what the province's legal office requires",
        "1095",
        minimum=1,
    )
    purge_time: str = _var(
        "PRIVACY_PURGE_TIME", "time of day (Vietnam time, HH:MM) of `make run`'s daily purge", "02:30"
    )


@dataclass(frozen=True)
class TrainingSettings:
    """The trainer loop's background training runs (``python -m bot training …``, the console's training pages)."""

    models_dir: Path = _var(
        "TRAINING_MODELS_DIR",
        "where the trainer loop's models are written (the registry names each file)",
        derive=lambda v: str(v["BOT_VAR_DIR"] / "training" / "models"),
        doc_default="`var/training/models`",
    )
    epoch_fraction: float = _var(
        "TRAINING_EPOCH_FRACTION",
        "an incremental retrain (`--finetune`) runs this fraction of the configured epochs",
        "0.3",
        minimum=0.01,
    )
    load_timeout: float = _var(
        "TRAINING_LOAD_TIMEOUT",
        "seconds each Rasa server may take to load a promoted model (`PUT /model`)",
        "300",
        minimum=1,
    )


# A new section goes here (a dataclass above, a field
# of Settings below, an entry in SECTIONS): the loader, `config show` and the README follow.
SECTIONS: dict[str, type] = {
    "core": CoreSettings,
    "catalog": CatalogSettings,
    "helpdesk": HelpdeskSettings,
    "dossiers": DossierSettings,
    "onedoor": OneDoorSettings,
    "channels": ChannelSettings,
    "runtime": RuntimeSettings,
    "production": ProductionSettings,
    "console": ConsoleSettings,
    "analytics": AnalyticsSettings,
    "privacy": PrivacySettings,
    "training": TrainingSettings,
}


@dataclass(frozen=True)
class Settings:
    """Every setting, by section; build it with :func:`load` or (cached) :func:`settings`."""

    core: CoreSettings
    catalog: CatalogSettings
    helpdesk: HelpdeskSettings
    dossiers: DossierSettings
    onedoor: OneDoorSettings
    channels: ChannelSettings
    runtime: RuntimeSettings
    production: ProductionSettings
    console: ConsoleSettings
    analytics: AnalyticsSettings
    privacy: PrivacySettings
    training: TrainingSettings
    # Variable name -> "environment" or "default": where each value came from.
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Variable name -> its text as loaded (the default's text when unset). Holds secrets: never print it.
    texts: Mapping[str, str] = field(default_factory=dict, repr=False)

    def is_set(self, name: str) -> bool:
        """Whether variable ``name`` was set (non-empty) in the environment."""
        return self.sources.get(name) == "environment"

    def raw(self) -> dict[str, str]:
        """The variables set in the environment, by name (for ``${VAR}`` references, e.g. credentials.yml)."""
        return {v.name: self.texts[v.name] for v in VARIABLES if self.is_set(v.name)}


def _registry() -> tuple[Variable, ...]:
    out = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            spec: Variable = f.metadata["variable"]
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            out.append(Variable(**{**spec.__dict__, "section": section, "attribute": f.name, "kind": kind}))
    names = [v.name for v in out]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:  # a programming error: one variable, one place
        raise TypeError(f"declared twice: {sorted(duplicates)}")
    return tuple(out)


# Every variable, in loading order.
VARIABLES: tuple[Variable, ...] = _registry()


def variable(name: str) -> Variable:
    """The declaration of variable ``name``; KeyError when it is not one of ours."""
    for v in VARIABLES:
        if v.name == name:
            return v
    raise KeyError(name)


def default(name: str) -> str:
    """The literal default of variable ``name`` (for modules that need it as a constant)."""
    return variable(name).default


# ---------------------------------------------------------------------------------------------
# Loading


def _parse(var: Variable, raw: str, var_dir: Path | None) -> Any:
    """Turn the text of ``var`` into its section's type; SettingsError naming the variable when it cannot."""
    kind = var.kind
    if kind.endswith(" | None"):  # optional: unset is None, a set value is checked as the type before "|"
        if not raw:
            return None
        kind = kind.removesuffix(" | None")
    if kind == "str":
        value: Any = raw
        if var.choices:
            value = raw.lower()
            if value not in var.choices:
                raise SettingsError(f"{var.name} must be one of {', '.join(var.choices)}; got {raw!r}")
        return value
    if kind == "int":
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{var.name} must be a whole number, got {raw!r}") from None
    elif kind == "float":
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{var.name} must be a number, got {raw!r}") from None
    elif kind == "bool":
        word = raw.strip().lower()
        if word not in _TRUE + _FALSE:
            raise SettingsError(f"{var.name} must be 1 or 0 (yes/no, true/false), got {raw!r}")
        return word in _TRUE
    elif kind == "Path":
        return Path(raw)
    elif kind == "tuple[str, ...]":
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    elif kind == "GeneratedSecret":
        assert var.generated and var_dir is not None
        return GeneratedSecret(var.name, raw, var_dir / var.generated)
    else:  # a section field of a type this loader does not know: a programming error
        raise TypeError(f"{var.section}.{var.attribute}: unsupported type {kind}")
    if var.minimum is not None and value < var.minimum:
        raise SettingsError(f"{var.name} must be at least {var.minimum:g}, got {value:g}")
    return value


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every variable from ``environ`` (default: the process environment), not cached.

    An empty value counts as unset. SettingsError names the first variable that is wrong.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    raw_values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for var in VARIABLES:
        raw = environ.get(var.name) or ""
        sources[var.name] = "environment" if raw else "default"
        if not raw:
            raw = var.derive(values) if var.derive else var.default
        raw_values[var.name] = raw
        values[var.name] = _parse(var, raw, values.get("BOT_VAR_DIR"))
    sections = {
        name: cls(**{v.attribute: values[v.name] for v in VARIABLES if v.section == name})
        for name, cls in SECTIONS.items()
    }
    return Settings(**sections, sources=sources, texts=raw_values)


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings (cached; call ``settings.cache_clear()`` after changing the environment)."""
    return load()


def child_environment() -> dict[str, str]:
    """A copy of this process's environment for a child process (the caller adds or overrides variables)."""
    return dict(os.environ)


@contextmanager
def overridden(**values: str) -> Iterator[Settings]:
    """Run with some variables set in this process (e.g. ``DATABASE_URL`` of a scratch database).

    Yields the settings as they read then; restores the variables and clears the cache on exit.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    settings.cache_clear()
    try:
        yield settings()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        settings.cache_clear()


def validate(cfg: Settings | None = None) -> Settings:
    """Load the settings (``cfg`` if given) and check the combinations; SettingsError on the first problem.

    Entry points (``make run``, the action server, ``python -m bot …``) call this first.
    """
    cfg = cfg or settings()
    if cfg.dossiers.source == "http" and not cfg.onedoor.base_url:
        raise SettingsError("DOSSIER_SOURCE=http needs ONEDOOR_BASE_URL")
    if cfg.privacy.rollup_days < cfg.privacy.transcript_days:
        # The purge would delete roll-ups that the next roll-up remakes from the transcripts still kept.
        raise SettingsError("RETENTION_ROLLUP_DAYS must be at least RETENTION_TRANSCRIPT_DAYS")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", cfg.privacy.purge_time):
        raise SettingsError(f"PRIVACY_PURGE_TIME must be HH:MM (00:00-23:59), not {cfg.privacy.purge_time!r}")
    return cfg


def validate_or_exit() -> Settings:
    """:func:`validate` for a process's ``main``: a wrong setting prints one line and exits with code 2."""
    try:
        return validate()
    except SettingsError as exc:
        _exit(exc)


def _exit(exc: SettingsError) -> NoReturn:
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2)


# ---------------------------------------------------------------------------------------------
# Secrets and the var/ folder

_secret_lock = threading.Lock()
_secret_cache: dict[Path, str] = {}


def local_secret(name: str, path: Path) -> str:
    """The random secret kept in ``path``, generated there once (0600) when the file does not exist.

    Several processes on one machine read the same file; several machines (the production
    profile) must set variable ``name`` instead so that all replicas agree.
    """
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
            raise RuntimeError(f"{path} is empty; delete it or set {name}") from None
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


# ---------------------------------------------------------------------------------------------
# Showing the settings (`python -m bot config show`) and documenting them (`config markdown`)

_URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)[^@/\s]+@")


def _mask(value: str) -> str:
    return f"•••• (set, {len(value)} chars)"


def _display(var: Variable, cfg: Settings) -> tuple[str, str]:
    """(value as shown, where it came from) for one variable; secrets never appear."""
    raw = cfg.texts[var.name]
    source = cfg.sources[var.name]
    if var.generated:
        path = cfg.core.var_dir / var.generated
        if source == "environment":
            return _mask(raw), source
        if path.is_file():
            return "•••• (set)", f"file {path}"
        return "(generated on first use)", f"generated into {path}"
    if var.secret:
        return (_mask(raw) if raw else "(unset)"), source
    # A database or API address may carry a password: show the rest of it only.
    shown = _URL_PASSWORD.sub(r"\1••••@", raw) if raw else "(unset)"
    return shown, source


def describe(cfg: Settings | None = None) -> Iterator[tuple[Variable, str, str]]:
    """Every variable with its value as shown (secrets masked) and its source, in declaration order."""
    cfg = cfg or settings()
    for var in VARIABLES:
        shown, source = _display(var, cfg)
        yield var, shown, source


def show(cfg: Settings | None = None) -> str:
    """The text of ``python -m bot config show``: one line per variable, grouped by section."""
    rows = list(describe(cfg))
    width = max(len(v.name) for v, _, _ in rows)
    lines: list[str] = []
    section = ""
    for var, shown, source in rows:
        if var.section != section:
            section = var.section
            lines.append(f"{'' if not lines else chr(10)}[{section}]")
        lines.append(f"  {var.name:<{width}}  {shown}  ({source})")
    return "\n".join(lines)


MARKDOWN_BEGIN = "<!-- settings table: generated by `python -m bot config markdown`; do not edit by hand -->"
MARKDOWN_END = "<!-- end of settings table -->"


def markdown() -> str:
    """The README's configuration table (between :data:`MARKDOWN_BEGIN` and :data:`MARKDOWN_END`)."""
    lines = ["| variable | section | default | meaning |", "| --- | --- | --- | --- |"]
    for var in VARIABLES:
        if var.doc_default is not None:
            shown = var.doc_default
        elif var.generated:
            shown = f"generated into `var/{var.generated}`"
        elif var.default:
            shown = f"`{var.default}`"
        else:
            shown = "unset"
        meaning = var.description + (" **(secret)**" if var.secret else "")
        lines.append(f"| `{var.name}` | {var.section} | {shown} | {meaning} |")
    return "\n".join([MARKDOWN_BEGIN, *lines, MARKDOWN_END])


def readme_block(text: str) -> str:
    """The generated block inside ``text`` (the README), markers included; SettingsError when absent."""
    start, end = text.find(MARKDOWN_BEGIN), text.find(MARKDOWN_END)
    if start < 0 or end < start:
        raise SettingsError("README.md has no settings table markers")
    return text[start : end + len(MARKDOWN_END)]


def update_readme(path: Path = PROJECT_ROOT / "README.md") -> bool:
    """Replace the settings table in ``path`` with :func:`markdown`; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    new = text.replace(readme_block(text), markdown())
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True
