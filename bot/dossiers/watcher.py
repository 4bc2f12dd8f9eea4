"""Push notifications when a followed dossier changes status: polling, a signed webhook, and Rasa's API.

Webhook contract (what a one-door system sends):

- ``POST`` with a UTF-8 JSON object body of at most 64 KiB (``MAX_BODY_BYTES``) nested at most 20
  deep (``MAX_JSON_DEPTH``): ``{"code": "000.00.12.H61-240831-0001", "status": 5}``
  (``dossier_code`` is accepted for ``code``; ``status`` may be 1..10, a portal label, or a value of
  the field map's ``status_map``; without ``status`` the source is asked). Optional ``updated_at``
  (or ``event_time``): when the status changed, ISO 8601 with a time zone
  (``2026-11-27T09:00:00+07:00``, ``...Z``) or Unix seconds (milliseconds above 10^11);
- header ``X-Onedoor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with the
  shared secret ``ONEDOOR_WEBHOOK_SECRET``; requests whose ``t`` is more than
  ``ONEDOOR_WEBHOOK_TOLERANCE`` seconds (default 300) away from now are rejected.

Replays: each accepted request is remembered in the database table ``webhook_receipts`` (shared by
every Rasa replica) under the SHA-256 of its signed message ``"<t>." + body``, until
``t + 2 × tolerance`` (the window plus as much again for clock differences between replicas);
the same signed request again gets 409. The receipt is claimed atomically (primary key, a losing
concurrent insert gets an IntegrityError), after the body was validated and before anything is
applied; it is given back when the update could not be processed (503), so the sender may retry
it unchanged. Expired receipts are purged on each claim.

Order: the event time of a request is its ``updated_at`` / ``event_time`` when present, else the
signature's ``t``. A status change is applied only when its event time is not before the dossier's
last status change (``dossiers.updated_at`` = the newest ``dossier_status_history.changed_at``) and
is then recorded at that event time, so later requests are compared on the sender's clock. One
conditional UPDATE decides, so concurrent requests on several replicas cannot roll a dossier back
(equal times: the request applied last wins). An older request changes nothing and notifies nobody.
A status equal to the current one changes nothing either; subscribers are only ever told a status
different from the last one they were told (``last_notified_status``). Without ``status`` the
source's current status is used, whatever the event time. Limitation: with ``DOSSIER_SOURCE=http``
the dossier is not in the local store, so there is no local history to order by; only the
replay check and ``last_notified_status`` apply, and the poller re-syncs with the source.

Answers (JSON):

- 200 ``{"ok": true, "code": ..., "notified": n}``: applied (or already the current status);
- 200 ``{"ok": true, "code": ..., "notified": 0, "ignored": "older than the current status"}``:
  a valid, signed but obsolete update; 200 rather than 409 so that the sender does not keep
  retrying or alerting about an event that was superseded (it is in the audit log);
- 400 malformed body (not UTF-8, lone surrogates, not JSON, too deeply nested, not an object,
  wrong types, unknown code or status, event time without a time zone or more than the tolerance
  in the future); 401 missing, malformed, wrong or stale signature; 409 ``{"error": "replayed
  request"}``; 413 body larger than ``MAX_BODY_BYTES``;
- 503 only when ``ONEDOOR_WEBHOOK_SECRET`` is unset or the source is unavailable. No input produces
  any other 5xx.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from bot.db.clock import utcnow
from bot.dossiers.codes import InvalidDossierCode, normalise_dossier_code
from bot.dossiers.source import DossierSource, DossierSourceUnavailable
from bot.dossiers.status import DossierStatus, parse_status
from bot.dossiers.store import DossierStore
from bot.privacy import mask_text
from bot.rasa_client import RasaClient, RasaClientError
from bot.settings import settings

__all__ = [
    "EXTERNAL_INTENT",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "SIGNATURE_HEADER",
    "DossierWatcher",
    "Notifier",
    "NotifierError",
    "RasaNotifier",
    "WatchReport",
    "WebhookResponse",
    "sign_webhook",
]

logger = logging.getLogger(__name__)

EXTERNAL_INTENT = "EXTERNAL_dossier_update"
SIGNATURE_HEADER = "X-Onedoor-Signature"
MAX_BODY_BYTES = 64 * 1024  # a status change is a few hundred bytes
MAX_JSON_DEPTH = 20
IGNORED_OLDER = "older than the current status"


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
    ``output_channel`` = the channel the citizen used. The token and timeout are
    :class:`bot.rasa_client.RasaClient`'s; by default one on ``RASA_URL`` / ``RASA_TOKEN`` with
    ``RASA_NOTIFY_TIMEOUT`` and no retries: one POST per notice, so no retry holds the watcher's
    lock or a one-door webhook's answer longer, and a failure is left to the next poll (the
    subscriber is marked notified only on success). A 429/5xx is never retried, whatever the client:
    Rasa may answer 500 after the action already sent the notice, and a retry would send it twice.
    """

    def __init__(self, client: RasaClient | None = None) -> None:
        self.client = client or RasaClient(timeout=settings().runtime.notify_timeout, retries=0)

    def notify(self, channel: str, sender_id: str, code: str, status: int) -> None:
        """Trigger the update intent in conversation ``sender_id``; :class:`NotifierError` on failure."""
        entities = {"dossier_code": code, "status": int(status)}
        try:
            self.client.trigger_intent(sender_id, EXTERNAL_INTENT, entities, output_channel=channel)
        except RasaClientError as exc:
            raise NotifierError(str(exc)) from None


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


class _BadRequest(ValueError):
    """A webhook body that cannot be accepted; the message is fixed text, never the caller's input."""


_JSON_STRUCTURE = re.compile(r'[\[\]{}"\\]')
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _json_too_deep(text: str, limit: int) -> bool:
    """True when ``text`` opens more than ``limit`` nested arrays/objects (strings are skipped).

    Linear and recursion-free, so it runs before ``json.loads`` (whose C scanner recurses).
    """
    depth = 0
    in_string = False
    skip = -1
    for match in _JSON_STRUCTURE.finditer(text):
        pos = match.start()
        if pos == skip:  # the character after a backslash inside a string
            continue
        char = text[pos]
        if in_string:
            if char == "\\":
                skip = pos + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _event_time(value: Any) -> datetime:
    """``updated_at`` / ``event_time`` as aware UTC: ISO 8601 with a time zone, or Unix seconds (or ms)."""
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value) or not 0 <= value < 10**14:
                raise _BadRequest("updated_at out of range")
            return datetime.fromtimestamp(value / 1000 if value > 10**11 else value, tz=timezone.utc)
        if isinstance(value, str) and len(value) <= 64:
            text = value.strip()
            if text[-1:] in ("Z", "z"):
                text = text[:-1] + "+00:00"
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise _BadRequest("updated_at must include a time zone")
            return parsed.astimezone(timezone.utc)
    except _BadRequest:
        raise
    except (ValueError, OverflowError, OSError):
        raise _BadRequest("updated_at must be ISO 8601 with a time zone or Unix seconds") from None
    raise _BadRequest("updated_at must be ISO 8601 with a time zone or Unix seconds")


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
        cfg = settings().dossiers
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
                logger.warning("notification for %s failed: %s", code, exc)
                self.store.audit("notify", "failed", now, sub.channel, None, code, str(exc)[:200])
                continue
            except Exception:
                failed += 1
                logger.exception("notifier crashed for %s", code)
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
                    logger.warning("watcher: source unavailable for %s: %s", code, exc)
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

    def apply_update(self, code: str, status: int | None, event_at: datetime | None = None) -> int:
        """A status change announced for ``code``: update the embedded store if it holds it, then notify.

        Returns how many subscribers were told; 0 as well when the update is older than the
        dossier's last status change (see :meth:`_apply`).
        """
        return self._apply(code, status, event_at)[1]

    def _apply(self, code: str, status: int | None, event_at: datetime | None) -> tuple[bool, int]:
        """(ignored as older, notified): record ``status`` as of ``event_at`` unless older, then notify."""
        at = event_at or self.clock()
        with self._lock:
            from_source = status is None
            if status is None:
                record = self.source.fetch(code)
                if record is None:
                    return False, 0
                status = record.status
            status = int(DossierStatus(int(status)))
            outcome = self.store.set_status_if_newer(code, status, at, note="webhook")
            if outcome == "older" and not from_source:
                return True, 0
            notified, _ = self._notify_subscribers(code, status)
            return False, notified

    def _check_signature(self, body: bytes, signature_header: str | None) -> tuple[str | None, int]:
        """(None, t) when the signature is valid and fresh, else (the reason for rejecting it, 0)."""
        if not self.webhook_secret:
            return "webhook disabled: ONEDOOR_WEBHOOK_SECRET is not set", 0
        if not signature_header:
            return "missing signature", 0
        parts: dict[str, list[str]] = {}
        for item in signature_header.split(","):
            key, sep, value = item.strip().partition("=")
            if sep:
                parts.setdefault(key.strip(), []).append(value.strip())
        raw_t = (parts.get("t") or [""])[0]
        if not _TIMESTAMP.fullmatch(raw_t):
            return "malformed signature", 0
        timestamp = int(raw_t)
        now = self.clock().timestamp()
        if abs(now - timestamp) > self.webhook_tolerance:
            return "stale timestamp", 0
        expected = sign_webhook(body, self.webhook_secret, timestamp).split("v1=", 1)[1].encode()
        # compare_digest on every candidate: several v1 values are allowed while a secret is rotated.
        valid = False
        for candidate in parts.get("v1", []):
            valid |= hmac.compare_digest(candidate.encode("utf-8", "replace"), expected)
        return (None, timestamp) if valid else ("bad signature", 0)

    def verify_signature(self, body: bytes, signature_header: str | None) -> str | None:
        """None when the signature is valid and fresh, else the reason for rejecting it."""
        return self._check_signature(body, signature_header)[0]

    def _parse_body(self, body: bytes) -> tuple[str, int | None, datetime | None]:
        """(code, status or None, event time or None) from a webhook body; :class:`_BadRequest` when unfit."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadRequest("body is not UTF-8") from None
        if _json_too_deep(text, MAX_JSON_DEPTH):
            raise _BadRequest("JSON nested too deeply")
        try:
            payload = json.loads(text)
        except RecursionError:  # not reachable after the pre-check; kept as a second line of defence
            raise _BadRequest("JSON nested too deeply") from None
        except ValueError as exc:
            raise _BadRequest(f"invalid JSON: {getattr(exc, 'msg', 'unreadable')}") from None
        if not isinstance(payload, dict):
            raise _BadRequest("body must be a JSON object")
        try:  # "\ud800" escapes decode to lone surrogates, which nothing downstream can encode
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, ValueError, RecursionError):
            raise _BadRequest("invalid Unicode in JSON strings") from None

        raw_code = payload.get("code")
        if raw_code is None or raw_code == "":
            raw_code = payload.get("dossier_code")
        if not isinstance(raw_code, str) or not raw_code.strip():
            raise _BadRequest("code must be a non-empty string")
        if len(raw_code) > 64:
            raise _BadRequest("code is too long")
        code = normalise_dossier_code(raw_code)

        raw_status = payload.get("status")
        status: int | None = None
        if raw_status is not None and raw_status != "":
            if isinstance(raw_status, bool) or not isinstance(raw_status, (int, str)):
                raise _BadRequest("status must be an integer or a string")
            if (isinstance(raw_status, int) and abs(raw_status) > 10**9) or (
                isinstance(raw_status, str) and len(raw_status) > 200
            ):
                raise _BadRequest("status is not a known dossier status")
            try:
                status = int(DossierStatus(int(self._status_map(raw_status))))
            except (ValueError, TypeError, KeyError, ArithmeticError):
                raise _BadRequest("status is not a known dossier status") from None

        raw_time = payload.get("updated_at")
        if raw_time is None or raw_time == "":
            raw_time = payload.get("event_time")
        event_at = None if raw_time is None or raw_time == "" else _event_time(raw_time)
        return code, status, event_at

    def handle_webhook(self, body: bytes, signature_header: str | None) -> WebhookResponse:
        """Verify and apply a webhook call; see the module docstring for the rules and the answers."""
        now = self.clock()
        if len(body) > MAX_BODY_BYTES:
            self.store.audit("webhook", "too_large", now, None, None, None, f"{len(body)} bytes")
            return WebhookResponse(413, {"error": f"body too large (at most {MAX_BODY_BYTES} bytes)"})
        problem, timestamp = self._check_signature(body, signature_header)
        if problem is not None:
            logger.warning("webhook rejected: %s", problem)
            self.store.audit("webhook", "rejected", now, None, None, None, problem)
            status = 503 if problem.startswith("webhook disabled") else 401
            return WebhookResponse(status, {"error": problem})
        try:
            code, status, event_at = self._parse_body(body)
            if event_at is not None and (event_at - now).total_seconds() > self.webhook_tolerance:
                raise _BadRequest("updated_at is in the future")
        except (_BadRequest, InvalidDossierCode) as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            self.store.audit("webhook", "bad_request", now, None, None, None, mask_text(reason)[:200])
            return WebhookResponse(400, {"error": f"bad request: {mask_text(reason)[:200]}"})

        digest = hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()
        keep_until = datetime.fromtimestamp(timestamp, tz=timezone.utc) + timedelta(
            seconds=2 * max(self.webhook_tolerance, 0)
        )
        if not self.store.claim_webhook_receipt(digest, now, keep_until):
            logger.warning("webhook rejected: replayed request for %s", code)
            self.store.audit("webhook", "replayed", now, None, None, code)
            return WebhookResponse(409, {"error": "replayed request"})
        event_time = event_at or datetime.fromtimestamp(timestamp, tz=timezone.utc)
        try:
            ignored, notified = self._apply(code, status, event_time)
        except DossierSourceUnavailable:
            self.store.release_webhook_receipt(digest)  # not processed: the same request may come again
            self.store.audit("webhook", "unavailable", now, None, None, code)
            return WebhookResponse(503, {"error": "source unavailable, retry later"})
        except BaseException:
            self.store.release_webhook_receipt(digest)
            raise
        if ignored:
            self.store.audit("webhook", "ignored", now, None, None, code, f"status={status} {IGNORED_OLDER}")
            return WebhookResponse(200, {"ok": True, "code": code, "notified": 0, "ignored": IGNORED_OLDER})
        self.store.audit("webhook", "accepted", now, None, None, code, f"status={status} notified={notified}")
        return WebhookResponse(200, {"ok": True, "code": code, "notified": notified})

    def run(self, interval: float, stop: threading.Event | None = None) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                report = self.poll_once()
                logger.info("watcher: %s", report)
            except Exception:  # keep watching: one bad round must not end notifications
                logger.exception("watcher round failed")
            stop.wait(interval)


def build_watcher(engine: Engine | None = None, notifier: Notifier | None = None) -> DossierWatcher:
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
