"""Benchmark the portal importer on the full reference snapshot.

Imports ``../shared/portal-snapshot`` (5,670 catalogue rows, 502 detail records) into a
fresh SQLite database (and PostgreSQL with ``--postgres``, in a throwaway schema), then
re-imports it, and prints wall times and the ProcedureCatalog's read latency.

Usage: ``.venv/bin/python bench/catalog_import_bench.py [--postgres]``
Exits with status 2 when ../shared is absent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.catalog.importer import import_portal  # noqa: E402
from bot.catalog.service import ProcedureCatalog  # noqa: E402
from bot.db import make_engine  # noqa: E402
from bot.db.schema import ensure_schema  # noqa: E402

SNAPSHOT = ROOT.parent / "shared" / "portal-snapshot"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def run(label: str, engine: Engine) -> None:
    ensure_schema(engine)
    first = import_portal(SNAPSHOT, engine, progress=False)
    second = import_portal(SNAPSHOT, engine, progress=False)
    print(
        f"{label}: first import {first.seconds:.2f} s ({first.loaded} loaded, {len(first.skipped)} skipped); "
        f"re-import {second.seconds:.2f} s ({second.unchanged} unchanged, {second.updated} updated)"
    )
    catalog = ProcedureCatalog(engine)
    codes = [e.code for e in catalog.all_search_entries()][::50]
    times = []
    for code in codes:
        t = time.perf_counter()
        catalog.get(code)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(
        f"{label}: get() over {len(codes)} codes: median {statistics.median(times):.2f} ms, "
        f"p95 {times[int(len(times) * 0.95)]:.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL 127.0.0.1:5432/test")
    args = parser.parse_args()
    if not (SNAPSHOT / "catalog.jsonl").is_file():
        print(f"snapshot not found at {SNAPSHOT}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        run("sqlite", engine)
        engine.dispose()
    if args.postgres:
        admin = create_engine(PG_URL, future=True)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(PG_URL, future=True, connect_args={"options": f"-csearch_path={schema}"})
        try:
            run("postgresql", engine)
        finally:
            engine.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
