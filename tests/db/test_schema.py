"""The one migration chain (bot/db/migrations) and the ensure_schema policy; the clock helpers."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine

from bot.db import Base
from bot.db.clock import VN_TZ, naive_utc, to_vn, today_vn, utcnow
from bot.db.schema import (
    MODEL_MODULES,
    SchemaError,
    current_revision,
    ensure_schema,
    head_revision,
    import_models,
    is_up_to_date,
    upgrade,
)
from bot.settings import PROJECT_ROOT

import_models()  # every table on Base, as the migrations' env.py does

ALL_TABLES = set(Base.metadata.tables)


def _diffs(engine: Engine) -> list[object]:
    """Differences between the migrated database and the models, every table of the project."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata))


def test_every_model_module_is_known_to_the_migrations() -> None:
    defining = {
        ".".join(p.relative_to(PROJECT_ROOT).with_suffix("").parts)
        for p in (PROJECT_ROOT / "bot").rglob("*.py")
        if re.search(r"^class \w+\(Base\):", p.read_text(encoding="utf-8"), re.M)
    }
    assert defining == set(MODEL_MODULES)


def test_empty_sqlite_is_migrated_to_exactly_the_models(sqlite_url: str) -> None:
    assert ensure_schema(sqlite_url) == head_revision()
    engine = create_engine(sqlite_url, future=True)
    try:
        assert set(inspect(engine).get_table_names()) >= ALL_TABLES
        assert is_up_to_date(engine)
        assert _diffs(engine) == []
    finally:
        engine.dispose()


def test_postgresql_is_migrated_to_exactly_the_models(pg_empty_engine: Engine) -> None:
    assert ensure_schema(pg_empty_engine) == head_revision()
    assert set(inspect(pg_empty_engine).get_table_names()) >= ALL_TABLES
    assert _diffs(pg_empty_engine) == []
    assert ensure_schema(pg_empty_engine) == head_revision()  # a second run changes nothing


def test_ensure_schema_upgrades_an_old_database_and_is_idempotent(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003_channels")
    assert current_revision(empty_engine) == "0003_channels"
    assert "webhook_receipts" not in inspect(empty_engine).get_table_names()
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO channel_seen_events (event_key, seen_at) VALUES ('kept', CURRENT_TIMESTAMP)"))

    assert ensure_schema(empty_engine) == head_revision()
    assert "webhook_receipts" in inspect(empty_engine).get_table_names()
    assert ensure_schema(empty_engine) == head_revision()
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT event_key FROM channel_seen_events")).scalars().all() == ["kept"]
    assert _diffs(empty_engine) == []


def test_ensure_schema_without_upgrade_names_the_command(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003_channels")
    with pytest.raises(SchemaError, match=r"at 0003_channels, not .*python -m bot db upgrade"):
        ensure_schema(empty_engine, upgrade=False)
    assert current_revision(empty_engine) == "0003_channels"  # left alone
    ensure_schema(empty_engine)
    assert ensure_schema(empty_engine, upgrade=False) == head_revision()


def test_ensure_schema_refuses_a_revision_from_newer_code(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(SchemaError, match=r"9999_from_the_future.*unknown to this code"):
        ensure_schema(engine)


def test_the_engine_fixture_is_at_head(engine: Engine) -> None:
    assert is_up_to_date(engine)


def test_no_create_all_outside_the_migrations() -> None:
    """Tables are made by migrations only (ensure_schema); create_all would bypass the chain."""
    offenders = [
        str(p.relative_to(PROJECT_ROOT))
        for folder in ("bot", "actions", "tests", "bench", "scripts")
        for p in (PROJECT_ROOT / folder).rglob("*.py")
        if "create_all(" in p.read_text(encoding="utf-8")
        and not p.is_relative_to(PROJECT_ROOT / "bot" / "db" / "migrations")
        and p != Path(__file__).resolve()
    ]
    assert offenders == []


def test_clock() -> None:
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    aware = datetime(2026, 11, 26, 17, 30, tzinfo=timezone.utc)
    assert naive_utc(aware) == datetime(2026, 11, 26, 17, 30)
    assert naive_utc(aware.astimezone(VN_TZ)) == datetime(2026, 11, 26, 17, 30)
    assert naive_utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1)  # naive is already UTC
    assert naive_utc().tzinfo is None
    assert to_vn(aware).utcoffset() == timedelta(hours=7)
    assert to_vn(datetime(2026, 11, 26, 17, 30)) == to_vn(aware)  # naive means UTC
    assert today_vn(aware) == date(2026, 11, 27)  # 00:30 in Vietnam
    assert today_vn(datetime(2026, 11, 26, 16, 59)) == date(2026, 11, 26)
