"""Benchmark the analytics: the dashboard over a range of about 1,000,000 events, read from the roll-ups.

Fills a scratch SQLite database with generated traffic (``tests/analytics/traffic.py``: Rasa event
dicts through the Recorder, handoffs, dossier lookups) over ``--days`` days until about
``--events`` events, rolls every day up, then times :meth:`bot.analytics.query.Dashboard.figures`
for the whole range (by day, by week, one channel) over ``--runs`` runs after a warm-up: p50, p95.

Baseline, measured in the same run: the same range's conversations and fallback rate counted
straight from the record's turns (one grouped scan of ``conv_turns``), which is what the dashboard
would do without roll-ups; the ratio is printed beside the absolute figures.

Target: dashboard p95 ≤ 1 s for the range.

Usage: ``.venv/bin/python bench/analytics_bench.py [--events N] [--days N] [--runs N]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bot.analytics.query import Dashboard, DashboardFilter
from bot.analytics.rollup import Rollup
from bot.conversations.models import ConversationRow, TurnRow
from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.helpdesk.hours import office_calendar
from tests.analytics.traffic import generate

EVENTS_PER_CONVERSATION = 12.2  # what the generator writes on average (measured on a week)


def _timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    last = date(2026, 11, 30)
    first = last - timedelta(days=args.days - 1)
    per_day = max(1, int(args.events / EVENTS_PER_CONVERSATION / args.days / 0.87))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        ensure_schema(engine)
        start = time.perf_counter()
        made = generate(engine, last, days=args.days, per_day=per_day, seed=11)
        generated = time.perf_counter() - start
        print(f"generated {made.events:,} events, {made.conversations:,} conversations, "
              f"{made.citizen_turns:,} citizen messages over {args.days} days in {generated:.1f} s")  # fmt: skip
        rollup = Rollup(engine, office_calendar(), clock=lambda: datetime(2026, 12, 7))
        start = time.perf_counter()
        rolled = rollup.pending()
        took = time.perf_counter() - start
        print(f"rolled up {len(rolled)} days in {took:.1f} s ({1000 * took / max(1, len(rolled)):.0f} ms a day)")
        dashboard = Dashboard(engine, names=lambda codes: {})
        cases = {
            "whole range, by day": DashboardFilter(first, last),
            "whole range, by week": DashboardFilter(first, last, grain="week"),
            "whole range, one channel": DashboardFilter(first, last, channel="zalo"),
            "last 28 days": DashboardFilter(last - timedelta(days=27), last),
        }
        lo = datetime.combine(first, datetime.min.time()) - timedelta(hours=7)

        def baseline() -> None:
            with engine.connect() as conn:
                conn.execute(
                    select(ConversationRow.channel, func.count(func.distinct(TurnRow.sender_id)), func.count(),
                           func.sum(TurnRow.fallback))
                    .join(ConversationRow, ConversationRow.sender_id == TurnRow.sender_id)
                    .where(TurnRow.at >= lo, TurnRow.author == "citizen")
                    .group_by(ConversationRow.channel)
                ).all()  # fmt: skip

        base50, base95 = _timed(baseline, max(3, args.runs // 4))
        print(f"baseline (counting from the turns): p50 {1000 * base50:.0f} ms, p95 {1000 * base95:.0f} ms")
        worst = 0.0
        for name, f in cases.items():
            p50, p95 = _timed(lambda f=f: dashboard.figures(f), args.runs)
            worst = max(worst, p95)
            print(f"dashboard {name:<26} p50 {1000 * p50:7.1f} ms  p95 {1000 * p95:7.1f} ms  "
                  f"(p50 {p50 / base50:.2f}× the baseline scan)")  # fmt: skip
        print(f"target p95 ≤ 1000 ms: {'met' if worst <= 1.0 else 'NOT met'} (worst p95 {1000 * worst:.0f} ms)")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
