"""The retention purge over 100,000 expired conversations (SQLite), against plain DELETEs of the same rows.

    .venv/bin/python bench/purge_bench.py [--conversations 100000] [--batch 1000]

Builds an application database (migrated) and a tracker database holding N conversations idle for
200 days: 6 tracker events each, and their record (conversation, 2 turns, 10 search terms, 2 intents,
a procedure), plus a handoff and a call-back for 1 in 20, and 10,000 console and dossier audit rows.
Then, on two copies of the same files:

- baseline: ``DELETE FROM events WHERE sender_id IN (…)`` and the same for the record's tables,
  ``--batch`` conversations per transaction: the least any purge must do;
- purge: :meth:`bot.privacy.lifecycle.DataLifecycle.purge` (finding the idle conversations, every
  table of both databases, tombstones, the audit of each batch, the age rules).

Prints both times, rows per second and the ratio. The target: the purge within 2 minutes.
``--terms-index`` shows what an index on ``conv_terms(conversation_id)`` would save (each batch
otherwise scans that table: its primary key starts with the term).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import Base, make_engine
from bot.db.schema import ensure_schema, import_models
from bot.privacy.lifecycle import DataLifecycle
from bot.privacy.models import TRACKER_EVENTS

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=timezone.utc)
IDLE = NOW - timedelta(days=200)
EVENTS_PER = 6
VOCABULARY = 2000


def _sender(i: int) -> str:
    return f"socketio:bench{i:07d}"


def build(folder: Path, n: int) -> tuple[Path, Path]:
    """The two databases with ``n`` idle conversations; bulk inserts through sqlite3 (a few seconds)."""
    app_path, tracker_path = folder / "app.db", folder / "tracker.db"
    ensure_schema(f"sqlite:///{app_path}")
    tracker_engine = make_engine(f"sqlite:///{tracker_path}")
    TRACKER_EVENTS.create(tracker_engine)  # Rasa's table, with its sender_id index
    tracker_engine.dispose()
    start = IDLE.timestamp()
    naive = IDLE.replace(tzinfo=None)

    tracker = sqlite3.connect(tracker_path)
    tracker.execute("PRAGMA synchronous=OFF")
    kinds = ["action", "user", "action", "bot", "slot", "action"]

    def events() -> Iterator[tuple[object, ...]]:
        for i in range(n):
            sender = _sender(i)
            for k, kind in enumerate(kinds):
                t = start + i * 0.01 + k * 0.001
                data = json.dumps({"event": kind, "timestamp": t, "text": "lệ phí tạm trú bao nhiêu" if kind == "user"
                                   else None, "name": "action_listen" if kind == "action" else None})  # fmt: skip
                yield (sender, kind, t, None, None, data)

    with tracker:
        tracker.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES (?,?,?,?,?,?)",
            events(),
        )
    tracker.close()

    app = sqlite3.connect(app_path)
    app.execute("PRAGMA synchronous=OFF")
    with app:
        app.executemany(
            "INSERT INTO conv_conversations (id, sender_id, channel, started_at, last_at, turns, fallbacks, "
            "handed_off, paused) VALUES (?,?,?,?,?,2,0,0,0)",
            ((i + 1, _sender(i), "socketio", naive, naive) for i in range(n)),
        )
        app.executemany(
            "INSERT INTO conv_turns (sender_id, at, author, text, fallback) VALUES (?,?,?,?,0)",
            ((_sender(i), naive, "citizen", "lệ phí tạm trú bao nhiêu") for i in range(n) for _ in range(2)),
        )
        app.executemany(
            "INSERT INTO conv_terms (term, conversation_id) VALUES (?,?)",
            ((f"w{(i * 7 + k * 13) % VOCABULARY}", i + 1) for i in range(n) for k in range(10)),
        )
        app.executemany(
            "INSERT INTO conv_intents (conversation_id, intent) VALUES (?,?)",
            ((i + 1, intent) for i in range(n) for intent in ("ask_fee", "greet")),
        )
        app.executemany("INSERT INTO conv_procedures (conversation_id, code) VALUES (?, '1.004222')",
                        ((i + 1,) for i in range(n)))  # fmt: skip
        app.executemany(
            "INSERT INTO helpdesk_handoffs (sender_id, channel, reason, state, opened_at) VALUES (?,?,?,?,?)",
            ((_sender(i), "socketio", "asked", "closed", naive) for i in range(0, n, 20)),
        )
        app.executemany(
            "INSERT INTO helpdesk_callbacks (sender_id, channel, phone, requested_at, state) VALUES (?,?,?,?,?)",
            ((_sender(i), "socketio", f"09{i:08d}", naive, "reached") for i in range(0, n, 20)),
        )
        app.executemany(
            "INSERT INTO console_audit (at, username, action, target, reason) VALUES (?,?,?,?,?)",
            ((naive, "lan", "view", _sender(i * 7 % n), "khiếu nại" if i % 10 == 0 else None) for i in range(10000)),
        )
        app.executemany(
            "INSERT INTO dossier_audit_log (at, action, outcome, channel, sender_ref) VALUES (?,?,?,?,?)",
            ((naive, "lookup", "ok", "socketio", f"{i:032x}") for i in range(10000)),
        )
    app.close()
    return app_path, tracker_path


def rows_in(app_path: Path, tracker_path: Path) -> int:
    """Rows of the tables the purge empties (the record, help desk and tracker events)."""
    total = 0
    with sqlite3.connect(tracker_path) as conn:
        total += conn.execute("SELECT count(*) FROM events").fetchone()[0]
    with sqlite3.connect(app_path) as conn:
        for table in ("conv_conversations", "conv_turns", "conv_terms", "conv_intents", "conv_procedures",
                      "helpdesk_handoffs", "helpdesk_callbacks"):  # fmt: skip
            total += conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return total


def baseline(app_path: Path, tracker_path: Path, n: int, batch: int) -> float:
    """Plain DELETE … WHERE … IN (…) of the same rows, ``batch`` conversations per transaction."""
    import_models()
    t = Base.metadata.tables
    app, tracker = make_engine(f"sqlite:///{app_path}"), make_engine(f"sqlite:///{tracker_path}")
    started = time.perf_counter()
    with app.connect() as conn:
        pairs = conn.execute(select(t["conv_conversations"].c.id, t["conv_conversations"].c.sender_id)).all()
    for start in range(0, n, batch):
        chunk = pairs[start : start + batch]
        ids, senders = [p[0] for p in chunk], [p[1] for p in chunk]
        with tracker.begin() as conn:
            conn.execute(delete(TRACKER_EVENTS).where(TRACKER_EVENTS.c.sender_id.in_(senders)))
        with app.begin() as conn:
            for name in ("conv_terms", "conv_intents", "conv_procedures"):
                conn.execute(delete(t[name]).where(t[name].c.conversation_id.in_(ids)))
            for name in ("conv_turns", "helpdesk_handoffs", "helpdesk_callbacks", "conv_conversations"):
                conn.execute(delete(t[name]).where(t[name].c.sender_id.in_(senders)))
    elapsed = time.perf_counter() - started
    app.dispose()
    tracker.dispose()
    return elapsed


def purge(app_path: Path, tracker_path: Path, batch: int) -> tuple[float, int]:
    """DataLifecycle.purge over the copies; (seconds, conversations erased)."""
    app, tracker = make_engine(f"sqlite:///{app_path}"), make_engine(f"sqlite:///{tracker_path}")
    days: list[int] = []
    started = time.perf_counter()
    report = DataLifecycle(app, tracker, clock=lambda: NOW).purge(
        NOW, batch_size=batch, before_delete=lambda d: days.append(len(d))
    )
    elapsed = time.perf_counter() - started
    app.dispose()
    tracker.dispose()
    return elapsed, report.conversations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--terms-index",
        action="store_true",
        help="index conv_terms(conversation_id) in both copies first (the record has no such index: "
        "each batch scans conv_terms)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        (folder / "template").mkdir()
        app_path, tracker_path = build(folder / "template", args.conversations)
        rows = rows_in(app_path, tracker_path)
        print(
            f"built {args.conversations:,} idle conversations, {rows:,} rows, in {time.perf_counter() - started:.1f} s"
        )

        copies = {}
        for name in ("baseline", "purge"):
            (folder / name).mkdir()
            copies[name] = (shutil.copy(app_path, folder / name / "app.db"),
                            shutil.copy(tracker_path, folder / name / "tracker.db"))  # fmt: skip
        if args.terms_index:
            for app_copy, _ in copies.values():
                with sqlite3.connect(app_copy) as conn:
                    conn.execute("CREATE INDEX ix_bench_terms_conversation ON conv_terms (conversation_id)")
        base = baseline(Path(copies["baseline"][0]), Path(copies["baseline"][1]), args.conversations, args.batch)
        seconds, erased = purge(Path(copies["purge"][0]), Path(copies["purge"][1]), args.batch)
        left = rows_in(Path(copies["purge"][0]), Path(copies["purge"][1]))
        print(f"baseline (plain DELETE … IN, batch {args.batch}): {base:6.1f} s  {rows / base:10,.0f} rows/s")
        print(f"purge    (DataLifecycle.purge, batch {args.batch}): {seconds:6.1f} s  {rows / seconds:10,.0f} rows/s  "
              f"{erased / seconds:8,.0f} conversations/s")  # fmt: skip
        print(f"ratio purge / baseline: {seconds / base:.2f}; rows left: {left}; "
              f"target ≤ 120 s: {'met' if seconds <= 120 else 'MISSED'}")  # fmt: skip
        return 0 if erased == args.conversations and left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
