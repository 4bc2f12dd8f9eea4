"""The project's database package: engine and sessions, the Alembic chain, clock helpers.

``bot.db.engine`` makes engines and sessions and holds ``Base``; ``bot.db.schema`` runs the
one migration chain (``bot/db/migrations``) and owns :func:`~bot.db.schema.ensure_schema`;
``bot.db.clock`` is the one place for UTC "now" and the Vietnam time zone.
"""

from bot.db.engine import Base, TransactionalStore, engine_for, make_engine, session_factory

__all__ = ["Base", "TransactionalStore", "engine_for", "make_engine", "session_factory"]
