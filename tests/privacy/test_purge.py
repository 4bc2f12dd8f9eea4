"""The retention purge (DataLifecycle.purge): idle vs recent vs held conversations, dry run, resuming, age rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from bot.conversations import Recorder
from bot.db import Base
from bot.privacy.lifecycle import DataLifecycle, RetentionRule
from bot.privacy.models import ERASURES, TRACKER_EVENTS, ensure_erasures
from tests.privacy.seeding import Citizen, conversation, tracker_rows

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=200)  # RETENTION_TRANSCRIPT_DAYS is 90 by default
OLD_DAY = date(2026, 5, 21)  # OLD in Vietnam


def _who(sender: str) -> Citizen:
    channel, _, user = sender.partition(":")
    return Citizen(channel, user, "0912345678", "000.00.00.H99-261120-0001")


def _add(app: Engine, tracker: Engine, sender: str, when: datetime, *, record: bool = True) -> None:
    events = conversation(_who(sender), when.timestamp())
    with tracker.begin() as conn:
        conn.execute(insert(TRACKER_EVENTS), tracker_rows(events))
    if record:
        Recorder(app).apply(events)


def _senders(app: Engine, tracker: Engine) -> tuple[set[str], set[str]]:
    conv = Base.metadata.tables["conv_conversations"]
    with app.connect() as conn:
        recorded = set(conn.execute(select(conv.c.sender_id)).scalars())
    with tracker.connect() as conn:
        tracked = set(conn.execute(select(TRACKER_EVENTS.c.sender_id).distinct()).scalars())
    return recorded, tracked


OLD_ONES = [f"rest:old{i}" for i in range(5)]


@pytest.fixture
def life(engine: Engine, tracker: Engine) -> DataLifecycle:
    for sender in OLD_ONES:
        _add(engine, tracker, sender, OLD)
    _add(engine, tracker, "rest:new", NOW - timedelta(days=1))
    _add(engine, tracker, "rest:held", OLD)
    _add(engine, tracker, "socketio:ghost", OLD, record=False)  # the record never got it
    _add(engine, tracker, "rest:late", OLD)
    with tracker.begin() as conn:  # an event the record missed, yesterday
        conn.execute(
            insert(TRACKER_EVENTS).values(
                sender_id="rest:late", type_name="user", timestamp=(NOW - timedelta(days=1)).timestamp(), data="{}"
            )
        )
    t = Base.metadata.tables
    with engine.begin() as conn:
        conn.execute(
            insert(t["console_audit"]),
            [
                {"at": (NOW - timedelta(days=1200)).replace(tzinfo=None), "username": "a", "action": "login"},
                {"at": (NOW - timedelta(days=10)).replace(tzinfo=None), "username": "a", "action": "login"},
            ],
        )
        conn.execute(text("CREATE TABLE scratch_rollups (day DATE NOT NULL, value INTEGER)"))
        conn.execute(text("INSERT INTO scratch_rollups VALUES ('2026-01-01', 1), ('2026-12-01', 2)"))
    lifecycle = DataLifecycle(engine, tracker, clock=lambda: NOW)
    lifecycle.hold("rest:held", reference="KN-1", reason="khiếu nại", created_by="thu")
    return lifecycle


RULES = [RetentionRule("scratch_rollups", "day", 30), RetentionRule("not_there_yet", "day", "rollup")]


def test_dry_run_lists_and_deletes_nothing(life: DataLifecycle) -> None:
    before = _senders(life.engine, life.tracker)
    report = life.purge(NOW, dry_run=True, rules=RULES)
    assert set(report.sender_ids) == {*OLD_ONES, "socketio:ghost"}
    assert report.skipped_held == 1 and report.skipped_recent == 1
    assert report.rows["events"] == 6 * 7 and report.rows["conv_conversations"] == 5
    assert report.rows["console_audit"] == 1 and report.rows["scratch_rollups"] == 1
    assert report.days == {OLD_DAY} and report.batches == 0
    assert _senders(life.engine, life.tracker) == before
    with life.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM scratch_rollups")) == 2
        assert conn.scalar(text("SELECT count(*) FROM console_audit")) == 2


def test_purge_erases_idle_conversations_only(life: DataLifecycle) -> None:
    seen: list[set[date]] = []
    report = life.purge(NOW, batch_size=2, before_delete=seen.append, rules=RULES)
    recorded, tracked = _senders(life.engine, life.tracker)
    assert recorded == {"rest:new", "rest:held", "rest:late"}
    assert tracked == {"rest:new", "rest:held", "rest:late"}
    assert report.conversations == 6 and report.batches == 4  # old0-1, old2-3, old4 (late is recent), ghost
    assert seen == [{OLD_DAY}] * 4
    t = Base.metadata.tables
    with life.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM scratch_rollups")) == 1
        assert conn.scalar(text("SELECT count(*) FROM console_audit")) == 1
        purges = conn.execute(select(t["privacy_requests"]).where(t["privacy_requests"].c.kind == "purge")).all()
        orphans = conn.scalar(
            select(func.count())
            .select_from(t["conv_terms"])
            .where(t["conv_terms"].c.conversation_id.notin_(select(t["conv_conversations"].c.id)))
        )
    assert len(purges) == 4 and sum(p.result["senders"] for p in purges) == 6
    assert orphans == 0
    assert life.purge(NOW, rules=RULES).conversations == 0  # nothing left to do


def test_an_interrupted_purge_resumes(life: DataLifecycle) -> None:
    calls: list[set[date]] = []

    def roll_up(days: set[date]) -> None:
        calls.append(days)
        if len(calls) == 2:
            raise RuntimeError("roll-up failed")

    with pytest.raises(RuntimeError, match="roll-up failed"):
        life.purge(NOW, batch_size=2, before_delete=roll_up)
    recorded, tracked = _senders(life.engine, life.tracker)
    gone = {*OLD_ONES, "socketio:ghost"} - (recorded | tracked)
    assert len(gone) == 2  # the first batch, whole; nothing of the second
    assert all(s in recorded and s in tracked for s in {*OLD_ONES} - gone)

    report = life.purge(NOW, batch_size=2)
    assert report.conversations == 4
    recorded, tracked = _senders(life.engine, life.tracker)
    assert recorded == tracked == {"rest:new", "rest:held", "rest:late"}


def test_old_tombstones_go(life: DataLifecycle) -> None:
    ensure_erasures(life.tracker)
    with life.tracker.begin() as conn:
        conn.execute(
            insert(ERASURES),
            [
                {"sender_key": "a", "erased_at": (NOW - timedelta(days=2)).timestamp()},
                {"sender_key": "b", "erased_at": (NOW - timedelta(hours=2)).timestamp()},
            ],
        )
    life.purge(NOW, batch_size=100)
    with life.tracker.connect() as conn:
        keys = set(conn.execute(select(ERASURES.c.sender_key)).scalars())
    assert "a" not in keys and "b" in keys


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="transcript"):
        RetentionRule("x", "day", "forever")
    with pytest.raises(ValueError, match="at least 1"):
        RetentionRule("x", "day", 0)
