"""Erasure, export, holds and subjects (bot.privacy.lifecycle): one citizen in every store, another who stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.db import Base
from bot.db.schema import import_models
from bot.dossiers.codes import normalise_dossier_code as dossier_normalise
from bot.dossiers.source import sender_ref as dossier_sender_ref
from bot.privacy.lifecycle import (
    CONVERSATION_TABLES,
    NO_PERSONAL_DATA,
    SENDER_TABLES,
    SPECIAL_TABLES,
    DataLifecycle,
    SubjectHeld,
)
from bot.privacy.models import ERASURES
from bot.privacy.subjects import Subject, normalise_dossier_code, sender_key, sender_ref
from tests.privacy.seeding import ANNA, BINH, rows_of, seed, traces

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def seeded(engine: Engine, tracker: Engine) -> DataLifecycle:
    seed(engine, tracker, ANNA, NOW)
    seed(engine, tracker, BINH, NOW, start=NOW.timestamp() + 100)
    return DataLifecycle(engine, tracker)


def _children(engine: Engine) -> set[int]:
    """Conversation ids that the record's child tables still hold rows for (each table must have some)."""
    ids: set[int] = set()
    with engine.connect() as conn:
        for name in CONVERSATION_TABLES:
            table = Base.metadata.tables[name]
            ids |= set(conn.execute(select(table.c.conversation_id)).scalars())
    return ids


def test_every_table_is_classified() -> None:
    """A new table must say whether (and how) it holds a citizen's data, or erasure would miss it."""
    import_models()
    classified = set(SENDER_TABLES) | set(CONVERSATION_TABLES) | set(SPECIAL_TABLES) | set(NO_PERSONAL_DATA)
    assert set(Base.metadata.tables) - classified == set()


def test_the_seed_reaches_every_store(seeded: DataLifecycle) -> None:
    counts = rows_of(ANNA, seeded.engine, seeded.tracker)
    assert all(counts.values()), counts
    # The scan finds them before erasure, in every store.
    assert {table for table, _ in traces(ANNA, seeded.engine, seeded.tracker)} == {
        "events",
        "conv_conversations",
        "conv_turns",
        "helpdesk_handoffs",
        "helpdesk_callbacks",
        "console_notes",
        "dossier_subscriptions",
        "dossier_verification_attempts",
        "dossier_audit_log",
        "channel_user_activity",
        "console_audit",
    }


@pytest.mark.parametrize("subject", [Subject("sender", ANNA.sender), Subject("phone", "+84 912 345 678")])
def test_erase_leaves_no_trace_and_keeps_the_other_citizen(seeded: DataLifecycle, subject: Subject) -> None:
    before_b = rows_of(BINH, seeded.engine, seeded.tracker)
    assert len(_children(seeded.engine)) == 2
    conv = Base.metadata.tables["conv_conversations"]
    with seeded.engine.connect() as conn:
        binh_id = conn.execute(select(conv.c.id).where(conv.c.sender_id == BINH.sender)).scalar_one()
    report = seeded.erase(subject, reference="PYC-2026-001", requested_by="thu")

    assert report.sender_ids == (ANNA.sender,)
    assert report.rows["events"] == 7 and report.rows["conv_conversations"] == 1
    assert report.rows["console_audit"] == 2  # target and reason, anonymised
    assert _children(seeded.engine) == {binh_id}  # conv_procedures, conv_intents, conv_terms: keyed by id
    assert traces(ANNA, seeded.engine, seeded.tracker) == []
    assert rows_of(BINH, seeded.engine, seeded.tracker) == before_b
    assert traces(BINH, seeded.engine, seeded.tracker)  # the other citizen is all there

    t = Base.metadata.tables
    with seeded.engine.connect() as conn:
        audit = conn.execute(select(t["console_audit"].c.target, t["console_audit"].c.reason)).all()
        request = conn.execute(select(t["privacy_requests"])).one()
        kept = conn.execute(select(t["dossier_audit_log"].c.sender_ref)).scalars().all()
    assert ("erased:PYC-2026-001", "khiếu nại của erased:PYC-2026-001") in audit
    assert request.kind == "erase" and request.reference == "PYC-2026-001" and request.requested_by == "thu"
    assert request.result["rows"]["events"] == 7
    assert set(kept) == {None, dossier_sender_ref(BINH.channel, BINH.sender)}  # the row stays, unlinked
    with seeded.tracker.connect() as conn:
        assert conn.execute(select(ERASURES.c.sender_key)).scalars().all() == [sender_key(ANNA.sender)]


def test_phone_resolution_finds_the_sealed_originals_and_call_backs(seeded: DataLifecycle) -> None:
    found = seeded.resolve(Subject("phone", "0912.345.678"))
    assert found.sender_ids == (ANNA.sender,)
    assert set(found.found_in[ANNA.sender]) == {"helpdesk_callbacks", "conv_turns", "events"}


def test_a_note_naming_a_phone_does_not_pull_in_another_conversation(seeded: DataLifecycle) -> None:
    """A staff note in BINH's conversation quoting ANNA's number: ANNA's export and erasure leave BINH alone."""
    notes = seeded.t["console_notes"]
    with seeded.engine.begin() as conn:
        conn.execute(notes.insert().values(handoff_id=1, sender_id=BINH.sender, author="lan", at=datetime(2026, 12, 7),
                                           text=f"người nhà gọi {ANNA.phone}"))  # fmt: skip
    assert seeded.resolve(Subject("phone", ANNA.phone)).sender_ids == (ANNA.sender,)


def test_dossier_resolution(seeded: DataLifecycle) -> None:
    found = seeded.resolve(Subject("dossier", "000 00 00 h99 261120 0001"))
    assert found.sender_ids == (ANNA.sender,)
    assert {"dossier_subscriptions", "conv_turns", "events"} <= set(found.found_in[ANNA.sender])


def test_an_unknown_sender_resolves_to_nothing(seeded: DataLifecycle) -> None:
    assert seeded.resolve(Subject("sender", "telegram_ptb:0")).sender_ids == ()
    report = seeded.erase(Subject("phone", "0900000000"), reference="PYC-9", requested_by="thu")
    assert report.sender_ids == () and report.rows == {}


def test_export_holds_the_person_and_no_one_else(seeded: DataLifecycle) -> None:
    data = seeded.export(Subject("phone", ANNA.phone), reference="PYC-2026-002", requested_by="thu")
    text = json.dumps(data, ensure_ascii=False)
    assert ANNA.sender in text and BINH.sender not in text and BINH.phone not in text
    assert data["sender_ids"] == [ANNA.sender]
    stores = data["stores"]
    originals = [t["original"] for t in stores["conv_turns"] if t["original"]]
    assert any("0912 345 678" in o for o in originals)  # the sealed original, opened: it is their own message
    assert stores["helpdesk_callbacks"][0]["phone"] == ANNA.phone
    assert len(stores["events"][ANNA.sender]) == 7
    for name in (
        "helpdesk_handoffs",
        "console_notes",
        "dossier_subscriptions",
        "dossier_verification_attempts",
        "dossier_audit_log",
        "channel_user_activity",
        "console_audit",
        "conv_intents",
    ):
        assert stores[name], name
    with seeded.engine.connect() as conn:
        request = conn.execute(select(Base.metadata.tables["privacy_requests"])).one()
    assert request.kind == "export" and request.subject_kind == "phone"
    assert ANNA.phone not in request.subject and ANNA.phone[1:] not in request.subject


def test_a_held_conversation_is_not_erased_unless_overridden(seeded: DataLifecycle) -> None:
    seeded.hold(ANNA.sender, reference="KN-17", reason="khiếu nại đang giải quyết", created_by="thu")
    with pytest.raises(ValueError, match="already on hold"):
        seeded.hold(ANNA.sender, reference="KN-18", reason="x", created_by="thu")
    assert [h.reference for h in seeded.holds()] == ["KN-17"]
    with pytest.raises(SubjectHeld, match="KN-17"):
        seeded.erase(Subject("sender", ANNA.sender), reference="PYC-3", requested_by="thu")
    assert rows_of(ANNA, seeded.engine, seeded.tracker)["events"] == 7
    report = seeded.erase(Subject("sender", ANNA.sender), reference="PYC-3", requested_by="thu", override_hold=True)
    assert report.rows["privacy_holds"] == 1 and seeded.holds() == []
    assert traces(ANNA, seeded.engine, seeded.tracker) == []


def test_release(seeded: DataLifecycle) -> None:
    seeded.hold(ANNA.sender, reference="KN-1", reason="r", created_by="thu")
    assert seeded.release(ANNA.sender, released_by="thu") is True
    assert seeded.release(ANNA.sender, released_by="thu") is False
    with seeded.engine.connect() as conn:
        kinds = conn.execute(select(Base.metadata.tables["privacy_requests"].c.kind)).scalars().all()
    assert kinds == ["hold", "release"]


def test_requests_need_a_reference(seeded: DataLifecycle) -> None:
    with pytest.raises(ValueError, match="reference"):
        seeded.erase(Subject("sender", ANNA.sender), reference=" ", requested_by="thu")
    with pytest.raises(ValueError, match="requested_by"):
        seeded.export(Subject("sender", ANNA.sender), reference="PYC", requested_by="")


@pytest.mark.parametrize(
    ("kind", "value", "normal"),
    [
        ("phone", "+84 912 345 678", "0912345678"),
        ("phone", "0084912345678", "0912345678"),
        ("phone", "(091) 234-5678", "0912345678"),
        ("phone", "84912345678", "0912345678"),
        ("phone", "024 3825 1234", "02438251234"),
        ("dossier", "000.00.12.h61 - 240831 - 0001", "000.00.12.H61-240831-0001"),
        ("dossier", "0000012H612408310001", "000.00.12.H61-240831-0001"),
        ("sender", "  zalo:123 ", "zalo:123"),
    ],
)
def test_subjects_are_normalised(kind: str, value: str, normal: str) -> None:
    assert Subject(kind, value).value == normal  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("email", "a@b.c", "unknown subject kind"),
        ("sender", "", "empty sender"),
        ("sender", "x" * 256, "at most 255"),
        ("sender", "zalo:1\n2", "control characters"),
        ("phone", "12345", "not a Vietnamese phone number"),
        ("phone", "không có", "needs digits"),
        ("dossier", "000.00.12.H61-241331-0001", "impossible filing date"),
        ("dossier", "HS-123", "national format"),
    ],
)
def test_bad_subjects_say_why(kind: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Subject(kind, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "code", ["000.00.12.H61-240831-0001", "000 00 12 h61 240831 0001", "000.00.00.H99-261120-0001"]
)
def test_the_restated_dossier_helpers_agree_with_the_dossier_service(code: str) -> None:
    assert normalise_dossier_code(code) == dossier_normalise(code)
    for channel in ("telegram_ptb", "rest", "zalo"):
        assert sender_ref(channel, "zalo:42") == dossier_sender_ref(channel, "zalo:42")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("số em 0912345678", True),
        ("số em 0912 345 678 nha", True),
        ("+84 (0) 912.345.678", True),
        ("(+84)912-345-678", True),
        ("00849 1234 5678", True),
        ("số 09123456789", False),  # a longer number is another number
        ("10912345678", False),
        ("091*****78", False),
    ],
)
def test_the_phone_is_found_however_typed(text: str, found: bool) -> None:
    assert Subject("phone", "0912345678").found_in(text) is found


def test_the_tracker_is_deleted_while_the_conversation_lock_is_held(engine: Engine, tracker: Engine) -> None:
    seed(engine, tracker, ANNA, NOW)
    log: list[tuple[str, str, int]] = []

    @contextmanager
    def lock(sender_id: str) -> Iterator[None]:
        log.append(("enter", sender_id, rows_of(ANNA, engine, tracker)["events"]))
        yield
        log.append(("exit", sender_id, rows_of(ANNA, engine, tracker)["events"]))

    DataLifecycle(engine, tracker, lock=lock).erase(Subject("sender", ANNA.sender), reference="R", requested_by="t")
    assert log == [("enter", ANNA.sender, 7), ("exit", ANNA.sender, 0)]


def test_events_reaching_the_record_after_an_erasure_do_not_bring_it_back(seeded: DataLifecycle) -> None:
    """A lagging consumer (or a replica publishing what it kept during a broker outage) delivers the erased
    conversation's events after the erasure: the record drops them; what the citizen writes later is kept."""
    from bot.conversations.query import ConversationRecord
    from bot.conversations.recorder import Recorder

    seeded.erase(Subject("sender", ANNA.sender), reference="PYC-2026-009", requested_by="thu")
    before = seeded.clock().timestamp()
    late = [
        {"event": "user", "sender_id": ANNA.sender, "timestamp": before - 30, "text": "số tôi là 0912345678",
         "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}, "input_channel": "rest"},
        {"event": "bot", "sender_id": ANNA.sender, "timestamp": before - 29, "text": "Dạ, em chào anh/chị!"},
    ]  # fmt: skip
    assert Recorder(seeded.engine).apply(late) == 0
    assert traces(ANNA, seeded.engine, seeded.tracker) == []
    later = [{**late[0], "timestamp": before + 60, "text": "xin chào lần nữa"}]
    assert Recorder(seeded.engine).apply(later) == 1
    assert [t.text for t in ConversationRecord(seeded.engine).transcript(ANNA.sender)] == ["xin chào lần nữa"]
