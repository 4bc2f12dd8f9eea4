"""Shared fixtures: the reference data in ../shared, throwaway databases and the running test bot.

Plain helpers (free ports, local HTTP servers, fake platform APIs, the test bot's secrets) live in
:mod:`tests.fakes`."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.db import make_engine
from bot.db.clock import today_vn
from bot.db.schema import ensure_schema
from bot.settings import PROJECT_ROOT, overridden, settings
from tests.fakes import (
    ACTION_SERVER_TOKEN,
    RASA_TOKEN,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WEBHOOK_SECRET,
    ZALO_APP_ID,
    ZALO_OA_SECRET,
    FakeTelegram,
    FakeZalo,
    RunningBot,
    ThreadedApp,
    free_port,
)

SHARED_DIR = Path(os.environ.get("SHARED_DIR", PROJECT_ROOT.parent / "shared"))
SNAPSHOT_DIR = SHARED_DIR / "portal-snapshot"
PAGES_DIR = SHARED_DIR / "portal-pages"
PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    """The portal JSON snapshot; tests that need it skip cleanly without it."""
    if not (SNAPSHOT_DIR / "catalog.jsonl").is_file():
        pytest.skip(f"reference data not found at {SNAPSHOT_DIR} (../shared is absent)")
    return SNAPSHOT_DIR


@pytest.fixture(scope="session")
def snapshot_codes(snapshot_dir: Path) -> frozenset[str]:
    """Every procedure code in the portal snapshot's catalogue (skips cleanly without ../shared)."""
    import json

    with (snapshot_dir / "catalog.jsonl").open(encoding="utf-8") as lines:
        return frozenset(json.loads(line)["code"] for line in lines if line.strip())


@pytest.fixture(scope="session")
def pages_dir() -> Path:
    """The portal's detail pages as Markdown; skip cleanly without them."""
    if not PAGES_DIR.is_dir():
        pytest.skip(f"reference pages not found at {PAGES_DIR} (../shared is absent)")
    return PAGES_DIR


@pytest.fixture
def pg_empty_engine() -> Iterator[Engine]:
    """An engine whose search_path is a fresh, empty schema in the test database; skipped without PostgreSQL.

    For migration tests; everything else takes :func:`pg_schema_engine`.
    """
    admin = create_engine(PG_URL, future=True)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 (db test, user postgres): {type(exc).__name__}")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, future=True, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_engine(pg_empty_engine: Engine) -> Engine:
    """A fresh PostgreSQL schema at the newest revision (:func:`bot.db.schema.ensure_schema`)."""
    ensure_schema(pg_empty_engine)
    return pg_empty_engine


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL in a temporary folder."""
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file brought to the newest schema once per session by ``ensure_schema``; copied by :func:`engine`."""
    path = tmp_path_factory.mktemp("schema") / "migrated.db"
    ensure_schema(f"sqlite:///{path}")  # disposes of its engine: the WAL is checkpointed into the file
    return path


@pytest.fixture
def engine(sqlite_url: str, migrated_sqlite_template: Path) -> Iterator[Engine]:
    """A fresh SQLite database at the newest schema (at ``sqlite_url``); disposed after the test."""
    shutil.copyfile(migrated_sqlite_template, sqlite_url.removeprefix("sqlite:///"))
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def empty_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh, empty SQLite engine (no tables, no revision), for migration tests; disposed after the test."""
    eng = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def no_process_wide_masking(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that run ``bot.cli.main`` in-process: it installs log masking process-wide, which
    would then mask the log records every later test looks at."""
    monkeypatch.setattr("bot.privacy.install_log_masking", lambda *args, **kwargs: None)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep tests away from the developer's var/ database."""
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path / "var"))
    if "DATABASE_URL" not in os.environ or os.environ.get("TEST_KEEP_DATABASE_URL") != "1":
        monkeypatch.delenv("DATABASE_URL", raising=False)
    settings.cache_clear()
    yield
    settings.cache_clear()


@pytest.fixture(scope="session")
def running_bot_parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The real assistant (action server, Rasa with REST, socket.io, the widget, Telegram and Zalo, watcher).

    On spare local ports, with the model for the current training data (``make test`` trains
    it first; here it is trained if missing), a throwaway database with the curated catalogue
    and the demo dossiers, a one-second watcher, a known one-door webhook secret, known API
    tokens, and Telegram and Zalo pointed at local fake APIs.
    """
    from bot.catalog.loader import load_curated
    from bot.dossiers.demo import seed_demo
    from bot.runtime.model import ensure_model
    from bot.runtime.runner import Ports, start_servers, stop_servers

    work = tmp_path_factory.mktemp("bot")
    url = f"sqlite:///{work / 'bot.db'}"
    telegram = FakeTelegram(TELEGRAM_TOKEN)
    zalo = FakeZalo("zalo-app-secret", access_token="a0", refresh_token="r0")
    fakes = [ThreadedApp(telegram.app()).start(), ThreadedApp(zalo.app()).start()]
    ports = Ports(host="127.0.0.1", rasa=free_port(), actions=free_port(), console=free_port())
    env = {
        "DATABASE_URL": url,
        "BOT_VAR_DIR": str(work),
        "ONEDOOR_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DOSSIER_WATCH_INTERVAL": "1",
        "RASA_TOKEN": RASA_TOKEN,
        "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
        # The tests play the reverse proxy: their X-Forwarded-For names the client.
        "TRUSTED_PROXIES": "127.0.0.1",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": f"{fakes[0].url}/bot",
        "ZALO_APP_ID": ZALO_APP_ID,
        "ZALO_APP_SECRET": "zalo-app-secret",
        "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET,
        "ZALO_REFRESH_TOKEN": "r0",
        "ZALO_ACCESS_TOKEN": "a0",
        "ZALO_API_BASE": fakes[1].url,
        "ZALO_OAUTH_BASE": fakes[1].url,
        # The help desk is open whenever the tests run (today is a working day, all day long).
        "HELPDESK_SCHEDULE": "mon-sun 00:00-23:59",
        "HELPDESK_WORKING_DAYS": today_vn().isoformat(),
    }
    procs = []
    with overridden(**env):
        try:
            engine = make_engine(url)
            ensure_schema(engine)
            load_curated(engine=engine)
            seed_demo(engine)
            engine.dispose()
            procs = start_servers(ensure_model(), ports, log_dir=work / "log", tracker_db=work / "tracker.db")
            yield RunningBot(
                f"http://{ports.host}:{ports.rasa}", f"http://{ports.host}:{ports.actions}", work,
                console_url=f"http://{ports.host}:{ports.console}", database_url=url, telegram=telegram, zalo=zalo,
            )  # fmt: skip
        finally:
            stop_servers(procs)
            for fake in fakes:
                fake.close()


@pytest.fixture(scope="session")
def running_bot(running_bot_parts: RunningBot) -> str:
    """The running assistant's Rasa base URL (see :func:`running_bot_parts`)."""
    return running_bot_parts.rasa_url
