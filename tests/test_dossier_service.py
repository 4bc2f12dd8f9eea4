"""Dossier lookup: verification, every refusal path, lockouts with cool-down, subscriptions and the audit log."""

from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.dossiers.demo import DEMO_DOSSIERS, seed_demo
from bot.dossiers.models import create_tables
from bot.dossiers.service import (
    BUSY_MESSAGE,
    DossierLookup,
    InvalidCode,
    InvalidPhoneDigits,
    LockedOut,
    NotFound,
    Unavailable,
    Verified,
    WrongPhone,
    format_result,
    format_view,
    normalize_last4,
)
from bot.dossiers.source import DossierRecord, DossierSourceUnavailable, hash_phone
from bot.dossiers.store import DossierStore

SALT = b"test-salt"
DEMO = "000.00.00.H99-261120-0001"
OVERDUE = "000.00.00.H99-261015-0003"
RETURNED = "000.00.00.H99-260905-0004"
NEEDS_DOCS = "000.00.00.H99-261102-0002"
UNKNOWN = "000.00.00.H99-261120-0999"


class Clock:
    """A settable clock (aware UTC)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc))  # 09:00 in Vietnam


@pytest.fixture
def store(engine: Engine) -> DossierStore:
    create_tables(engine)
    seed_demo(engine, salt=SALT)
    return DossierStore(engine, SALT)


@pytest.fixture
def lookup(store: DossierStore, clock: Clock) -> DossierLookup:
    return DossierLookup(store, store, clock=clock, salt=SALT)


def test_seed_demo_is_idempotent_and_stores_only_hash_and_last4(engine: Engine, store: DossierStore) -> None:
    assert seed_demo(engine, salt=SALT) == 0
    record = store.fetch(DEMO)
    assert record is not None and record.is_demo and record.status == 4
    assert record.procedure_code == "1.004222" and record.promised_date == date(2026, 12, 1)
    assert record.phone_last4 == "6789" and record.phone_hash == hash_phone("0900006789", SALT)
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM dossiers")) for v in row)
    assert "0900006789" not in dump
    assert len({d.code for d in DEMO_DOSSIERS}) == len(DEMO_DOSSIERS) >= 4


def test_verified_lookup_shows_only_public_fields(lookup: DossierLookup) -> None:
    result = lookup.status(" 000.00.00.h99-261120-0001 ", "6789", "user-1", "telegram")
    assert isinstance(result, Verified)
    view = result.view
    assert (view.code, view.procedure_code, view.status, view.status_label) == (DEMO, "1.004222", 4, "Đang xử lý")
    assert view.promised_date == date(2026, 12, 1) and not view.overdue
    message = format_result(result)
    assert "01/12/2026" in message and "20/11/2026" in message and "Đăng ký thường trú" in message
    assert "dữ liệu minh họa" in message
    assert not hasattr(view, "applicant_name") and not hasattr(view, "phone_last4")
    for secret in ("NGUYỄN VĂN DEMO", "Số 1 đường", "000000000001", "6789"):
        assert secret not in message and secret not in repr(view)


def test_full_phone_number_is_accepted_as_second_factor(lookup: DossierLookup) -> None:
    assert normalize_last4("67 89") == "6789"
    assert normalize_last4("0900 006 789") == "6789"
    assert normalize_last4("+84900006789") == "6789"
    assert normalize_last4("678") is None and normalize_last4("") is None
    assert isinstance(lookup.status(DEMO, "0900006789", "u", "rest"), Verified)


def test_overdue_and_other_statuses_in_view(lookup: DossierLookup) -> None:
    overdue = lookup.status(OVERDUE, "1357", "u", "rest")
    assert isinstance(overdue, Verified) and overdue.view.overdue and overdue.view.days_overdue == 38
    assert "đã quá hạn 38 ngày" in format_view(overdue.view) and "xin lỗi" in format_view(overdue.view)
    assert "chờ đến ngày hẹn" not in overdue.view.next_step  # no "wait for the date" once it has passed
    returned = lookup.status(RETURNED, "4321", "u", "rest")
    assert isinstance(returned, Verified) and not returned.view.overdue
    assert returned.view.status_label == "Đã trả kết quả"
    docs = lookup.status(NEEDS_DOCS, "2468", "u", "rest")
    assert isinstance(docs, Verified) and "bổ sung" in format_view(docs.view)


def test_refusal_paths(lookup: DossierLookup) -> None:
    sentence = lookup.status("tra cứu hồ sơ 000.00.00.h99-261120-0001 giúp em", "6789", "s", "rest")
    assert isinstance(sentence, Verified) and sentence.view.code == DEMO
    invalid = lookup.status("000.00.H99-261120", "6789", "u", "rest")
    assert isinstance(invalid, InvalidCode) and "000.00.12.H61-240831-0001" in invalid.message
    digits = lookup.status(DEMO, "67", "u", "rest")
    assert isinstance(digits, InvalidPhoneDigits) and "4 chữ số cuối" in format_result(digits)
    not_found = lookup.status(UNKNOWN, "6789", "u", "rest")
    assert isinstance(not_found, NotFound) and UNKNOWN in format_result(not_found)
    wrong = lookup.status(DEMO, "1234", "u", "rest")
    assert isinstance(wrong, WrongPhone) and wrong.attempts_left == 3  # the not-found counted too
    assert "còn 3 lần" in format_result(wrong)
    assert "Đang xử lý" not in format_result(wrong)


class _Broken:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def fetch(self, code: str) -> DossierRecord | None:
        raise self.exc


@pytest.mark.parametrize("exc", [DossierSourceUnavailable("timeout"), RuntimeError("bug in a source")])
def test_unavailable_source_gives_the_busy_message(store: DossierStore, clock: Clock, exc: Exception) -> None:
    service = DossierLookup(_Broken(exc), store, clock=clock, salt=SALT)
    result = service.status(DEMO, "6789", "u", "rest")
    assert isinstance(result, Unavailable)
    assert format_result(result) == BUSY_MESSAGE == "Dạ, hệ thống đang bận, anh/chị vui lòng thử lại sau ạ."


def test_sender_lockout_after_five_failures_and_cool_down(lookup: DossierLookup, clock: Clock) -> None:
    results = []
    for _ in range(5):
        results.append(lookup.status(DEMO, "0000", "attacker", "rest"))
        clock.advance(minutes=1)
    assert [r.attempts_left for r in results[:4]] == [4, 3, 2, 1]  # type: ignore[union-attr]
    assert isinstance(results[4], LockedOut) and results[4].reason == "sender"
    first_failure = clock.now - timedelta(minutes=5)
    assert results[4].until == first_failure + timedelta(hours=1)
    # Even the right digits are refused while locked, and the refusal says until when (Vietnam time).
    refused = lookup.status(DEMO, "6789", "attacker", "rest")
    assert isinstance(refused, LockedOut)
    assert "thử lại sau 10:00 ngày 27/11/2026" in format_result(refused)
    # Another sender is not affected by this sender's lockout (the code has 5 failures, below 10).
    assert isinstance(lookup.status(DEMO, "6789", "owner", "rest"), Verified)
    # After the cool-down the oldest failure leaves the window: one more try is allowed.
    clock.now = first_failure + timedelta(hours=1, seconds=1)
    assert isinstance(lookup.status(DEMO, "6789", "attacker", "rest"), Verified)


def test_not_found_probing_counts_against_the_sender(lookup: DossierLookup) -> None:
    for i in range(5):
        assert isinstance(lookup.status(f"000.00.00.H99-261120-{i + 100:04d}", "6789", "prober", "rest"), NotFound)
    assert isinstance(lookup.status(DEMO, "6789", "prober", "rest"), LockedOut)


def test_code_lockout_after_ten_failures_from_anyone(lookup: DossierLookup, clock: Clock) -> None:
    for i in range(10):
        lookup.status(DEMO, "0000", f"bot-{i}", "rest")
        clock.advance(seconds=30)
    refused = lookup.status(DEMO, "6789", "owner", "telegram")
    assert isinstance(refused, LockedOut) and refused.reason == "code"
    # Other dossiers stay reachable for the same senders.
    assert isinstance(lookup.status(RETURNED, "4321", "bot-0", "rest"), Verified)
    clock.advance(hours=1)
    assert isinstance(lookup.status(DEMO, "6789", "owner", "telegram"), Verified)


def test_subscribe_requires_a_recent_verified_lookup_by_the_same_sender(
    lookup: DossierLookup, store: DossierStore, clock: Clock
) -> None:
    refused = lookup.subscribe(DEMO, "telegram", "42")
    assert refused.outcome == "not_verified" and not refused.ok
    lookup.status(DEMO, "1111", "42", "telegram")  # a failed lookup does not count
    assert lookup.subscribe(DEMO, "telegram", "42").outcome == "not_verified"
    assert isinstance(lookup.status(DEMO, "6789", "42", "telegram"), Verified)
    assert lookup.subscribe(DEMO, "rest", "42").outcome == "not_verified"  # other channel, other sender
    assert lookup.subscribe(DEMO, "telegram", "43").outcome == "not_verified"
    ok = lookup.subscribe("000.00.00.h99 261120 0001", "telegram", "42")
    assert ok.outcome == "subscribed" and ok.ok and "hủy theo dõi" in ok.message
    assert lookup.subscribe(DEMO, "telegram", "42").outcome == "already"
    subs = store.subscriptions(DEMO)
    assert [(s.channel, s.sender_id, s.last_notified_status) for s in subs] == [("telegram", "42", 4)]
    assert lookup.subscribe("bad", "telegram", "42").outcome == "invalid_code"
    # Verification expires.
    assert isinstance(lookup.status(RETURNED, "4321", "42", "telegram"), Verified)
    clock.advance(minutes=31)
    assert lookup.subscribe(RETURNED, "telegram", "42").outcome == "not_verified"
    # Unsubscribe one, then all.
    assert lookup.unsubscribe(DEMO, "telegram", "42").outcome == "unsubscribed"
    assert lookup.unsubscribe(DEMO, "telegram", "42").outcome == "not_subscribed"
    assert store.subscriptions() == []


def test_unsubscribe_all(lookup: DossierLookup, store: DossierStore) -> None:
    for code, digits in ((DEMO, "6789"), (RETURNED, "4321")):
        lookup.status(code, digits, "7", "telegram")
        lookup.subscribe(code, "telegram", "7")
    result = lookup.unsubscribe(None, "telegram", "7")
    assert result.outcome == "unsubscribed" and "các hồ sơ" in result.message
    assert store.subscriptions() == []


PII = re.compile(r"\d{7,}|6789|2468|1357|4321|0000|1111|NGUYỄN|DEMO|@")


def test_audit_has_every_lookup_and_no_personal_data(lookup: DossierLookup, store: DossierStore) -> None:
    lookup.status(DEMO, "6789", "0912345678", "rest")  # a sender id that is a phone number
    lookup.status(DEMO, "1111", "0912345678", "rest")
    lookup.status(UNKNOWN, "0000", "u", "rest")
    lookup.status("0987654321", "6789", "u", "rest")  # a phone typed instead of the code
    lookup.status("CCCD 001099012345", "6789", "u", "rest")
    lookup.status(DEMO, "12", "u", "rest")
    lookup.subscribe(DEMO, "rest", "0912345678")
    rows = store.audit_rows()
    outcomes = [(r.action, r.outcome) for r in rows]
    assert outcomes == [
        ("lookup", "verified"),
        ("lookup", "wrong_phone"),
        ("lookup", "not_found"),
        ("lookup", "invalid_code"),
        ("lookup", "invalid_code"),
        ("lookup", "invalid_digits"),
        ("subscribe", "subscribed"),
    ]
    for row in rows:
        # sender_ref is a hex HMAC (its digits are not personal data): check it is not the raw id.
        assert row.sender_ref and "0912345678" not in row.sender_ref and len(row.sender_ref) == 32
        for value in (row.channel, row.dossier_code, row.detail):
            cleaned = (value or "").replace(DEMO, "").replace(UNKNOWN, "")
            assert not PII.search(cleaned), (row.action, row.outcome, value)


def test_concurrent_lookups_use_separate_sessions(lookup: DossierLookup) -> None:
    errors: list[BaseException] = []
    results: list[object] = []

    def worker(i: int) -> None:
        try:
            results.append(lookup.status(DEMO, "6789", f"thread-{i}", "rest"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 8 and all(isinstance(r, Verified) for r in results)


def test_names_provider_feeds_log_masking(store: DossierStore) -> None:
    from bot.privacy import mask_text

    provider = store.names_provider(ttl=60)
    names = provider()
    assert "NGUYỄN VĂN DEMO" in names and provider() is names  # cached
    assert mask_text("hồ sơ của nguyễn văn demo", names) == "hồ sơ của n*** v*** d***"
