"""Dossier lookup: verification, every refusal path, lockouts with cool-down, subscriptions and the audit log."""

from __future__ import annotations

import logging
import re
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.dossiers.demo import DEMO_DOSSIERS, seed_demo
from bot.dossiers.render import invalid_code_text, lookup_text, subscription_text, update_reply, view_text
from bot.dossiers.service import (
    DossierLookup,
    InvalidCode,
    InvalidPhoneDigits,
    LockedOut,
    LockoutPolicy,
    NotFound,
    NotMatched,
    StatusUpdate,
    Throttled,
    Unavailable,
    UpdateIgnored,
    Verified,
    WrongPhone,
    normalise_phone_last4,
)
from bot.dossiers.source import (
    DossierRecord,
    DossierSourceUnavailable,
    hash_last4,
    hash_phone,
    requester_ref,
    sender_ref,
)
from bot.dossiers.store import DossierStore
from tests.fakes import holds_digits

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
    seed_demo(engine, salt=SALT)
    return DossierStore(engine, SALT)


@pytest.fixture
def lookup(store: DossierStore, clock: Clock) -> DossierLookup:
    return DossierLookup(store, store, clock=clock, salt=SALT)


def test_seed_demo_is_idempotent_and_stores_only_hashes(engine: Engine, store: DossierStore) -> None:
    assert seed_demo(engine, salt=SALT) == 0
    record = store.fetch(DEMO)
    assert record is not None and record.is_demo and record.status == 4
    assert record.procedure_code == "1.004222" and record.promised_date == date(2026, 12, 1)
    assert record.phone_hash == hash_phone("0900006789", SALT)
    assert record.last4_hash == hash_last4("6789", SALT) and record.phone_last4 is None
    assert not holds_digits(repr(record), "6789")
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
    message = lookup_text(result)
    assert "01/12/2026" in message and "20/11/2026" in message and "Đăng ký thường trú" in message
    assert "dữ liệu minh họa" in message
    assert not hasattr(view, "applicant_name") and not hasattr(view, "phone_last4")
    for secret in ("NGUYỄN VĂN DEMO", "Số 1 đường", "000000000001", "6789"):
        assert secret not in message and not holds_digits(repr(view), secret)


def test_full_phone_number_is_accepted_as_second_factor(lookup: DossierLookup) -> None:
    assert normalise_phone_last4("67 89") == "6789"
    assert normalise_phone_last4("0900 006 789") == "6789"
    assert normalise_phone_last4("+84900006789") == "6789"
    assert normalise_phone_last4("678") is None and normalise_phone_last4("") is None
    assert isinstance(lookup.status(DEMO, "0900006789", "u", "rest"), Verified)


def test_overdue_and_other_statuses_in_view(lookup: DossierLookup) -> None:
    overdue = lookup.status(OVERDUE, "1357", "u", "rest")
    assert isinstance(overdue, Verified) and overdue.view.overdue and overdue.view.days_overdue == 38
    assert "đã quá hạn 38 ngày" in view_text(overdue.view) and "xin lỗi" in view_text(overdue.view)
    assert "chờ đến ngày hẹn" not in overdue.view.next_step  # no "wait for the date" once it has passed
    returned = lookup.status(RETURNED, "4321", "u", "rest")
    assert isinstance(returned, Verified) and not returned.view.overdue
    assert returned.view.status_label == "Đã trả kết quả"
    docs = lookup.status(NEEDS_DOCS, "2468", "u", "rest")
    assert isinstance(docs, Verified) and "bổ sung" in view_text(docs.view)


def test_refusal_paths(lookup: DossierLookup) -> None:
    sentence = lookup.status("tra cứu hồ sơ 000.00.00.h99-261120-0001 giúp em", "6789", "s", "rest")
    assert isinstance(sentence, Verified) and sentence.view.code == DEMO
    invalid = lookup.status("000.00.H99-261120", "6789", "u", "rest")
    assert isinstance(invalid, InvalidCode) and "000.00.12.H61-240831-0001" in invalid_code_text(invalid.reason)
    digits = lookup.status(DEMO, "67", "u", "rest")
    assert isinstance(digits, InvalidPhoneDigits) and "4 chữ số cuối" in lookup_text(digits)
    not_found = lookup.status(UNKNOWN, "6789", "u", "rest")
    assert isinstance(not_found, NotFound) and UNKNOWN in lookup_text(not_found)
    wrong = lookup.status(DEMO, "1234", "u", "rest")
    assert isinstance(wrong, WrongPhone) and wrong.attempts_left == 3  # the not-found counted too (same requester)
    assert "còn 3 lần" in lookup_text(wrong)
    assert "Đang xử lý" not in lookup_text(wrong)


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
    assert lookup_text(result) == "Dạ, hệ thống đang bận, anh/chị vui lòng thử lại sau ạ."


def test_requester_lockout_after_five_failures_and_cool_down(lookup: DossierLookup, clock: Clock) -> None:
    results = []
    for _ in range(5):
        results.append(lookup.status(DEMO, "0000", "attacker", "rest"))
        clock.advance(minutes=1)
    assert [r.attempts_left for r in results[:4]] == [4, 3, 2, 1]  # type: ignore[union-attr]
    assert isinstance(results[4], LockedOut) and results[4].reason == "requester"
    first_failure = clock.now - timedelta(minutes=5)
    assert results[4].until == first_failure + timedelta(hours=1)
    # Even the right digits are refused while locked, and the refusal says until when (Vietnam time).
    refused = lookup.status(DEMO, "6789", "attacker", "rest")
    assert isinstance(refused, LockedOut)
    assert "thử lại sau 10:00 ngày 27/11/2026" in lookup_text(refused)
    # The lock is the requester's, on every dossier.
    assert isinstance(lookup.status(RETURNED, "4321", "attacker", "rest"), LockedOut)
    # Another requester is not affected.
    assert isinstance(lookup.status(DEMO, "6789", "owner", "rest"), Verified)
    # After the cool-down the oldest failure leaves the window: one more try is allowed.
    clock.now = first_failure + timedelta(hours=1, seconds=1)
    assert isinstance(lookup.status(DEMO, "6789", "attacker", "rest"), Verified)


def test_made_up_senders_from_one_requester_share_one_budget(lookup: DossierLookup, store: DossierStore) -> None:
    # The client picks sender ids freely; the requester key is the server's, so a new sender id starts nothing fresh.
    results = [lookup.status(DEMO, "0000", f"made-up-{i}", "rest", requester="ip:attacker") for i in range(10)]
    assert [r.attempts_left for r in results[:4]] == [4, 3, 2, 1]  # type: ignore[union-attr]
    assert all(isinstance(r, LockedOut) and r.reason == "requester" for r in results[4:])
    # Only 5 failures were recorded: locked requests are refused before the source is asked.
    assert len(store.failures_by_code(DEMO, datetime(2000, 1, 1, tzinfo=timezone.utc))) == 5
    # Even a fresh sender id with the right digits is refused while its requester is locked...
    assert isinstance(lookup.status(DEMO, "6789", "made-up-new", "rest", requester="ip:attacker"), LockedOut)
    # ...but the owner, another requester, verifies (whatever sender id their conversation has).
    assert isinstance(lookup.status(DEMO, "6789", "made-up-0", "rest", requester="ip:owner"), Verified)


def test_requester_keys_never_collide_with_sender_keys(lookup: DossierLookup, store: DossierStore) -> None:
    assert requester_ref("rest:x", SALT) != sender_ref("rest", "x", SALT)
    # A client choosing sender_id equal to someone's requester key does not share that requester's failures.
    for _ in range(5):
        lookup.status(DEMO, "0000", "s", "rest", requester="victim")
    assert isinstance(lookup.status(DEMO, "6789", "victim", "rest"), Verified)


def test_one_requester_has_one_budget_on_every_channel(lookup: DossierLookup) -> None:
    # The same client address through the REST API and through the web widget.
    for _ in range(3):
        lookup.status(DEMO, "0000", "a", "rest", requester="rq:same-ip")
    result = lookup.status(DEMO, "0000", "b", "socketio", requester="rq:same-ip")
    assert isinstance(result, WrongPhone) and result.attempts_left == 1


def test_successes_stay_per_conversation_when_a_requester_is_given(lookup: DossierLookup) -> None:
    assert isinstance(lookup.status(DEMO, "6789", "42", "telegram", requester="tg-user-1"), Verified)
    assert lookup.subscribe(DEMO, "telegram", "42").outcome == "subscribed"
    # Another conversation of the same requester has not verified anything itself.
    assert lookup.subscribe(DEMO, "telegram", "43").outcome == "not_verified"


def test_not_found_probing_counts_against_the_requester(lookup: DossierLookup) -> None:
    for i in range(4):
        assert isinstance(lookup.status(f"000.00.00.H99-261120-{i + 100:04d}", "6789", "prober", "rest"), NotFound)
    assert isinstance(lookup.status("000.00.00.H99-261120-0200", "6789", "prober", "rest"), LockedOut)
    assert isinstance(lookup.status(DEMO, "6789", "prober", "rest"), LockedOut)


def test_failures_on_one_code_alert_staff_but_never_lock_its_owner(
    lookup: DossierLookup, store: DossierStore, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.dossiers.service"):
        for i in range(12):
            result = lookup.status(DEMO, "0000", f"bot-{i}", "rest", requester=f"ip:bot-{i}")
            assert isinstance(result, WrongPhone) and result.attempts_left == 4  # their own first failure only
            clock.advance(seconds=61)  # past the attacked-code interval: every try is checked
    # The owner, from their own device, still verifies.
    assert isinstance(lookup.status(DEMO, "6789", "owner", "telegram", requester="tg:owner"), Verified)
    # Staff are alerted once per window for this code, at the 10th failure; the digits are in neither.
    alerts = [r for r in store.audit_rows() if r.action == "alert"]
    assert [(r.outcome, r.dossier_code, r.detail) for r in alerts] == [
        ("code_under_attack", DEMO, "failures=10 window=60m")
    ]
    assert alerts[0].at == datetime(2026, 11, 27, 2, 9, 9, tzinfo=timezone.utc)  # the 10th failure, 9 × 61 s in
    warnings = [r.getMessage() for r in caplog.records if "dossier code under attack" in r.getMessage()]
    assert len(warnings) == 1 and DEMO in warnings[0] and "0000" not in warnings[0].replace(DEMO, "")
    # A new window, new failures: a new alert.
    clock.advance(hours=1)
    for i in range(10):
        lookup.status(DEMO, "1111", "x", "rest", requester=f"ip:late-{i}")
    assert len([r for r in store.audit_rows() if r.action == "alert"]) == 2


def test_a_dossier_under_attack_is_checked_once_a_minute_and_its_owner_gets_in(
    lookup: DossierLookup, clock: Clock
) -> None:
    # Ten addresses (one forged X-Forwarded-For each, say) guess in quick succession.
    for i in range(10):
        assert isinstance(lookup.status(DEMO, f"{i:04d}", f"bot-{i}", "rest", requester=f"ip:{i}"), WrongPhone)
    # From now on one check a minute, by anyone: a guess is not even compared...
    guess = lookup.status(DEMO, "6789", "bot-x", "rest", requester="ip:x")
    assert isinstance(guess, Throttled) and "thử lại sau" in lookup_text(guess)
    owner = lookup.status(DEMO, "6789", "owner", "rest", requester="ip:owner")
    assert isinstance(owner, Throttled)
    # ...and a minute later the owner verifies (10,000 guesses would take about a week).
    clock.advance(seconds=61)
    assert isinstance(lookup.status(DEMO, "6789", "owner", "rest", requester="ip:owner"), Verified)
    assert isinstance(lookup.status(RETURNED, "4321", "other", "rest", requester="ip:owner"), Verified)


def test_attempts_left_depends_only_on_the_requester_own_failures(lookup: DossierLookup) -> None:
    def left(requester: str, code: str = DEMO) -> int:
        result = lookup.status(code, "0000", "s", "rest", requester=requester)
        assert isinstance(result, WrongPhone)
        return result.attempts_left

    assert left("alice") == 4
    for i in range(7):  # others hammer the same dossier (and another one), short of the attacked-code brake
        lookup.status(DEMO, "1111", f"s{i}", "rest", requester=f"other-{i}")
        lookup.status(RETURNED, "1111", f"s{i}", "rest", requester=f"other-{i}")
    assert left("bob") == 4  # as if nobody else had tried
    assert left("alice") == 3 and left("alice", RETURNED) == 2


def _flood_unknown_codes(lookup: DossierLookup, n: int) -> None:
    for i in range(n):  # many requesters, each within its own budget
        result = lookup.status(f"000.00.00.H99-261120-{i + 500:04d}", "6789", "s", "rest", requester=f"flood-{i // 3}")
        assert isinstance(result, (NotFound, NotMatched))


def test_over_the_unknown_code_limit_not_found_and_wrong_digits_look_the_same(
    lookup: DossierLookup, clock: Clock
) -> None:
    policy = LockoutPolicy()
    # Below the limit the answers differ (the usual helpful "not found").
    before = lookup.status(UNKNOWN, "6789", "s", "rest", requester="early")
    assert isinstance(before, NotFound)
    _flood_unknown_codes(lookup, policy.max_unknown_codes - 1)  # the limit is now reached (30 with "early")
    not_found = lookup.status(UNKNOWN, "6789", "s", "rest", requester="carol")
    wrong_digits = lookup.status(DEMO, "1111", "s", "rest", requester="dave")
    assert not_found == wrong_digits == NotMatched(attempts_left=4)
    assert lookup_text(not_found) == lookup_text(wrong_digits)
    assert lookup_text(not_found) == ("Dạ, mã hồ sơ hoặc 4 số cuối điện thoại chưa khớp ạ. Anh/chị còn 4 lần thử.")
    assert UNKNOWN not in lookup_text(not_found)
    # Both still count against the requester, and a correct code with its digits still verifies.
    again = lookup.status(DEMO, "2222", "s", "rest", requester="carol")
    assert again == NotMatched(attempts_left=3)
    assert isinstance(lookup.status(DEMO, "6789", "s", "rest", requester="carol"), Verified)
    # When the unknown-code window has passed, answers are specific again.
    clock.advance(minutes=policy.unknown_code_window.total_seconds() / 60 + 1)
    assert isinstance(lookup.status(UNKNOWN, "6789", "s", "rest", requester="erin"), NotFound)
    assert isinstance(lookup.status(DEMO, "1111", "s", "rest", requester="erin"), WrongPhone)


def test_no_dossier_row_holds_the_phone_digits_in_clear(engine: Engine, store: DossierStore) -> None:
    hex_hash = re.compile(r"[0-9a-f]{64}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM dossiers")).mappings().all()
    assert len(rows) == len(DEMO_DOSSIERS) and "phone_last4" not in rows[0]
    for row, item in zip(
        sorted(rows, key=lambda r: r["code"]), sorted(DEMO_DOSSIERS, key=lambda d: d.code), strict=True
    ):
        digits = item.phone[-4:]
        assert row["phone_last4_hash"] == hash_last4(digits, SALT)
        for column, value in row.items():
            cell = str(value)
            assert cell != digits, column
            if hex_hash.fullmatch(cell):  # an HMAC: opaque (hex may hold any 4 digits by chance)
                assert column in ("phone_hash", "phone_last4_hash"), column
                continue
            assert digits not in cell and item.phone not in cell, column


def test_a_source_with_the_digits_in_memory_still_verifies(store: DossierStore, clock: Clock) -> None:
    class InMemory:
        def fetch(self, code: str) -> DossierRecord | None:
            return DossierRecord(code, "1.004222", "Đăng ký thường trú", 4, phone_last4="6789")

    service = DossierLookup(InMemory(), store, clock=clock, salt=SALT)
    assert isinstance(service.status(DEMO, "1111", "u", "rest"), WrongPhone)
    assert isinstance(service.status(DEMO, "6789", "u", "rest"), Verified)


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
    assert ok.outcome == "subscribed" and ok.ok and "hủy theo dõi" in subscription_text(ok)
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
    assert result.outcome == "unsubscribed" and "các hồ sơ" in subscription_text(result)
    assert store.subscriptions() == []


def test_a_pushed_update_is_told_only_where_the_dossier_is_followed(lookup: DossierLookup) -> None:
    # trigger_intent can name any conversation: the rule is the service's, the wording the renderer's.
    assert lookup.update_for(DEMO, "9", "42") == UpdateIgnored("not_followed")
    lookup.status(DEMO, "6789", "42", "telegram")
    lookup.subscribe(DEMO, "telegram", "42")
    told = lookup.update_for("000.00.00.h99 261120 0001", "9", "42")
    assert told == StatusUpdate(DEMO, 9)
    reply = update_reply(told)
    assert DEMO in reply.text and "Đã xử lý xong" in reply.text and not reply.buttons
    assert lookup.update_for(DEMO, "9", "43") == UpdateIgnored("not_followed")
    assert update_reply(UpdateIgnored("not_followed")).is_empty  # nothing is sent


@pytest.mark.parametrize(
    ("code", "status"),
    [(DEMO, "99"), (DEMO, "0"), (DEMO, "²"), (DEMO, "٩"), (DEMO, "+9"), (DEMO, None), ("xem http://evil.example", "9"),
     (None, "9")],
)  # fmt: skip
def test_a_malformed_pushed_update_is_ignored(lookup: DossierLookup, code: str | None, status: str | None) -> None:
    lookup.status(DEMO, "6789", "42", "telegram")
    lookup.subscribe(DEMO, "telegram", "42")
    assert lookup.update_for(code, status, "42") == UpdateIgnored("malformed")


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
