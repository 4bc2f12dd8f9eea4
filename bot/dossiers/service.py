"""Dossier lookup for citizens: verification, lockouts, audit and subscriptions, as typed results.

:mod:`bot.dossiers.render` words every result for the citizen. The service is synchronous and
thread-safe (one database session per call); the action server calls it through
``asyncio.to_thread`` so a slow one-door system never blocks Rasa.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.db.clock import today_vn, utcnow
from bot.dossiers.codes import InvalidDossierCode, extract_code, normalise_dossier_code
from bot.dossiers.source import (
    DossierRecord,
    DossierSource,
    DossierSourceUnavailable,
    last4_matches,
    requester_ref,
    sender_ref,
)
from bot.dossiers.status import DossierStatus, days_overdue, is_overdue, status_info
from bot.dossiers.store import DossierStore
from bot.privacy import mask_text
from bot.settings import settings
from bot.wording import text

__all__ = [
    "DossierLookup",
    "DossierView",
    "InvalidCode",
    "InvalidPhoneDigits",
    "LockedOut",
    "LockoutPolicy",
    "LookupResult",
    "NotFound",
    "NotMatched",
    "StatusUpdate",
    "SubscriptionResult",
    "Throttled",
    "Unavailable",
    "UpdateIgnored",
    "UpdateResult",
    "Verified",
    "WrongPhone",
    "build_lookup",
    "build_source",
    "normalise_phone_last4",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockoutPolicy:
    """Abuse limits of the lookup (the one place for these numbers); durations are ``timedelta``, limits counts.

    - ``window`` (1 hour, sliding): the period in which failures are counted, per requester and per code.
    - ``max_requester_failures`` (5): failed lookups (wrong digits or an unknown code, on any dossier) one
      requester may make within ``window``. At that number the requester, and only it, is locked until
      its oldest counted failure leaves the window. There is no lock per code, so nobody can lock a
      dossier's owner out; ``attempts_left`` counts the requester's own failures only.
    - ``code_alert_failures`` (10): failures on one dossier by everyone within ``window`` that raise the
      staff alert (a WARNING "dossier code under attack" and one ``alert``/``code_under_attack`` audit
      row per code per ``window``). Never a lock.
    - ``unknown_code_window`` (10 minutes, sliding) and ``max_unknown_codes`` (30): when lookups of unknown
      codes by everyone within ``unknown_code_window`` reach ``max_unknown_codes``, an unknown code and
      wrong digits get the same answer (:class:`NotMatched`), so guessing cannot tell which codes exist.
    - ``attacked_code_interval`` (1 minute): once a dossier has ``code_alert_failures`` failures in the
      window, at most one lookup of it is checked per interval, by anyone; the others are asked to try
      again shortly (:class:`Throttled`). Guessing 4 digits from many addresses then takes days while
      staff are alerted, and the owner is delayed by about a minute, never locked out.
    - ``subscribe_window`` (30 minutes): how long after a verified lookup its conversation may subscribe.
    """

    window: timedelta = timedelta(hours=1)
    max_requester_failures: int = 5
    code_alert_failures: int = 10
    unknown_code_window: timedelta = timedelta(minutes=10)
    max_unknown_codes: int = 30
    attacked_code_interval: timedelta = timedelta(minutes=1)
    subscribe_window: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class DossierView:
    """What a verified citizen may see: never the applicant's name, address, ID number or phone."""

    code: str
    procedure_code: str
    procedure_name: str
    status: int
    status_label: str
    receiving_unit: str
    received_date: date | None
    promised_date: date | None
    overdue: bool
    days_overdue: int
    next_step: str
    is_demo: bool = False


@dataclass(frozen=True)
class Verified:
    """The code and phone digits matched."""

    view: DossierView


@dataclass(frozen=True)
class NotFound:
    """No dossier with this code."""

    code: str


@dataclass(frozen=True)
class WrongPhone:
    """The 4 digits did not match; ``attempts_left`` before a lockout."""

    code: str
    attempts_left: int


@dataclass(frozen=True)
class NotMatched:
    """The code or the 4 digits did not match, worded the same for both (unknown codes are rate-limited
    then, so the answer must not tell whether the code exists); ``attempts_left`` before a lockout."""

    attempts_left: int


@dataclass(frozen=True)
class Throttled:
    """The dossier is under a guessing attack: its lookups are checked one per interval; retry after ``until``."""

    until: datetime


@dataclass(frozen=True)
class LockedOut:
    """Too many failures by this requester; try again after ``until`` (aware UTC). ``reason`` is ``requester``."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class InvalidCode:
    """The code is not in the national format; ``reason`` is :attr:`InvalidDossierCode.reason`."""

    reason: str


@dataclass(frozen=True)
class InvalidPhoneDigits:
    """The second factor is not 4 digits (not counted as a failure)."""


@dataclass(frozen=True)
class Unavailable:
    """The source could not answer (the citizen is told the system is busy)."""


LookupResult = (
    Verified
    | NotFound
    | WrongPhone
    | NotMatched
    | LockedOut
    | Throttled
    | InvalidCode
    | InvalidPhoneDigits
    | Unavailable
)


@dataclass(frozen=True)
class SubscriptionResult:
    """Outcome of subscribe/unsubscribe: ``outcome`` is subscribed, already, not_verified, invalid_code,
    unsubscribed or not_subscribed; ``code`` the normalised dossier code (None for an invalid code, or an
    unsubscription from every dossier); ``reason`` why an invalid code was refused."""

    outcome: str
    code: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the request was carried out (or was already in place)."""
        return self.outcome in ("subscribed", "already", "unsubscribed")


@dataclass(frozen=True)
class StatusUpdate:
    """A pushed status change that may be told in the conversation: it follows dossier ``code``."""

    code: str
    status: int


@dataclass(frozen=True)
class UpdateIgnored:
    """A pushed status change not to be told: ``reason`` is ``malformed`` (the code or the status is not
    one) or ``not_followed`` (the conversation does not follow the dossier)."""

    reason: str


UpdateResult = StatusUpdate | UpdateIgnored


def _pushed_status(raw: str | None) -> int | None:
    """A status number from the watcher's entity: ASCII digits naming a known status, else None."""
    if raw is None or not (raw.isascii() and raw.isdecimal() and len(raw) <= 2):
        return None
    try:
        return int(DossierStatus(int(raw)))
    except ValueError:
        return None


def normalise_phone_last4(text: str | None) -> str | None:
    """The 4 verification digits from what the citizen typed: ``"6789"``, ``"67 89"`` or a whole phone number."""
    if not text:
        return None
    digits = "".join(ch for ch in str(text) if ch.isdigit())
    if len(digits) == 4 or 9 <= len(digits) <= 13:
        return digits[-4:]
    return None


# Statuses whose usual advice is "wait for the promised date": replaced by the overdue advice once it has passed.
_WAITING = frozenset({1, 2, 4})


def _view(record: DossierRecord, today: date) -> DossierView:
    info = status_info(record.status)
    overdue = is_overdue(record.status, record.promised_date, today)
    if overdue:
        overdue_step = text("dossier.overdue_next_step")
        next_step = overdue_step if int(info.status) in _WAITING else f"{info.next_step} {overdue_step}"
    else:
        next_step = info.next_step
    return DossierView(
        code=record.code,
        procedure_code=record.procedure_code,
        procedure_name=record.procedure_name,
        status=int(info.status),
        status_label=info.label,
        receiving_unit=record.receiving_unit,
        received_date=record.received_date,
        promised_date=record.promised_date,
        overdue=overdue,
        days_overdue=days_overdue(record.status, record.promised_date, today),
        next_step=next_step,
        is_demo=record.is_demo,
    )


class DossierLookup:
    """Status lookups with a second factor, lockouts and an audit trail; subscriptions after a verified lookup."""

    def __init__(
        self,
        source: DossierSource,
        store: DossierStore,
        policy: LockoutPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        salt: bytes | None = None,
    ) -> None:
        self.source = source
        self.store = store
        self.policy = policy or LockoutPolicy()
        self.clock = clock
        self._salt = salt

    def _sender(self, channel: str, sender_id: str) -> str:
        return sender_ref(channel, sender_id, self._salt)

    def _requester(self, channel: str, sender_id: str, requester: str | None) -> str:
        """The ref failures are counted under: the server-chosen requester key, else the conversation."""
        if requester:
            return requester_ref(requester, self._salt)
        return self._sender(channel, sender_id)

    def _requester_failures(self, asker: str, now: datetime) -> list[datetime]:
        """Times of the requester's own failures within the window, oldest first (never anyone else's)."""
        return self.store.failures_by_sender(asker, now - self.policy.window)

    def _lockout(self, failures: list[datetime]) -> LockedOut | None:
        """The requester's lock, if its own ``failures`` within the window reached the limit."""
        limit = self.policy.max_requester_failures
        if len(failures) < limit:
            return None
        # Locked until enough old failures leave the window to fall below the limit.
        oldest_counted = failures[len(failures) - limit]
        return LockedOut(oldest_counted + self.policy.window, "requester")

    def _unknown_codes_limited(self, now: datetime) -> bool:
        """Whether unknown-code lookups by everyone reached the global limit (answers are then merged)."""
        since = now - self.policy.unknown_code_window
        return self.store.unknown_code_failures(since) >= self.policy.max_unknown_codes

    def _throttle(self, code: str, now: datetime) -> Throttled | None:
        """Under a guessing attack (``code_alert_failures`` in the window) one check per interval, by anyone."""
        failures = self.store.failures_by_code(code, now - self.policy.window)
        if len(failures) < self.policy.code_alert_failures:
            return None
        until = failures[-1] + self.policy.attacked_code_interval
        return Throttled(until) if now < until else None

    def _alert_if_attacked(self, code: str, now: datetime, channel: str) -> None:
        """Tell staff (a WARNING and one audit row per code per window) when a dossier collects failures."""
        since = now - self.policy.window
        failures = len(self.store.failures_by_code(code, since))
        if failures < self.policy.code_alert_failures:
            return
        if self.store.has_audit("alert", "code_under_attack", code, since):
            return  # already raised in this window
        minutes = int(self.policy.window.total_seconds() // 60)
        logger.warning("dossier code under attack: %s had %d failed verifications in %d min", code, failures, minutes)
        detail = f"failures={failures} window={minutes}m"
        self.store.audit("alert", "code_under_attack", now, channel, None, code, detail)

    def _failed(self, asker: str, now: datetime, answer: Callable[[int], LookupResult]) -> LookupResult:
        """The answer after a recorded failure: the lock once the requester's budget is spent, the merged
        "code or digits" answer while unknown codes are rate-limited, otherwise ``answer(attempts_left)``."""
        failures = self._requester_failures(asker, now)
        locked = self._lockout(failures)
        if locked is not None:
            return locked
        left = self.policy.max_requester_failures - len(failures)
        if self._unknown_codes_limited(now):
            return NotMatched(left)
        return answer(left)

    def status(
        self, code: str, phone_last4: str, sender_id: str, channel: str, *, requester: str | None = None
    ) -> LookupResult:
        """Look a dossier up for a citizen who gives its code and the last 4 digits of the registered phone.

        ``requester`` is an opaque, pseudonymous key of the party asking, chosen by the server and not by
        the client: the channel layer passes a keyed hash of the client address for web/REST, of the
        verified user id for Telegram/Zalo (namespaced by kind, so it is the same key on every channel).
        Failures (wrong digits, unknown code) are counted and locked per requester, falling back to the
        conversation (``channel``, ``sender_id``) when it is None. A success is recorded for the
        conversation, which may then subscribe. See :class:`LockoutPolicy`.
        """
        now = self.clock()
        sender = self._sender(channel, sender_id)
        asker = self._requester(channel, sender_id, requester)

        def audit(outcome: str, audited_code: str | None, detail: str | None = None) -> None:
            self.store.audit("lookup", outcome, now, channel, asker, audited_code, detail)

        try:
            norm = normalise_dossier_code(code)
        except InvalidDossierCode as exc:
            # A whole sentence ("tra cứu hồ sơ 000.00...") still carries a usable code.
            found = extract_code(str(code or ""))
            if found is not None:
                return self.status(found, phone_last4, sender_id, channel, requester=requester)
            # What was typed may be anything (even a phone number): keep only a masked excerpt.
            audit("invalid_code", mask_text(str(code or ""))[:40], exc.reason)
            return InvalidCode(exc.reason)

        locked = self._lockout(self._requester_failures(asker, now))
        if locked is not None:
            audit("locked_out", norm, f"reason={locked.reason}")
            return locked
        throttled = self._throttle(norm, now)
        if throttled is not None:
            audit("throttled", norm)
            return throttled

        digits = normalise_phone_last4(phone_last4)
        if digits is None:
            audit("invalid_digits", norm)
            return InvalidPhoneDigits()

        try:
            record = self.source.fetch(norm)
        except DossierSourceUnavailable as exc:
            logger.warning("dossier source unavailable: %s", exc)
            audit("unavailable", norm, str(exc)[:200])
            return Unavailable()
        except Exception:  # an unexpected bug in a source must still end politely
            logger.exception("dossier source failed unexpectedly")
            audit("unavailable", norm, "unexpected error")
            return Unavailable()

        if record is None:
            # Probing for codes is abuse too: it counts against the requester (code NULL = unknown code).
            self.store.record_attempt(asker, None, False, now)
            audit("not_found", norm)
            return self._failed(asker, now, lambda _left: NotFound(norm))

        if not last4_matches(record, digits, self._salt):
            self.store.record_attempt(asker, norm, False, now)
            audit("wrong_phone", norm)
            self._alert_if_attacked(norm, now, channel)
            return self._failed(asker, now, lambda left: WrongPhone(norm, left))

        self.store.record_attempt(sender, norm, True, now, status_seen=record.status)
        audit("verified", norm, f"status={record.status}")
        return Verified(_view(record, today_vn(now)))

    def subscribe(self, code: str, channel: str, sender_id: str) -> SubscriptionResult:
        """Subscribe a sender to status changes, only after their own verified lookup of ``code`` recently."""
        now = self.clock()
        sender = self._sender(channel, sender_id)
        try:
            norm = normalise_dossier_code(code)
        except InvalidDossierCode as exc:
            self.store.audit("subscribe", "invalid_code", now, channel, sender, None, exc.reason)
            return SubscriptionResult("invalid_code", reason=exc.reason)
        verified = self.store.last_success(sender, norm, now - self.policy.subscribe_window)
        if verified is None:
            self.store.audit("subscribe", "not_verified", now, channel, sender, norm)
            return SubscriptionResult("not_verified", norm)
        created = self.store.subscribe(channel, sender_id, norm, now, verified.status_seen)
        self.store.audit("subscribe", "subscribed" if created else "already", now, channel, sender, norm)
        return SubscriptionResult("subscribed" if created else "already", norm)

    def unsubscribe(self, code: str | None, channel: str, sender_id: str) -> SubscriptionResult:
        """Stop notifications for ``code`` (or every dossier the sender follows when ``code`` is None)."""
        now = self.clock()
        sender = self._sender(channel, sender_id)
        norm: str | None = None
        if code:
            try:
                norm = normalise_dossier_code(code)
            except InvalidDossierCode as exc:
                return SubscriptionResult("invalid_code", reason=exc.reason)
        removed = self.store.unsubscribe(channel, sender_id, norm)
        self.store.audit("unsubscribe", "removed" if removed else "none", now, channel, sender, norm, f"n={removed}")
        return SubscriptionResult("unsubscribed" if removed else "not_subscribed", norm)

    def update_for(self, code: str | None, status: str | None, sender_id: str) -> UpdateResult:
        """Whether a pushed status change may be told in conversation ``sender_id``, and what it is.

        ``code`` and ``status`` are the entities of the watcher's ``EXTERNAL_dossier_update`` as the
        action read them (``status``: 1..10 in ASCII digits). Rasa's ``trigger_intent`` can name any
        conversation, so the update is told only where ``sender_id`` follows the dossier (on any
        channel). Nothing is audited here: the watcher audits what it sends.
        """
        number = _pushed_status(status)
        try:
            norm = normalise_dossier_code(code or "")
        except InvalidDossierCode:
            norm = None
        if norm is None or number is None:
            logger.warning("dossier update ignored: malformed code or status")
            return UpdateIgnored("malformed")
        if not any(sub.sender_id == sender_id for sub in self.store.subscriptions(norm)):
            logger.warning("dossier update ignored: the conversation does not follow this dossier")
            return UpdateIgnored("not_followed")
        return StatusUpdate(norm, number)


def build_source(store: DossierStore, source: str | None = None) -> DossierSource:
    """The configured source: the SQL store itself, or the one-door HTTP connector (``DOSSIER_SOURCE``)."""
    kind = source or settings().dossiers.source
    if kind == "http":
        from bot.dossiers.connector import HttpDossierSource, OneDoorConfig

        return HttpDossierSource(OneDoorConfig.from_settings())
    return store


def build_lookup(engine: Engine | None = None) -> DossierLookup:
    """A ready :class:`DossierLookup` on the configured database and source (call once per process)."""
    from bot.db import engine_for

    store = DossierStore(engine or engine_for())
    return DossierLookup(build_source(store), store)
