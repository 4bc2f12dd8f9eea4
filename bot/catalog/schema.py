"""Database schema management: run the project's Alembic chain (``bot/migrations``) from code.

There is no alembic.ini: :func:`alembic_config` builds the configuration. All tables of
the project (catalogue, dossiers…) live in one chain; see ``bot/migrations/README.md``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from bot.config import settings
from bot.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at ``bot/migrations`` and ``url`` (default: DATABASE_URL)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%': URL-encoded passwords would break without escaping.
    cfg.set_main_option("sqlalchemy.url", (url or settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(engine_or_url: Engine | str | None = None, revision: str = "head") -> None:
    """Run ``alembic upgrade <revision>`` on an engine or URL (default: the configured database)."""
    if isinstance(engine_or_url, Engine):
        cfg = alembic_config(engine_or_url.url.render_as_string(hide_password=False))
        with engine_or_url.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        return
    url = engine_or_url or settings().database_url
    engine = make_engine(url)
    try:
        upgrade(engine, revision)
    finally:
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
