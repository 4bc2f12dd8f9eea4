"""Database engine, session factory and the declarative ``Base`` shared by every service.

SQLAlchemy 1.4 in 2.0 style (``future=True``); SQLite under ``var/`` by default,
PostgreSQL when ``DATABASE_URL`` says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.settings import settings

Base = declarative_base()


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (default: the configured ``DATABASE_URL``)."""
    url = url or settings().core.database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # A pool, as for PostgreSQL: SQLAlchemy 1.4 otherwise opens (and pragmas) a new connection for every
        # session, which was a tenth of the action server's time under load.
        engine = create_engine(
            url, future=True, poolclass=QueuePool, pool_size=5, connect_args={"check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            # Foreign keys are off by default in SQLite; WAL lets the action server read while importing.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


@lru_cache(maxsize=4)
def engine_for(url: str | None = None) -> Engine:
    """Return a cached engine per URL, so each process opens one pool."""
    return make_engine(url)


def session_factory(engine: Engine | None = None) -> sessionmaker:
    """Return a 2.0-style session factory bound to ``engine``."""
    return sessionmaker(bind=engine or engine_for(), future=True, expire_on_commit=False, class_=Session)


class TransactionalStore:
    """A service over one engine (``engine``, default the configured database) whose methods each run in
    one transaction: ``with self._session() as session:`` commits on leaving, rolls back on an error."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or engine_for()
        self._sessions = session_factory(self.engine)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session
