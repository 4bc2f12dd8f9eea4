"""The dossier migration (0002_dossiers) on SQLite and PostgreSQL, and the store's behaviour on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

import bot.dossiers.models  # noqa: F401 - registers the tables on Base
from bot.catalog.schema import alembic_config, current_revision, upgrade
from bot.db import Base
from bot.dossiers.demo import seed_demo
from bot.dossiers.service import DossierLookup, LockedOut, Verified, WrongPhone
from bot.dossiers.store import DossierStore
from bot.dossiers.watcher import DossierWatcher

DOSSIER_TABLES = {t for t in Base.metadata.tables if t == "dossiers" or t.startswith("dossier_")}
SALT = b"pg-salt"
DEMO = "000.00.00.H99-261120-0001"


def _dossier_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return bool(table) and table in DOSSIER_TABLES


def _diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        opts = {"compare_type": True, "include_object": _dossier_only}
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata))


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_on_sqlite_matches_models_and_downgrades(engine: Engine) -> None:
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= DOSSIER_TABLES
    assert _diffs(engine) == []
    _downgrade(engine, "0001_catalog")
    assert not (set(inspect(engine).get_table_names()) & DOSSIER_TABLES)
    assert current_revision(engine) == "0001_catalog"


@pytest.fixture
def pg_engine(pg_schema_engine: Engine) -> Engine:
    """A fresh PostgreSQL schema migrated to head; skipped without PostgreSQL."""
    upgrade(pg_schema_engine)
    return pg_schema_engine


def test_migration_on_postgres_matches_models(pg_engine: Engine) -> None:
    assert _diffs(pg_engine) == []


@pytest.mark.postgres
def test_lookup_lockout_subscription_and_push_on_postgres(pg_engine: Engine) -> None:
    assert seed_demo(pg_engine, salt=SALT) == 4 and seed_demo(pg_engine, salt=SALT) == 0
    store = DossierStore(pg_engine, SALT)
    now = [datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)]
    lookup = DossierLookup(store, store, clock=lambda: now[0], salt=SALT)

    verified = lookup.status(DEMO, "6789", "42", "telegram")
    assert isinstance(verified, Verified) and verified.view.promised_date == date(2026, 12, 1)
    record = store.fetch(DEMO)
    assert record is not None and record.updated_at is not None and record.updated_at.tzinfo is not None

    # Concurrent identical subscriptions: exactly one row (unique constraint, no error).
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(lookup.subscribe(DEMO, "telegram", "42").outcome))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("subscribed") == 1 and len(store.subscriptions(DEMO)) == 1

    for _ in range(4):
        assert isinstance(lookup.status(DEMO, "0000", "x", "rest"), WrongPhone)
    locked = lookup.status(DEMO, "0000", "x", "rest")
    assert isinstance(locked, LockedOut) and locked.until == now[0] + timedelta(hours=1)
    now[0] += timedelta(hours=1, seconds=1)
    assert isinstance(lookup.status(DEMO, "6789", "x", "rest"), Verified)

    sent: list[tuple[str, str, str, int]] = []

    class Notifier:
        def notify(self, channel: str, sender_id: str, code: str, status: int) -> None:
            sent.append((channel, sender_id, code, status))

    store.set_status(DEMO, 10, now[0])
    assert DossierWatcher(store, store, Notifier(), clock=lambda: now[0]).poll_once().notified == 1
    assert sent == [("telegram", "42", DEMO, 10)]

    with pg_engine.connect() as conn:
        rows = conn.execute(text("SELECT channel, dossier_code, detail FROM dossier_audit_log")).all()
    audit = " ".join(str(v) for row in rows for v in row)
    assert "6789" not in audit and "0000" not in audit and "NGUYỄN" not in audit
