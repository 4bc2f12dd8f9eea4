"""Command line of the analytics: ``python -m bot analytics rollup|report``.

``rollup`` brings the daily roll-ups up to date (every open day; ``make run``'s housekeeping
process does the same on a schedule), or recomputes given days with ``--force``. ``report``
writes the dashboard's figures for a date range as an HTML page with PNG charts, or a PDF.
"""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.helpdesk.hours import OfficeCalendar

__all__ = ["register"]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _calendar() -> OfficeCalendar:
    from bot.helpdesk.calendar_days import CalendarDays
    from bot.helpdesk.hours import office_calendar

    return office_calendar(CalendarDays().split())


def _rollup(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.analytics.rollup import Rollup
    from bot.db import engine_for
    from bot.db.clock import today_vn
    from bot.db.schema import ensure_schema
    from bot.settings import settings

    ensure_schema(engine_for())
    rollup = Rollup(calendar=_calendar())
    if args.date_from is None and args.date_to is None:
        days = rollup.open_days()
        for day in tqdm(days, desc="roll-up", unit="day", disable=not days):
            rollup.day(day)
        print(f"rolled up {len(days)} open day(s)")
        return 0
    first = args.date_from or args.date_to
    last = args.date_to or args.date_from
    if last < first:
        raise ValueError("--to is before --from")
    kept_from = today_vn() - timedelta(days=settings().privacy.transcript_days)
    if args.force and first < kept_from:
        raise ValueError(f"--force before {kept_from}: those days' transcripts are purged, their figures would shrink")
    written = skipped = 0
    day = first
    while day <= last:
        if rollup.day(day, force=args.force):
            written += 1
        else:
            skipped += 1
        day += timedelta(days=1)
    kept = f"; {skipped} closed day(s) kept (use --force to recompute)" if skipped else ""
    print(f"rolled up {written} day(s){kept}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from bot.analytics.query import Dashboard, DashboardFilter
    from bot.analytics.report import write_report
    from bot.db import engine_for
    from bot.db.clock import utcnow
    from bot.db.schema import ensure_schema

    ensure_schema(engine_for())
    f = DashboardFilter(args.date_from, args.date_to, args.channel, args.model, args.grain)
    out = args.out or Path(f"bao-cao-{f.date_from:%Y%m%d}-{f.date_to:%Y%m%d}.html")
    if out.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise ValueError(f"--out must end in .html or .pdf, not {out.name!r}")
    if out.is_dir():
        raise ValueError(f"--out is a folder: give a file name, e.g. {out / 'bao-cao.html'}")
    path = write_report(Dashboard().figures(f), out, utcnow())
    print(f"report written to {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analytics`` group."""
    group = subparsers.add_parser("analytics", help="daily roll-ups and the monthly report")
    sub = group.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("rollup", help="bring the daily roll-ups up to date (or recompute days)")
    cmd.add_argument("--from", dest="date_from", type=_date, help="first day to recompute (YYYY-MM-DD)")
    cmd.add_argument("--to", dest="date_to", type=_date, help="last day to recompute (YYYY-MM-DD)")
    cmd.add_argument("--force", action="store_true", help="recompute closed days too (only while their "
                     "transcripts are still kept: a purged day would lose its figures)")  # fmt: skip
    cmd.set_defaults(func=_rollup)
    cmd = sub.add_parser("report", help="write the figures of a date range as HTML (PNG charts) or PDF")
    cmd.add_argument("--from", dest="date_from", type=_date, required=True, help="first day (YYYY-MM-DD)")
    cmd.add_argument("--to", dest="date_to", type=_date, required=True, help="last day (YYYY-MM-DD)")
    cmd.add_argument("--channel", default=None, help="one channel only (socketio, telegram_ptb, zalo, rest)")
    cmd.add_argument("--model", default=None, help="one model id only")
    cmd.add_argument("--grain", choices=("day", "week"), default="day")
    cmd.add_argument("--out", type=Path, default=None, help="the file to write: .html (default) or .pdf")
    cmd.set_defaults(func=_report)


#: Printed as one line with exit code 2 (bot/cli.py): a reversed or too long range, a date past 9999, an
#: output path that cannot be written.
USER_ERRORS = (ValueError, OverflowError, OSError)
