"""Erasure, export and purge on PostgreSQL (both stores in one fresh schema); skipped without PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from bot.privacy.lifecycle import DataLifecycle
from bot.privacy.models import TRACKER_EVENTS
from bot.privacy.subjects import Subject
from tests.privacy.seeding import ANNA, BINH, rows_of, seed, traces

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)


def test_erase_export_and_purge_on_postgresql(pg_schema_engine: Engine) -> None:
    engine = pg_schema_engine
    TRACKER_EVENTS.create(engine)
    seed(engine, engine, ANNA, NOW)
    seed(engine, engine, BINH, NOW - timedelta(days=400))
    life = DataLifecycle(engine, engine, clock=lambda: NOW)

    data = life.export(Subject("dossier", ANNA.code), reference="PYC-1", requested_by="thu")
    assert data["sender_ids"] == [ANNA.sender] and data["stores"]["helpdesk_callbacks"]

    report = life.erase(Subject("phone", ANNA.phone), reference="PYC-2", requested_by="thu")
    assert report.sender_ids == (ANNA.sender,)
    assert traces(ANNA, engine) == []
    assert all(rows_of(BINH, engine, engine).values())

    assert life.purge(NOW, dry_run=True).sender_ids == [BINH.sender]
    assert life.purge(NOW).conversations == 1
    assert traces(BINH, engine) == []
