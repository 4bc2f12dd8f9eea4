"""The project's command line: ``python -m bot GROUP COMMAND …``.

Two groups are defined here: ``db`` (migrations) and ``config`` (the settings), because
their packages, ``bot.db`` and ``bot.settings``, are foundation and hold no command line.
Every other group is discovered, not listed: each ``bot/<package>/cli.py`` that defines
``register(subparsers)`` adds its groups (``bot/catalog/cli.py`` adds ``catalog``,
``bot/runtime/cli.py`` adds ``model`` and ``run``). ``register`` adds its parsers to
``subparsers`` and sets ``func`` on each leaf command: ``func(args) -> int`` (the exit
code). The module may also define ``USER_ERRORS``, a tuple of exception classes printed
as one line with exit code 2 instead of a traceback. Keep heavy imports inside the command functions so that
``python -m bot --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

import bot
from bot.catalog.errors import CatalogError
from bot.settings import PRIVATE_UMASK, SettingsError, settings, validate


def _group_modules() -> list[ModuleType]:
    modules = []
    for info in sorted(pkgutil.iter_modules(bot.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        name = f"bot.{info.name}.cli"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        if hasattr(module, "register"):
            modules.append(module)
    return modules


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.db import make_engine
    from bot.db.schema import current_revision, ensure_schema, upgrade

    engine = make_engine(args.database_url)
    try:
        if args.revision == "head":
            ensure_schema(engine)
        else:
            upgrade(engine, args.revision)
        print(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def _db_current(args: argparse.Namespace) -> int:
    from bot.db import make_engine
    from bot.db.schema import current_revision, head_revision

    engine = make_engine(args.database_url)
    try:
        print(f"current: {current_revision(engine) or '(empty)'}; head: {head_revision()}")
    finally:
        engine.dispose()
    return 0


def _db_revision(args: argparse.Namespace) -> int:
    from bot.db.schema import make_revision

    path = make_revision(args.message, autogenerate=not args.empty, rev_id=args.rev_id)
    print(f"new migration: {path} (review it before committing)")
    return 0


def _register_db(subparsers: argparse._SubParsersAction) -> None:
    db = subparsers.add_parser("db", help="database schema (Alembic migrations in bot/db/migrations)")
    sub = db.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="migrate the database to the newest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db_upgrade)
    cur = sub.add_parser("current", help="show the database's schema revision")
    cur.set_defaults(func=_db_current)
    rev = sub.add_parser("revision", help="write a new migration from the models (autogenerate)")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--empty", action="store_true", help="an empty migration to fill in by hand")
    rev.add_argument("--rev-id", default=None, help="a readable revision id, e.g. 0002_dossiers")
    rev.set_defaults(func=_db_revision)


def _config_show(args: argparse.Namespace) -> int:
    from bot.settings import show

    print(show())
    return 0


def _config_markdown(args: argparse.Namespace) -> int:
    from bot.settings import markdown, update_readme

    if args.update:
        print("README.md updated" if update_readme() else "README.md already up to date")
    else:
        print(markdown())
    return 0


def _register_config(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser("config", help="settings: every environment variable (bot/settings.py)")
    sub = config.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="each variable's value or default and where it came from (secrets masked)")
    show.set_defaults(func=_config_show)
    md = sub.add_parser("markdown", help="the README's configuration table")
    md.add_argument("--update", action="store_true", help="rewrite the table in README.md instead of printing it")
    md.set_defaults(func=_config_markdown)


def build_parser() -> tuple[argparse.ArgumentParser, tuple[type[BaseException], ...]]:
    """The full parser, and the exception classes to report without a traceback."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Trợ lý Dịch vụ công: administration commands")
    parser.add_argument("--database-url", default=None, help="database to use (default: DATABASE_URL, else var/bot.db)")
    subparsers = parser.add_subparsers(dest="group", required=True)
    _register_db(subparsers)
    _register_config(subparsers)
    user_errors: list[type[BaseException]] = [CatalogError, SettingsError]
    for module in _group_modules():
        module.register(subparsers)
        user_errors += list(getattr(module, "USER_ERRORS", ()))
    return parser, tuple(user_errors)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (2 on a known error, printed as one line)."""
    # Databases, exports and secrets written by any command are readable by their owner only.
    os.umask(PRIVATE_UMASK)
    parser, user_errors = build_parser()
    args = parser.parse_args(argv)
    from bot.db.schema import SchemaError  # imported after parsing: keeps `--help` free of Alembic

    user_errors = (*user_errors, SchemaError)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
        settings.cache_clear()
    # Every command (the dossier watcher that `make run` starts included) logs through the
    # personal-data masking; imported late so that `--help` stays light.
    from bot.privacy import install_log_masking

    # Warnings and errors only: a command's own output stays readable, and its error stays one line.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    try:
        # A wrong variable stops every command here, with one line naming it.
        validate()
        return int(args.func(args) or 0)
    except user_errors as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        print(f"error: {lines[0]}", file=sys.stderr)
        for err in getattr(exc, "errors", [])[1:]:
            print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps interpreter shutdown from failing again
        return 0
