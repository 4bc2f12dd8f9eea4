"""Housekeeping: the purge wired with the roll-up (figures survive their transcripts) and the schedule."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.analytics.models import DailyRow, DayRow
from bot.analytics.query import Dashboard, DashboardFilter
from bot.conversations import Recorder
from bot.conversations.models import ConversationRow, TurnRow
from bot.db import engine_for
from bot.db.clock import VN_TZ
from bot.privacy.models import TRACKER_EVENTS
from bot.runtime.housekeeping import Housekeeper, _next_purge, purge
from bot.settings import overridden
from tests.analytics.test_rollup import Talk

OLD_DAY = date(2026, 8, 20)


def _talk(sender: str, day: date) -> list[dict]:
    stamp = datetime.combine(day, time(9), VN_TZ).timestamp()
    return Talk(sender, "zalo").ask(stamp, "lệ phí khai sinh", "ask_fee", "1.001193").events


def test_the_purge_rolls_up_a_day_before_deleting_it(engine: Engine, sqlite_url: str, tmp_path: Path) -> None:
    Recorder(engine).apply(_talk("zalo:old", OLD_DAY) + _talk("zalo:new", date(2026, 12, 5)))
    now = datetime(2026, 12, 7, 3, tzinfo=timezone.utc)
    with overridden(DATABASE_URL=sqlite_url, BOT_VAR_DIR=str(tmp_path), RETENTION_TRANSCRIPT_DAYS="90"):
        tracker = engine_for(f"sqlite:///{tmp_path / 'tracker.db'}")
        TRACKER_EVENTS.create(tracker)
        dry = purge(dry_run=True, now=now)
        assert dry.sender_ids == ["zalo:old"]
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(DayRow)) == 0  # a dry run rolls nothing up
        report = purge(now=now)
    assert report.sender_ids == ["zalo:old"] and OLD_DAY in report.days
    with engine.connect() as conn:
        assert list(conn.scalars(select(ConversationRow.sender_id))) == ["zalo:new"]
        assert conn.scalar(select(func.count()).select_from(TurnRow).where(TurnRow.sender_id == "zalo:old")) == 0
        assert conn.scalar(select(DayRow.closed).where(DayRow.day == OLD_DAY)) is True
        assert conn.scalar(select(func.count()).select_from(DailyRow).where(DailyRow.day == OLD_DAY)) > 0
    figures = Dashboard(engine, names=lambda c: {}).figures(DashboardFilter(OLD_DAY, OLD_DAY))
    assert figures.totals["conversations"] == 1 and figures.totals["contained"] == 1


def test_old_roll_ups_go_after_their_own_retention(engine: Engine, sqlite_url: str, tmp_path: Path) -> None:
    Recorder(engine).apply(_talk("zalo:ancient", date(2024, 1, 10)))
    now = datetime(2026, 12, 7, 3, tzinfo=timezone.utc)
    with overridden(DATABASE_URL=sqlite_url, BOT_VAR_DIR=str(tmp_path), RETENTION_ROLLUP_DAYS="730"):
        TRACKER_EVENTS.create(engine_for(f"sqlite:///{tmp_path / 'tracker.db'}"))
        report = purge(now=now)
    assert report.rows.get("analytics_daily", 0) > 0  # rolled up first, then too old to keep
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DailyRow)) == 0


def test_next_purge_is_the_next_wall_clock_time_in_vietnam() -> None:
    at = time(2, 30)
    before = datetime(2026, 12, 6, 19, 0, tzinfo=timezone.utc)  # 02:00 on the 7th in Vietnam
    assert _next_purge(before, at) == datetime(2026, 12, 7, 2, 30, tzinfo=VN_TZ)
    after = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)  # 03:00 on the 7th
    assert _next_purge(after, at) == datetime(2026, 12, 8, 2, 30, tzinfo=VN_TZ)


def test_the_housekeeper_runs_both_at_start_and_stops(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    keeper = Housekeeper(rollup_every=timedelta(minutes=10), purge_at=time(2, 30))
    monkeypatch.setattr(keeper, "rollup_once", lambda: calls.append("rollup") or [])
    monkeypatch.setattr(keeper, "zalo_keep_alive_once", lambda: calls.append("zalo") or False)
    monkeypatch.setattr(keeper, "purge_once", lambda: calls.append("purge") or keeper.stop())
    keeper.run()
    assert calls == ["rollup", "zalo", "purge"]


def test_an_erasure_takes_the_persons_words_off_the_dashboard(engine: Engine, tmp_path: Path) -> None:
    from bot.analytics.models import UnansweredRow
    from bot.analytics.rollup import Rollup
    from bot.privacy.lifecycle import DataLifecycle
    from bot.privacy.subjects import Subject
    from bot.runtime.housekeeping import erase

    day = date(2026, 12, 2)
    stamp = datetime.combine(day, time(9), VN_TZ).timestamp()
    words = Talk("zalo:999222", "zalo").ask(stamp, "toi la Tran Thi Binh nha so 5 pho Hue", "x", fallback=True)
    other = Talk("zalo:111", "zalo").ask(stamp, "lam lai so ho khau", "x", fallback=True)
    Recorder(engine).apply(words.events + other.events)
    Rollup(engine, clock=lambda: datetime(2026, 12, 5)).day(day)  # closed
    tracker = engine_for(f"sqlite:///{tmp_path / 'tracker.db'}")
    TRACKER_EVENTS.create(tracker)
    erase(DataLifecycle(engine, tracker), Subject("sender", "zalo:999222"), reference="YC-9", requested_by="admin")
    with engine.connect() as conn:
        texts = list(conn.scalars(select(UnansweredRow.text)))
    assert texts == ["lam lai so ho khau"]
    figures = Dashboard(engine, names=lambda c: {}).figures(DashboardFilter(day, day))
    assert figures.totals["conversations"] == 2  # the anonymous counts stay
