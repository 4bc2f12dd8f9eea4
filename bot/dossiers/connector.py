"""HTTP source: a provincial one-door system (hệ thống một cửa điện tử), configured without code.

Configuration (environment variables, read by the ``onedoor`` section of :mod:`bot.settings`):

- ``ONEDOOR_BASE_URL``: e.g. ``https://motcua.example.gov.vn/api``
- ``ONEDOOR_PATH``: path template with ``{code}``; default ``/dossiers/{code}``
- ``ONEDOOR_AUTH_HEADER``: ``Name: value``, e.g. ``Authorization: Bearer abc`` (optional)
- ``ONEDOOR_TIMEOUT`` (seconds, default 3), ``ONEDOOR_RETRIES`` (default 1), ``ONEDOOR_BACKOFF`` (default 0.3 s)
- ``ONEDOOR_BREAKER_THRESHOLD`` (consecutive failures that open the circuit, default 5),
  ``ONEDOOR_BREAKER_COOLDOWN`` (seconds before one trial request, default 30)
- ``ONEDOOR_VERIFY_TLS``: 1 (default), 0, or a CA bundle path
- ``ONEDOOR_FIELD_MAP``: JSON, or the path of a JSON/YAML file, see :class:`FieldMap` and
  docs/DOSSIER_CONNECTOR.md.

Any failure surfaces as :class:`DossierSourceUnavailable`; the response body is never logged
(it holds personal data).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

from bot.db.clock import VN_TZ
from bot.dossiers.codes import InvalidDossierCode, normalise_dossier_code
from bot.dossiers.source import DossierRecord, DossierSourceUnavailable, hash_last4, hash_phone, phone_last4
from bot.dossiers.status import parse_status
from bot.settings import OneDoorSettings, SettingsError, settings

__all__ = ["CircuitBreaker", "FieldMap", "HttpDossierSource", "OneDoorConfig"]

logger = logging.getLogger(__name__)

FIELDS = (
    "code",
    "procedure_code",
    "procedure_name",
    "status",
    "receiving_unit",
    "received_date",
    "promised_date",
    "phone",
    "phone_last4",
    "applicant_name",
    "applicant_address",
    "applicant_id",
)


@dataclass(frozen=True)
class FieldMap:
    """Where each field sits in the one-door system's JSON, and how its status values translate.

    ``fields`` maps our field names (see ``FIELDS``) to a path such as ``data.hoSo.maHoSo`` or
    ``result.items[0].trangThai``; ``status_map`` maps the system's status values (as strings)
    to 1..10; values not in it are read as a number or a portal label. ``date_formats`` are tried
    in order after ISO dates and epoch milliseconds.
    """

    fields: Mapping[str, str] = field(default_factory=lambda: {name: name for name in FIELDS})
    status_map: Mapping[str, int] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ("%d/%m/%Y", "%d-%m-%Y", "%Y%m%d")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FieldMap:
        """Build from ``{"fields": {...}, "status_map": {...}, "date_formats": [...]}``."""
        unknown = set(data) - {"fields", "status_map", "date_formats"}
        if unknown:
            raise ValueError(f"ONEDOOR_FIELD_MAP: unknown keys {sorted(unknown)}")
        fields = {name: name for name in FIELDS}
        given = dict(data.get("fields") or {})
        bad = set(given) - set(FIELDS)
        if bad:
            raise ValueError(f"ONEDOOR_FIELD_MAP: unknown fields {sorted(bad)}; expected some of {list(FIELDS)}")
        fields.update({k: str(v) for k, v in given.items()})
        status_map = {str(k): int(parse_status(v)) for k, v in (data.get("status_map") or {}).items()}
        formats = tuple(data.get("date_formats") or cls.__dataclass_fields__["date_formats"].default)
        return cls(fields=fields, status_map=status_map, date_formats=formats)

    @classmethod
    def load(cls, spec: str) -> FieldMap:
        """From inline JSON or the path of a .json/.yaml/.yml file; the default map when empty."""
        spec = (spec or "").strip()
        if not spec:
            return cls()
        if spec.startswith("{"):
            data = json.loads(spec)
        else:
            path = Path(spec)
            if not path.is_file():
                raise ValueError(f"ONEDOOR_FIELD_MAP: {spec!r} is neither JSON nor an existing file")
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) if path.suffix.lower() in (".yml", ".yaml") else json.loads(text)
        if not isinstance(data, Mapping):
            raise ValueError("ONEDOOR_FIELD_MAP must be an object")
        return cls.from_mapping(data)

    def status(self, value: Any) -> int:
        """Translate a status value of the one-door system to 1..10 (ValueError when unknown)."""
        if value is None:
            raise ValueError("no status")
        key = str(value).strip()
        if key in self.status_map:
            return self.status_map[key]
        return int(parse_status(value))

    def date(self, value: Any) -> date | None:
        """Parse a date given as ISO text, epoch milliseconds or one of ``date_formats``."""
        if value in (None, ""):
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = value / 1000 if value > 10**11 else value
            return datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(VN_TZ).date()
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.astimezone(VN_TZ).date() if parsed.tzinfo else parsed.date()
        for fmt in self.date_formats:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise ValueError(f"unreadable date {text!r}")


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def get_path(obj: Any, path: str) -> Any:
    """Follow ``a.b[0].c`` (a leading ``$.`` is allowed) through dicts and lists; None when absent."""
    path = path.strip()
    if path.startswith("$"):
        path = path[1:].lstrip(".")
    for name, index in _PATH_TOKEN.findall(path):
        if name:
            if not isinstance(obj, Mapping) or name not in obj:
                return None
            obj = obj[name]
        else:
            if not isinstance(obj, list) or int(index) >= len(obj):
                return None
            obj = obj[int(index)]
    return obj


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` seconds lets one trial through."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

    def __init__(self, threshold: int = 5, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        """closed, open or half-open (open whose cool-down has elapsed)."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return self.CLOSED
        return self.HALF_OPEN if self._clock() - self._opened_at >= self.cooldown else self.OPEN

    def allow(self) -> bool:
        """Whether a request may go out now; in half-open state only one trial at a time."""
        with self._lock:
            state = self._state()
            if state == self.CLOSED:
                return True
            if state == self.HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        """A request succeeded: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        """A request failed: count it, (re)open the circuit at the threshold or after a failed trial."""
        with self._lock:
            self._failures += 1
            if self._trial_running or self._failures >= self.threshold:
                self._opened_at = self._clock()
            self._trial_running = False


@dataclass(frozen=True)
class OneDoorConfig:
    """Connection settings of the one-door system (built from ``ONEDOOR_*``: :meth:`from_settings`)."""

    base_url: str
    path: str = "/dossiers/{code}"
    auth_header: tuple[str, str] | None = field(default=None, repr=False)
    timeout: float = 3.0
    retries: int = 1
    backoff: float = 0.3
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    verify_tls: bool | str = True
    field_map: FieldMap = field(default_factory=FieldMap)

    @classmethod
    def from_settings(cls, section: OneDoorSettings | None = None) -> OneDoorConfig:
        """Build from the ``onedoor`` settings section (default: the process's); SettingsError naming the variable."""
        cfg = section or settings().onedoor
        if not cfg.base_url:
            raise SettingsError("DOSSIER_SOURCE=http needs ONEDOOR_BASE_URL")
        header = None
        if cfg.auth_header:
            name, sep, value = cfg.auth_header.partition(":")
            if not sep or not name.strip():
                raise SettingsError("ONEDOOR_AUTH_HEADER must look like 'Authorization: Bearer <token>'")
            header = (name.strip(), value.strip())
        verify_raw = cfg.verify_tls
        # A path that exists is a CA bundle; anything else is a yes/no.
        verify: bool | str = verify_raw if Path(verify_raw).exists() else verify_raw.lower() not in ("0", "false")
        return cls(
            base_url=cfg.base_url.rstrip("/"),
            path=cfg.path,
            auth_header=header,
            timeout=cfg.timeout,
            retries=cfg.retries,
            backoff=cfg.backoff,
            breaker_threshold=cfg.breaker_threshold,
            breaker_cooldown=cfg.breaker_cooldown,
            verify_tls=verify,
            field_map=FieldMap.load(cfg.field_map),
        )


class _Malformed(Exception):
    """The answer cannot be read with the field map."""


class HttpDossierSource:
    """A :class:`~bot.dossiers.source.DossierSource` backed by a one-door system's HTTP API."""

    def __init__(
        self,
        config: OneDoorConfig,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        salt: bytes | None = None,
    ) -> None:
        self.config = config
        self.breaker = breaker or CircuitBreaker(config.breaker_threshold, config.breaker_cooldown)
        self._sleep = sleep
        self._salt = salt
        self._local = threading.local()  # requests.Session is not thread-safe: one per thread

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["Accept"] = "application/json"
            if self.config.auth_header:
                session.headers[self.config.auth_header[0]] = self.config.auth_header[1]
            self._local.session = session
        return session

    def url(self, code: str) -> str:
        """The URL asked for ``code``."""
        return self.config.base_url + self.config.path.format(code=quote(code, safe=""))

    def fetch(self, code: str) -> DossierRecord | None:
        """Ask the one-door system for ``code``; None on 404 or an empty answer."""
        if not self.breaker.allow():
            raise DossierSourceUnavailable("one-door system: circuit open")
        try:
            record = self._fetch(code)
        except DossierSourceUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return record

    def _fetch(self, code: str) -> DossierRecord | None:
        url = self.url(code)
        last_error = "no attempt"
        for attempt in range(self.config.retries + 1):
            if attempt:
                self._sleep(self.config.backoff * (2 ** (attempt - 1)))
            started = time.monotonic()
            try:
                response = self._session().get(url, timeout=self.config.timeout, verify=self.config.verify_tls)
            except requests.Timeout:
                last_error = f"timeout after {self.config.timeout:g}s"
                logger.warning("one-door system: %s (attempt %d)", last_error, attempt + 1)
                continue
            except requests.RequestException as exc:
                last_error = f"connection error ({type(exc).__name__})"
                logger.warning("one-door system: %s (attempt %d)", last_error, attempt + 1)
                continue
            elapsed = time.monotonic() - started
            if response.status_code == 404:
                return None
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code}"
                logger.warning("one-door system: %s in %.2fs (attempt %d)", last_error, elapsed, attempt + 1)
                continue
            if response.status_code >= 400:
                # 401/403/400 are configuration problems: retrying will not help.
                logger.error(
                    "one-door system: HTTP %d for the dossier URL; check ONEDOOR_* settings", response.status_code
                )
                raise DossierSourceUnavailable(f"HTTP {response.status_code}")
            try:
                return self._parse(response.content, code)
            except _Malformed as exc:
                logger.error("one-door system: unreadable answer (%s)", exc)
                raise DossierSourceUnavailable(f"malformed answer: {exc}") from None
        raise DossierSourceUnavailable(f"one-door system unavailable: {last_error}")

    def _parse(self, content: bytes, code: str) -> DossierRecord | None:
        try:
            body = json.loads(content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Malformed(f"not JSON: {type(exc).__name__}") from None
        fm = self.config.field_map

        def value(name: str) -> Any:
            return get_path(body, fm.fields[name])

        def text(name: str) -> str | None:
            raw = value(name)
            if raw is None or isinstance(raw, (dict, list)):
                return None
            return str(raw).strip() or None

        raw_code, raw_status = value("code"), value("status")
        if raw_code in (None, "") and raw_status in (None, ""):
            return None  # e.g. {"data": null}: the system does not know this code
        try:
            returned = normalise_dossier_code(str(raw_code)) if raw_code not in (None, "") else code
        except InvalidDossierCode:
            raise _Malformed("code field is not a dossier code") from None
        if returned != code:
            # Never show a citizen someone else's dossier because of a mapping or upstream bug.
            raise _Malformed("answer is about another dossier")
        try:
            status = fm.status(raw_status)
            received, promised = fm.date(value("received_date")), fm.date(value("promised_date"))
        except ValueError as exc:
            raise _Malformed(str(exc)) from None
        procedure_name = text("procedure_name")
        if not procedure_name:
            raise _Malformed("no procedure name")
        phone = text("phone")
        last4 = text("phone_last4")
        if last4:
            last4 = "".join(ch for ch in last4 if ch.isdigit())[-4:] or None
        if phone and not last4:
            last4 = phone_last4(phone)
        if last4 is not None and len(last4) != 4:
            last4 = None  # too short to verify anyone: the lookup will never match
        full_phone = phone if phone and sum(ch.isdigit() for ch in phone) >= 9 else None
        return DossierRecord(
            code=code,
            procedure_code=text("procedure_code") or "",
            procedure_name=procedure_name,
            status=status,
            receiving_unit=text("receiving_unit") or "",
            received_date=received,
            promised_date=promised,
            # The digits stay in memory for this lookup only; the comparison is on their HMAC.
            phone_last4=last4,
            phone_hash=hash_phone(full_phone, self._salt) if full_phone else None,
            last4_hash=hash_last4(last4, self._salt) if last4 else None,
            applicant_name=text("applicant_name"),
            applicant_address=text("applicant_address"),
            applicant_id=text("applicant_id"),
        )
