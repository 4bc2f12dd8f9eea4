"""Figures for dossier tracking: lookup latency on SQLite and log-masking throughput.

Run: ``.venv/bin/python -m bench.dossier_lookup [N]`` (prints figures; not a unit test).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.dossiers.demo import seed_demo
from bot.dossiers.service import DossierLookup, Verified
from bot.dossiers.store import DossierStore
from bot.privacy import mask_text

SALT = b"bench-salt"
DEMO = "000.00.00.H99-261120-0001"


def main(n: int = 300) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        ensure_schema(engine)
        seed_demo(engine, salt=SALT)
        store = DossierStore(engine, SALT)
        lookup = DossierLookup(store, store, salt=SALT)
        timings = []
        for i in range(n):
            started = time.perf_counter()
            result = lookup.status(DEMO, "6789", f"sender-{i}", "bench")
            timings.append((time.perf_counter() - started) * 1000)
            assert isinstance(result, Verified)
        timings.sort()
        print(
            f"verified lookup, SQLite, {n} calls: median {statistics.median(timings):.1f} ms, "
            f"p95 {timings[int(0.95 * n) - 1]:.1f} ms, max {timings[-1]:.1f} ms"
        )
        engine.dispose()

    lines = [
        "lookup by 0912345678 for hồ sơ 000.00.00.H99-261120-0001 (thủ tục 1.004222) ngày 01/12/2026",
        "POST /conversations/123456789/trigger_intent status=200 in 12.3ms",
        "user said: CCCD của em là 001099012345, email a@b.vn",
    ] * 1000
    names = [f"NGUYỄN VĂN NGƯỜI{i}" for i in range(1000)]
    for label, kwargs in (("no names", {}), ("1,000 owner names", {"names": names})):
        started = time.perf_counter()
        for line in lines:
            mask_text(line, **kwargs)
        per_line = (time.perf_counter() - started) / len(lines) * 1e6
        print(f"mask_text, {label}: {per_line:.0f} µs per log line")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
