"""The database schema: the project's one Alembic chain (``bot/db/migrations``), run from code.

There is no alembic.ini: :func:`alembic_config` builds the configuration. Every table of the
project (catalogue, dossiers, channels…) lives in the one chain; see ``bot/db/migrations/README.md``.

The policy, in one place: :func:`ensure_schema` migrates a database to the newest revision
when it is behind (cheap when it is not: one SELECT on ``alembic_version``); nothing creates
tables any other way. Its callers: the command groups that open the database (``db``,
``catalog``, ``dossier``; ``model eval`` for its scratch database), the runner before it starts
any process, :class:`~bot.channels.store.ChannelStore` on first use, and the tests. The dossier
and catalogue stores and a standalone ``python -m bot.runtime.action_server`` do not: they
expect a database that one of those has already migrated.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from bot.db.engine import make_engine
from bot.settings import settings

__all__ = [
    "MIGRATIONS_DIR",
    "MODEL_MODULES",
    "SchemaError",
    "alembic_config",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "import_models",
    "is_up_to_date",
    "make_revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Every module that defines tables on bot.db.Base. Add yours here when you add a migration,
# so that autogenerate (`python -m bot db revision`) sees your models; a test checks the list.
MODEL_MODULES = (
    "bot.catalog.models",
    "bot.dossiers.models",
    "bot.channels.models",
    "bot.helpdesk.models",
    "bot.conversations.models",
    "bot.console.models",
    "bot.analytics.models",
    "bot.privacy.models",
    "bot.training.models",
)

# Key of the PostgreSQL advisory lock held while migrating, so that replicas starting together
# migrate one after the other (the second finds the schema at head and does nothing).
_PG_MIGRATION_LOCK = 0x7D5C_0001


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this code (behind with ``upgrade=False``, or unknown)."""


def import_models() -> None:
    """Import every :data:`MODEL_MODULES` entry, so that ``Base.metadata`` holds all the project's tables."""
    for name in MODEL_MODULES:
        # Imported strictly: a model module missing here would make autogenerate drop its tables.
        importlib.import_module(name)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at ``bot/db/migrations`` and ``url`` (default: DATABASE_URL)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': URL-encoded passwords would break without escaping.
    cfg.set_main_option("sqlalchemy.url", (url or settings().core.database_url).replace("%", "%%"))
    return cfg


def _with_engine(engine_or_url: Engine | str | None) -> tuple[Engine, bool]:
    """The engine to use and whether it was made here (and must be disposed of by the caller)."""
    if isinstance(engine_or_url, Engine):
        return engine_or_url, False
    return make_engine(engine_or_url or settings().core.database_url), True


def _lock_for_migration(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def upgrade(engine_or_url: Engine | str | None = None, revision: str = "head") -> None:
    """Run ``alembic upgrade <revision>`` on an engine or URL (default: the configured database).

    Prefer :func:`ensure_schema`; this is the tool for tests and ``python -m bot db upgrade REV``.
    """
    engine, owned = _with_engine(engine_or_url)
    try:
        cfg = alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as conn:
            _lock_for_migration(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        if owned:
            engine.dispose()


def head_revision() -> str | None:
    """The newest revision of the chain."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first upgrade)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_up_to_date(engine: Engine) -> bool:
    """True when the database is at the head of the chain."""
    return current_revision(engine) == head_revision()


def ensure_schema(engine_or_url: Engine | str | None = None, *, upgrade: bool = True) -> str | None:
    """Make sure the database has the newest schema; return its revision (the head).

    ``engine_or_url`` defaults to the configured ``DATABASE_URL``. A database behind the head
    (empty included) is migrated to it; with ``upgrade=False`` it is left alone and
    :class:`SchemaError` is raised instead, naming the command that migrates it. A database
    at a revision this code does not know (migrated by newer code) always raises
    :class:`SchemaError`: nothing is changed.
    """
    engine, owned = _with_engine(engine_or_url)
    try:
        head = head_revision()
        current = current_revision(engine)
        if current == head:
            return head
        scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
        known = {script.revision for script in scripts.walk_revisions()}
        if current is not None and current not in known:
            raise SchemaError(
                f"the database is at schema revision {current!r}, unknown to this code (head {head!r}): "
                "was it migrated by a newer version?"
            )
        if not upgrade:
            raise SchemaError(
                f"the database schema is at {current or '(empty)'}, not {head}: run `python -m bot db upgrade`"
            )
        _upgrade(engine)
        return current_revision(engine)
    finally:
        if owned:
            engine.dispose()


# ensure_schema's keyword shadows the module-level function inside it.
_upgrade = upgrade


def make_revision(message: str, autogenerate: bool = True, rev_id: str | None = None) -> Path:
    """Write a new migration at the end of the chain and return its path.

    With ``autogenerate`` the new file holds the difference between the models and a
    scratch SQLite database upgraded to head; review it before committing.
    """
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(url)
        cfg = alembic_config(url)
        script = command.revision(cfg, message=message, autogenerate=autogenerate, rev_id=rev_id)
    scripts = script if isinstance(script, list) else [script]
    return Path(scripts[0].path)  # type: ignore[union-attr]
