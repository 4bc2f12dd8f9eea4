"""The dossier migrations (0002_dossiers, 0005_hashed_phone_digits) on SQLite and PostgreSQL, and the store's
behaviour on PostgreSQL."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

import bot.dossiers.models  # noqa: F401 - registers the tables on Base
from bot.db import Base
from bot.db.schema import alembic_config, current_revision, ensure_schema, upgrade
from bot.dossiers.demo import seed_demo
from bot.dossiers.service import DossierLookup, LockedOut, Verified, WrongPhone
from bot.dossiers.source import hash_last4
from bot.dossiers.store import DossierStore
from bot.dossiers.watcher import DossierWatcher, sign_webhook

DOSSIER_TABLES = {t for t in Base.metadata.tables if t in ("dossiers", "webhook_receipts") or t.startswith("dossier_")}
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
    assert set(inspect(engine).get_table_names()) >= DOSSIER_TABLES
    assert _diffs(engine) == []
    _downgrade(engine, "0001_catalog")
    assert not (set(inspect(engine).get_table_names()) & DOSSIER_TABLES)
    assert current_revision(engine) == "0001_catalog"


@pytest.fixture(
    params=["sqlite", "sqlite-before-3.35", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def migrating_engine(request: pytest.FixtureRequest, empty_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """An empty database: SQLite with DROP COLUMN, SQLite pretending to be older (table recreated), PostgreSQL."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_empty_engine")
    if request.param == "sqlite-before-3.35":
        monkeypatch.setattr(sqlite3.dbapi2, "sqlite_version_info", (3, 31, 1))
    return empty_engine


def test_migration_0005_hashes_the_phone_digits_and_keeps_the_history(
    migrating_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = migrating_engine
    monkeypatch.setenv("DOSSIER_PHONE_SALT", "migration-salt")
    upgrade(engine, "0004_webhook_receipts")
    at = datetime(2026, 11, 20, 1, 0)
    other = "000.00.00.H99-261120-0002"
    with engine.begin() as conn:
        for row_id, code, digits in ((1, DEMO, "6789"), (2, other, None)):
            conn.execute(
                text(
                    "INSERT INTO dossiers (id, code, procedure_code, procedure_name, status, receiving_unit,"
                    " phone_last4, is_demo, updated_at) VALUES (:id, :code, '1.004222', 'Đăng ký thường trú', 4, '',"
                    " :digits, :demo, :at)"
                ),
                {"id": row_id, "code": code, "digits": digits, "demo": False, "at": at},
            )
            conn.execute(
                text("INSERT INTO dossier_status_history (dossier_id, status, changed_at) VALUES (:id, 4, :at)"),
                {"id": row_id, "at": at},
            )

    ensure_schema(engine)  # the policy every entry point uses: an old database with data is brought to head
    columns = {c["name"] for c in inspect(engine).get_columns("dossiers")}
    assert "phone_last4" not in columns and "phone_last4_hash" in columns
    with engine.connect() as conn:
        hashes = dict(conn.execute(text("SELECT code, phone_last4_hash FROM dossiers")).all())
        history = conn.execute(text("SELECT COUNT(*) FROM dossier_status_history")).scalar_one()
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM dossiers")) for v in row)
    # The migration's frozen HMAC agrees with bot.dossiers.source.hash_last4 and the configured salt.
    assert hashes == {DEMO: hash_last4("6789", b"migration-salt"), other: None}
    assert history == 2  # recreating "dossiers" must not cascade-delete its history
    # The digits as a number of their own: a timestamp's microseconds may hold 6789 by chance.
    assert not re.search(r"(?<![\d.,])6789(?!\d)", dump.replace(hashes[DEMO], ""))
    assert _diffs(engine) == []
    # The service, on the default salt (DOSSIER_PHONE_SALT), verifies against the migrated hash.
    store = DossierStore(engine)
    assert isinstance(DossierLookup(store, store).status(DEMO, "6789", "u", "rest"), Verified)

    _downgrade(engine, "0004_webhook_receipts")
    with engine.connect() as conn:
        digits = dict(conn.execute(text("SELECT code, phone_last4 FROM dossiers")).all())
        history = conn.execute(text("SELECT COUNT(*) FROM dossier_status_history")).scalar_one()
    assert digits == {DEMO: "6789", other: None} and history == 2
    assert "phone_last4_hash" not in {c["name"] for c in inspect(engine).get_columns("dossiers")}


@pytest.fixture
def pg_engine(pg_schema_engine: Engine) -> Engine:
    """A fresh PostgreSQL schema migrated to head (conftest: ensure_schema); skipped without PostgreSQL."""
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

    # Ten requesters failing on one dossier: an alert for staff, no lock for its owner.
    returned = "000.00.00.H99-260905-0004"
    for i in range(10):
        assert isinstance(lookup.status(returned, "0000", "s", "rest", requester=f"rq:{i}"), WrongPhone)
    now[0] += timedelta(seconds=61)  # under attack, one check a minute
    assert isinstance(lookup.status(returned, "4321", "owner", "rest", requester="rq:owner"), Verified)
    assert [(r.outcome, r.dossier_code) for r in store.audit_rows() if r.action == "alert"] == [
        ("code_under_attack", returned)
    ]

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


def _run_together(targets: list[object]) -> None:
    """Start every callable at once (a barrier), on its own thread and so its own connection."""
    barrier = threading.Barrier(len(targets))

    def run(fn: object) -> None:
        barrier.wait()
        fn()  # type: ignore[operator]

    threads = [threading.Thread(target=run, args=(fn,)) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.postgres
def test_webhook_receipts_and_ordering_on_postgres(pg_engine: Engine) -> None:
    now = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
    seed_demo(pg_engine, salt=SALT, at=now - timedelta(days=1))
    store = DossierStore(pg_engine, SALT)

    # Concurrent claims of one digest from several connections: exactly one wins, none errors.
    keep = now + timedelta(minutes=10)
    claims: list[bool] = []
    _run_together([lambda: claims.append(store.claim_webhook_receipt("d" * 64, now, keep)) for _ in range(6)])
    assert sorted(claims) == [False] * 5 + [True]
    # Expired receipts are purged by the next claim.
    assert store.claim_webhook_receipt("e" * 64, keep + timedelta(seconds=1), keep + timedelta(minutes=10))
    assert [r.digest for r in store.webhook_receipts()] == ["e" * 64]

    # Concurrent status changes with different event times: the newest wins whatever the commit order.
    changes = [(5, 1), (6, 2), (5, 3), (9, 7), (6, 4), (5, 5), (6, 6)]
    outcomes: list[str] = []
    _run_together(
        [
            lambda st=st, sec=sec: outcomes.append(store.set_status_if_newer(DEMO, st, now + timedelta(seconds=sec)))
            for st, sec in changes
        ]
    )
    assert "changed" in outcomes and set(outcomes) <= {"changed", "older", "unchanged"}
    record = store.fetch(DEMO)
    assert record is not None and record.status == 9
    history = store.history(DEMO)
    assert history[-1] == (9, now + timedelta(seconds=7))
    assert [at for _, at in history] == sorted(at for _, at in history)
    assert store.set_status_if_newer(DEMO, 10, now) == "older"
    assert store.set_status_if_newer("000.00.00.H99-261120-0099", 10, now) == "unknown"

    # The webhook end to end: a replay is refused, an older update is ignored.
    class Notifier:
        def notify(self, channel: str, sender_id: str, code: str, status: int) -> None:
            raise AssertionError("nobody is subscribed")

    t = int(now.timestamp()) + 10
    watcher = DossierWatcher(
        store, store, Notifier(), clock=lambda: now + timedelta(seconds=10), webhook_secret="s", webhook_tolerance=300
    )
    body = json.dumps({"code": DEMO, "status": 10, "updated_at": (now + timedelta(seconds=8)).isoformat()}).encode()
    assert watcher.handle_webhook(body, sign_webhook(body, "s", t)).status == 200
    assert watcher.handle_webhook(body, sign_webhook(body, "s", t)).body == {"error": "replayed request"}
    older = json.dumps({"code": DEMO, "status": 4, "updated_at": now.isoformat()}).encode()
    assert watcher.handle_webhook(older, sign_webhook(older, "s", t)).body["ignored"] == "older than the current status"
    record = store.fetch(DEMO)
    assert record is not None and record.status == 10
