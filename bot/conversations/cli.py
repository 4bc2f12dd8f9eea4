"""Command line of the conversation record: ``python -m bot conversations rebuild [--tracker-url URL]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sqlalchemy import func, select
from tqdm import tqdm

from bot.conversations.rebuild import rebuild, tracker_events_table
from bot.db import engine_for, make_engine
from bot.db.schema import ensure_schema
from bot.privacy.lifecycle import default_tracker_url

__all__ = ["main"]




def _count(url: str) -> int | None:
    """How many tracker rows there are (for the progress bar), or None when they cannot be counted."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(tracker_events_table())) or 0)
    except Exception:  # only the bar's total: rebuild reports the real error
        return None
    finally:
        engine.dispose()


def add_commands(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The record's subcommands on ``parser``."""
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("rebuild", help="remake the conversation record from Rasa's tracker store")
    cmd.add_argument("--tracker-url", default=None, help="SQLAlchemy URL of the tracker store "
                     "(default: sqlite:///<var_dir>/tracker.db)")  # fmt: skip
    cmd.add_argument("--batch", type=int, default=1000, help="tracker rows per transaction (default 1000)")
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``conversations`` command group to ``python -m bot``."""
    group = subparsers.add_parser("conversations", help="the record of conversations: rebuild")
    add_commands(group).set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``rebuild``: remake the record from the tracker store; prints the number of events applied."""
    url = args.tracker_url or default_tracker_url()
    engine = engine_for()
    ensure_schema(engine)
    with tqdm(total=_count(url), unit="event", desc="rebuild") as bar:
        applied = rebuild(url, engine, batch=args.batch, progress=bar.update)
    print(f"{applied} events applied")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status (0 done, 2 usage error)."""
    parser = argparse.ArgumentParser(prog="python -m bot conversations", description=__doc__)
    return run(add_commands(parser).parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
