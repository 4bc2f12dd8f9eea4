"""Push notifications when a followed dossier changes status: polling, a signed webhook, and Rasa's API.

Webhook contract (what a one-door system sends):

- ``POST`` with a JSON body ``{"code": "000.00.12.H61-240831-0001", "status": 5}`` (``dossier_code``
  is accepted for ``code``; ``status`` may be 1..10, a portal label, or a value of the field map's
  ``status_map``; without ``status`` the source is asked);
- header ``X-Onedoor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with the
  shared secret ``ONEDOOR_WEBHOOK_SECRET``; requests older than ``ONEDOOR_WEBHOOK_TOLERANCE``
  seconds (default 300) are rejected to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import requests

from bot.dossiers.codes import InvalidDossierCode, normalize_code
from bot.dossiers.config import dossier_settings
from bot.dossiers.models import utcnow
from bot.dossiers.source import DossierSource, DossierSourceUnavailable
from bot.dossiers.status import DossierStatus, parse_status
from bot.dossiers.store import DossierStore
from bot.privacy import mask_text

__all__ = [
    "EXTERNAL_INTENT",
    "SIGNATURE_HEADER",
    "DossierWatcher",
    "Notifier",
    "NotifierError",
    "RasaNotifier",
    "WatchReport",
    "WebhookResponse",
    "sign_webhook",
]

log = logging.getLogger(__name__)

EXTERNAL_INTENT = "EXTERNAL_dossier_update"
SIGNATURE_HEADER = "X-Onedoor-Signature"


class NotifierError(RuntimeError):
    """A notification could not be delivered (it will be retried at the next poll)."""


class Notifier(Protocol):
    """Delivers a status-change notice to one conversation."""

    def notify(self, channel: str, sender_id: str, code: str, status: int) -> None:
        """Send it; raise :class:`NotifierError` on failure."""
        ...


class RasaNotifier:
    """Pushes through Rasa's HTTP API: ``trigger_intent`` with intent ``EXTERNAL_dossier_update``.

    The entities ``dossier_code`` and ``status`` (1..10) reach the dialogue; Rasa answers on
    ``output_channel`` = the channel the citizen used. ``RASA_TOKEN`` is sent as ``?token=``.
    """

    def __init__(self, rasa_url: str | None = None, token: str | None = None, timeout: float | None = None) -> None:
        cfg = dossier_settings()
        self.rasa_url = (rasa_url or cfg.rasa_url).rstrip("/")
        self.token = token if token is not None else cfg.rasa_token
        self.timeout = timeout if timeout is not None else cfg.notify_timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if getattr(self._local, "session", None) is None:
            self._local.session = requests.Session()
        return self._local.session

    def notify(self, channel: str, sender_id: str, code: str, status: int) -> None:
        """POST {RASA_URL}/conversations/{sender_id}/trigger_intent?output_channel={channel}."""
        url = f"{self.rasa_url}/conversations/{quote(sender_id, safe='')}/trigger_intent"
        params = {"output_channel": channel}
        if self.token:
            params["token"] = self.token
        payload = {"name": EXTERNAL_INTENT, "entities": {"dossier_code": code, "status": int(status)}}
        try:
            response = self._session().post(url, params=params, json=payload, timeout=self.timeout)
        except requests.RequestException as exc:
            raise NotifierError(f"Rasa unreachable: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise NotifierError(f"Rasa answered HTTP {response.status_code}")


@dataclass
class WatchReport:
    """What one polling round did."""

    checked: int = 0
    changed: int = 0
    notified: int = 0
    failed: int = 0
    unavailable: int = 0


@dataclass(frozen=True)
class WebhookResponse:
    """HTTP status and JSON body to answer the one-door system with."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def sign_webhook(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header value for ``body`` (used by tests and by a province's integration)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class DossierWatcher:
    """Detects status changes of followed dossiers and notifies their subscribers once per change."""

    def __init__(
        self,
        source: DossierSource,
        store: DossierStore,
        notifier: Notifier,
        clock: Callable[[], datetime] = utcnow,
        webhook_secret: str | None = None,
        webhook_tolerance: float | None = None,
        status_map: Callable[[Any], int] | None = None,
    ) -> None:
        cfg = dossier_settings()
        self.source = source
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.webhook_secret = webhook_secret if webhook_secret is not None else cfg.webhook_secret
        self.webhook_tolerance = webhook_tolerance if webhook_tolerance is not None else cfg.webhook_tolerance
        self._status_map = status_map or (lambda value: int(parse_status(value)))
        self._lock = threading.Lock()  # one round at a time: polling and webhooks must not double-notify

    def _notify_subscribers(self, code: str, status: int) -> tuple[int, int]:
        """Tell every subscriber of ``code`` who has not yet been told about ``status``."""
        notified = failed = 0
        now = self.clock()
        for sub in self.store.subscriptions(code):
            if sub.last_notified_status == status:
                continue
            try:
                self.notifier.notify(sub.channel, sub.sender_id, code, status)
            except NotifierError as exc:
                failed += 1
                log.warning("notification for %s failed: %s", code, exc)
                self.store.audit("notify", "failed", now, sub.channel, None, code, str(exc)[:200])
                continue
            except Exception:
                failed += 1
                log.exception("notifier crashed for %s", code)
                continue
            self.store.mark_notified([sub.id], status, now)
            self.store.audit("notify", "sent", now, sub.channel, None, code, f"status={status}")
            notified += 1
        return notified, failed

    def poll_once(self) -> WatchReport:
        """Ask the source about every followed dossier and notify on changes."""
        report = WatchReport()
        with self._lock:
            for code in self.store.subscribed_codes():
                report.checked += 1
                try:
                    record = self.source.fetch(code)
                except DossierSourceUnavailable as exc:
                    report.unavailable += 1
                    log.warning("watcher: source unavailable for %s: %s", code, exc)
                    continue
                if record is None:
                    continue
                subs = self.store.subscriptions(code)
                if all(s.last_notified_status == record.status for s in subs):
                    continue
                report.changed += 1
                notified, failed = self._notify_subscribers(code, record.status)
                report.notified += notified
                report.failed += failed
        return report

    def apply_update(self, code: str, status: int | None) -> int:
        """A status change announced for ``code``: update the embedded store if it holds it, then notify."""
        with self._lock:
            if status is None:
                record = self.source.fetch(code)
                if record is None:
                    return 0
                status = record.status
            status = int(DossierStatus(int(status)))
            self.store.set_status(code, status, self.clock(), note="webhook")
            notified, _ = self._notify_subscribers(code, status)
            return notified

    def verify_signature(self, body: bytes, signature_header: str | None) -> str | None:
        """None when the signature is valid and fresh, else the reason for rejecting it."""
        if not self.webhook_secret:
            return "webhook disabled: ONEDOOR_WEBHOOK_SECRET is not set"
        if not signature_header:
            return "missing signature"
        parts: dict[str, list[str]] = {}
        for item in signature_header.split(","):
            key, sep, value = item.strip().partition("=")
            if sep:
                parts.setdefault(key.strip(), []).append(value.strip())
        try:
            timestamp = int(parts["t"][0])
        except (KeyError, ValueError):
            return "malformed signature"
        now = self.clock().timestamp()
        if abs(now - timestamp) > self.webhook_tolerance:
            return "stale timestamp"
        expected = sign_webhook(body, self.webhook_secret, timestamp).split("v1=", 1)[1]
        # compare_digest on every candidate: several v1 values are allowed while a secret is rotated.
        valid = False
        for candidate in parts.get("v1", []):
            valid |= hmac.compare_digest(candidate.encode(), expected.encode())
        return None if valid else "bad signature"

    def handle_webhook(self, body: bytes, signature_header: str | None) -> WebhookResponse:
        """Verify and apply a webhook call; the lead mounts this on an HTTP route."""
        problem = self.verify_signature(body, signature_header)
        now = self.clock()
        if problem is not None:
            log.warning("webhook rejected: %s", problem)
            self.store.audit("webhook", "rejected", now, None, None, None, problem)
            status = 503 if problem.startswith("webhook disabled") else 401
            return WebhookResponse(status, {"error": problem})
        try:
            payload = json.loads(body.decode("utf-8"))
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            code = normalize_code(str(payload.get("code") or payload.get("dossier_code") or ""))
            raw_status = payload.get("status")
            status = self._status_map(raw_status) if raw_status not in (None, "") else None
        except (UnicodeDecodeError, ValueError, InvalidDossierCode) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            self.store.audit("webhook", "bad_request", now, None, None, None, mask_text(reason)[:200])
            return WebhookResponse(400, {"error": f"bad request: {mask_text(reason)[:200]}"})
        try:
            notified = self.apply_update(code, status)
        except DossierSourceUnavailable:
            self.store.audit("webhook", "unavailable", now, None, None, code)
            return WebhookResponse(503, {"error": "source unavailable, retry later"})
        self.store.audit("webhook", "accepted", now, None, None, code, f"status={status} notified={notified}")
        return WebhookResponse(200, {"ok": True, "code": code, "notified": notified})

    def run(self, interval: float, stop: threading.Event | None = None) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                report = self.poll_once()
                log.info("watcher: %s", report)
            except Exception:  # keep watching: one bad round must not end notifications
                log.exception("watcher round failed")
            stop.wait(interval)


def build_watcher(engine: Any = None, notifier: Notifier | None = None) -> DossierWatcher:
    """A watcher on the configured database, source and Rasa endpoint."""
    from bot.db import engine_for
    from bot.dossiers.service import build_source

    store = DossierStore(engine or engine_for())
    source = build_source(store)
    status_map = None
    field_map = getattr(getattr(source, "config", None), "field_map", None)
    if field_map is not None:
        status_map = field_map.status
    return DossierWatcher(source, store, notifier or RasaNotifier(), status_map=status_map)
