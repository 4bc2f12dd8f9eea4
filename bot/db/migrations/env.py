"""Alembic environment for every table of the project (one migration chain, ``bot.db.Base``).

Run through :func:`bot.db.schema.ensure_schema` (or ``upgrade``) or ``python -m bot db upgrade``; no
alembic.ini is needed. A caller may hand over an open connection in
``config.attributes["connection"]`` (tests do, to migrate a throwaway schema).
"""

from __future__ import annotations

from alembic import context

from bot.db import Base, make_engine
from bot.db.schema import import_models

import_models()  # every table of the project, for autogenerate (bot.db.schema.MODEL_MODULES)

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode recreates tables when a later migration needs it.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``)."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection handed over, or one opened on ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
