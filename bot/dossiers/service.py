"""Dossier lookup for citizens: verification, lockouts, audit, subscriptions and the reply text.

The service is synchronous and thread-safe (one database session per call); the action
server calls it through ``asyncio.to_thread`` so a slow one-door system never blocks Rasa.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.dossiers.codes import InvalidDossierCode, extract_code, normalize_code
from bot.dossiers.config import dossier_settings
from bot.dossiers.models import utcnow
from bot.dossiers.source import DossierRecord, DossierSource, DossierSourceUnavailable, sender_ref
from bot.dossiers.status import VN_TZ, days_overdue, is_overdue, status_info, today_vn
from bot.dossiers.store import DossierStore
from bot.privacy import mask_text

__all__ = [
    "BUSY_MESSAGE",
    "DossierLookup",
    "DossierView",
    "InvalidCode",
    "InvalidPhoneDigits",
    "LockedOut",
    "LockoutPolicy",
    "LookupResult",
    "NotFound",
    "SubscriptionResult",
    "Unavailable",
    "Verified",
    "WrongPhone",
    "build_lookup",
    "build_source",
    "format_date",
    "format_result",
    "format_view",
    "normalize_last4",
]

log = logging.getLogger(__name__)

BUSY_MESSAGE = "Dạ, hệ thống đang bận, anh/chị vui lòng thử lại sau ạ."


@dataclass(frozen=True)
class LockoutPolicy:
    """Abuse limits: failures per sender and per code within ``window``; how long a verification lasts."""

    window: timedelta = timedelta(hours=1)
    max_sender_failures: int = 5
    max_code_failures: int = 10
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
class LockedOut:
    """Too many failures; try again after ``until`` (aware UTC). ``reason`` is ``sender`` or ``code``."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class InvalidCode:
    """The code is not in the national format; ``message`` says what is expected."""

    message: str


@dataclass(frozen=True)
class InvalidPhoneDigits:
    """The second factor is not 4 digits (not counted as a failure)."""

    message: str


@dataclass(frozen=True)
class Unavailable:
    """The source could not answer; ``message`` is the polite "busy" text."""

    message: str = BUSY_MESSAGE


LookupResult = Verified | NotFound | WrongPhone | LockedOut | InvalidCode | InvalidPhoneDigits | Unavailable


@dataclass(frozen=True)
class SubscriptionResult:
    """Outcome of subscribe/unsubscribe: ``outcome`` is subscribed, already, not_verified, invalid_code,
    unsubscribed or not_subscribed; ``message`` is the reply to the citizen."""

    outcome: str
    message: str
    code: str | None = None

    @property
    def ok(self) -> bool:
        """True when the request was carried out (or was already in place)."""
        return self.outcome in ("subscribed", "already", "unsubscribed")


_PHONE_DIGITS_MESSAGE = (
    "Dạ, để bảo vệ thông tin hồ sơ, anh/chị vui lòng nhập đúng 4 chữ số cuối của số điện thoại đã đăng ký "
    "khi nộp hồ sơ (ví dụ: 6789) ạ."
)


def normalize_last4(text: str | None) -> str | None:
    """The 4 verification digits from what the citizen typed: ``"6789"``, ``"67 89"`` or a whole phone number."""
    if not text:
        return None
    digits = "".join(ch for ch in str(text) if ch.isdigit())
    if len(digits) == 4 or 9 <= len(digits) <= 13:
        return digits[-4:]
    return None


def format_date(value: date | None) -> str:
    """dd/mm/yyyy, or a dash when unknown."""
    return value.strftime("%d/%m/%Y") if value else "chưa có thông tin"


def _format_time(value: datetime) -> str:
    local = value.astimezone(VN_TZ)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def format_view(view: DossierView) -> str:
    """The polite Vietnamese status message for a verified citizen."""
    demo = " (dữ liệu minh họa)" if view.is_demo else ""
    procedure = f"{view.procedure_name} (mã {view.procedure_code})" if view.procedure_code else view.procedure_name
    if view.overdue:
        promised = f"{format_date(view.promised_date)} — đã quá hạn {view.days_overdue} ngày"
    else:
        promised = format_date(view.promised_date)
    lines = [
        f"Dạ, thông tin hồ sơ {view.code}{demo}:",
        f"- Thủ tục: {procedure}",
        f"- Trạng thái: {view.status_label}",
        f"- Nơi tiếp nhận: {view.receiving_unit or 'chưa có thông tin'}",
        f"- Ngày tiếp nhận: {format_date(view.received_date)}",
        f"- Ngày hẹn trả kết quả: {promised}",
        f"Việc anh/chị cần làm: {view.next_step}",
    ]
    return "\n".join(lines)


def format_result(result: LookupResult) -> str:
    """The reply to the citizen for any lookup result."""
    if isinstance(result, Verified):
        return format_view(result.view)
    if isinstance(result, NotFound):
        return (
            f"Dạ, em chưa tìm thấy hồ sơ có mã {result.code} ạ. Anh/chị vui lòng kiểm tra lại mã trên Giấy tiếp "
            "nhận hồ sơ và hẹn trả kết quả; hồ sơ vừa nộp có thể cần ít phút để được cập nhật ạ."
        )
    if isinstance(result, WrongPhone):
        return (
            "Dạ, 4 số cuối điện thoại anh/chị nhập chưa khớp với số đã đăng ký trên hồ sơ ạ. "
            f"Anh/chị còn {result.attempts_left} lần thử."
        )
    if isinstance(result, LockedOut):
        return (
            "Dạ, do có nhiều lần xác minh không thành công, việc tra cứu hồ sơ này tạm khóa để bảo vệ thông tin "
            f"của người nộp. Anh/chị vui lòng thử lại sau {_format_time(result.until)} ạ."
        )
    if isinstance(result, (InvalidCode, InvalidPhoneDigits, Unavailable)):
        return result.message
    raise TypeError(f"not a lookup result: {result!r}")


_OVERDUE_STEP = (
    "Hồ sơ đã quá ngày hẹn trả. Anh/chị có thể liên hệ bộ phận một cửa nơi nộp hồ sơ để hỏi; khi trễ hẹn, "
    "cơ quan giải quyết phải có văn bản xin lỗi và hẹn lại ngày trả kết quả ạ."
)
# Statuses whose usual advice is "wait for the promised date": replaced by the overdue advice once it has passed.
_WAITING = frozenset({1, 2, 4})


def _view(record: DossierRecord, today: date) -> DossierView:
    info = status_info(record.status)
    overdue = is_overdue(record.status, record.promised_date, today)
    if overdue:
        next_step = _OVERDUE_STEP if int(info.status) in _WAITING else f"{info.next_step} {_OVERDUE_STEP}"
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

    def _lockout(self, sender: str, code: str, now: datetime) -> LockedOut | None:
        since = now - self.policy.window
        candidates: list[LockedOut] = []
        by_sender = self.store.failures_by_sender(sender, since)
        if len(by_sender) >= self.policy.max_sender_failures:
            # Locked until enough old failures leave the window to fall below the limit.
            oldest_counted = by_sender[len(by_sender) - self.policy.max_sender_failures]
            candidates.append(LockedOut(oldest_counted + self.policy.window, "sender"))
        by_code = self.store.failures_by_code(code, since)
        if len(by_code) >= self.policy.max_code_failures:
            oldest_counted = by_code[len(by_code) - self.policy.max_code_failures]
            candidates.append(LockedOut(oldest_counted + self.policy.window, "code"))
        return max(candidates, key=lambda r: r.until) if candidates else None

    def _attempts_left(self, sender: str, code: str, now: datetime) -> int:
        since = now - self.policy.window
        return min(
            self.policy.max_sender_failures - len(self.store.failures_by_sender(sender, since)),
            self.policy.max_code_failures - len(self.store.failures_by_code(code, since)),
        )

    def status(self, code: str, phone_last4: str, sender_id: str, channel: str) -> LookupResult:
        """Look a dossier up for a citizen who gives its code and the last 4 digits of the registered phone."""
        now = self.clock()
        sender = self._sender(channel, sender_id)

        def audit(outcome: str, audited_code: str | None, detail: str | None = None) -> None:
            self.store.audit("lookup", outcome, now, channel, sender, audited_code, detail)

        try:
            norm = normalize_code(code)
        except InvalidDossierCode as exc:
            # A whole sentence ("tra cứu hồ sơ 000.00...") still carries a usable code.
            found = extract_code(str(code or ""))
            if found is not None:
                return self.status(found, phone_last4, sender_id, channel)
            # What was typed may be anything (even a phone number): keep only a masked excerpt.
            audit("invalid_code", mask_text(str(code or ""))[:40], exc.reason)
            return InvalidCode(exc.user_message)

        locked = self._lockout(sender, norm, now)
        if locked is not None:
            audit("locked_out", norm, f"reason={locked.reason}")
            return locked

        digits = normalize_last4(phone_last4)
        if digits is None:
            audit("invalid_digits", norm)
            return InvalidPhoneDigits(_PHONE_DIGITS_MESSAGE)

        try:
            record = self.source.fetch(norm)
        except DossierSourceUnavailable as exc:
            log.warning("dossier source unavailable: %s", exc)
            audit("unavailable", norm, str(exc)[:200])
            return Unavailable()
        except Exception:  # an unexpected bug in a source must still end politely
            log.exception("dossier source failed unexpectedly")
            audit("unavailable", norm, "unexpected error")
            return Unavailable()

        if record is None:
            # Counts against the sender only: probing for codes is abuse too.
            self.store.record_attempt(sender, None, False, now)
            audit("not_found", norm)
            return NotFound(norm)

        expected = record.phone_last4 or ""
        if len(expected) != 4 or not hmac.compare_digest(expected.encode(), digits.encode()):
            self.store.record_attempt(sender, norm, False, now)
            audit("wrong_phone", norm)
            left = self._attempts_left(sender, norm, now)
            if left <= 0:
                locked = self._lockout(sender, norm, now)
                if locked is not None:
                    return locked
            return WrongPhone(norm, max(left, 0))

        self.store.record_attempt(sender, norm, True, now, status_seen=record.status)
        audit("verified", norm, f"status={record.status}")
        return Verified(_view(record, today_vn(now)))

    def subscribe(self, code: str, channel: str, sender_id: str) -> SubscriptionResult:
        """Subscribe a sender to status changes, only after their own verified lookup of ``code`` recently."""
        now = self.clock()
        sender = self._sender(channel, sender_id)
        try:
            norm = normalize_code(code)
        except InvalidDossierCode as exc:
            self.store.audit("subscribe", "invalid_code", now, channel, sender, None, exc.reason)
            return SubscriptionResult("invalid_code", exc.user_message)
        verified = self.store.last_success(sender, norm, now - self.policy.subscribe_window)
        if verified is None:
            self.store.audit("subscribe", "not_verified", now, channel, sender, norm)
            return SubscriptionResult(
                "not_verified",
                "Dạ, để đăng ký nhận thông báo, anh/chị vui lòng tra cứu và xác minh hồ sơ "
                f"{norm} (nhập 4 số cuối điện thoại đã đăng ký) trước ạ.",
                norm,
            )
        created = self.store.subscribe(channel, sender_id, norm, now, verified.status_seen)
        self.store.audit("subscribe", "subscribed" if created else "already", now, channel, sender, norm)
        if not created:
            return SubscriptionResult(
                "already", f"Dạ, anh/chị đã đăng ký theo dõi hồ sơ {norm} rồi ạ. Khi có thay đổi em sẽ báo ngay.", norm
            )
        return SubscriptionResult(
            "subscribed",
            f"Dạ, em đã ghi nhận. Khi hồ sơ {norm} thay đổi trạng thái, em sẽ nhắn anh/chị ngay tại đây ạ. "
            'Anh/chị có thể nhắn "hủy theo dõi" bất cứ lúc nào.',
            norm,
        )

    def unsubscribe(self, code: str | None, channel: str, sender_id: str) -> SubscriptionResult:
        """Stop notifications for ``code`` (or every dossier the sender follows when ``code`` is None)."""
        now = self.clock()
        sender = self._sender(channel, sender_id)
        norm: str | None = None
        if code:
            try:
                norm = normalize_code(code)
            except InvalidDossierCode as exc:
                return SubscriptionResult("invalid_code", exc.user_message)
        removed = self.store.unsubscribe(channel, sender_id, norm)
        self.store.audit("unsubscribe", "removed" if removed else "none", now, channel, sender, norm, f"n={removed}")
        if not removed:
            what = f"hồ sơ {norm}" if norm else "hồ sơ nào"
            return SubscriptionResult("not_subscribed", f"Dạ, anh/chị hiện không theo dõi {what} ạ.", norm)
        what = f"hồ sơ {norm}" if norm else "các hồ sơ anh/chị đã đăng ký"
        return SubscriptionResult(
            "unsubscribed", f"Dạ, em đã hủy theo dõi {what}; em sẽ không gửi thông báo nữa ạ.", norm
        )


def build_source(store: DossierStore, source: str | None = None) -> DossierSource:
    """The configured source: the SQL store itself, or the one-door HTTP connector (``DOSSIER_SOURCE``)."""
    kind = source or dossier_settings().source
    if kind == "http":
        from bot.dossiers.connector import HttpDossierSource, OneDoorConfig

        return HttpDossierSource(OneDoorConfig.from_env())
    return store


def build_lookup(engine: Engine | None = None) -> DossierLookup:
    """A ready :class:`DossierLookup` on the configured database and source (call once per process)."""
    from bot.db import engine_for

    store = DossierStore(engine or engine_for())
    return DossierLookup(build_source(store), store)
