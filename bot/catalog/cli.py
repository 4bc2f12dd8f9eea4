"""``python -m bot catalog …``: load curated files, import or sync portal data, show a procedure."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.catalog.errors import CatalogError

USER_ERRORS: tuple[type[BaseException], ...] = (CatalogError,)


def _engine():  # type: ignore[no-untyped-def]
    from bot.db import make_engine
    from bot.db.schema import ensure_schema

    engine = make_engine()
    ensure_schema(engine)
    return engine


def _load(args: argparse.Namespace) -> int:
    from bot.catalog.loader import load_curated

    summary = load_curated(args.directory, _engine())
    print(f"curated catalogue: {summary}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from bot.catalog.importer import import_portal

    summary = import_portal(args.path, _engine(), quiet=args.quiet)
    print(summary)
    return 0


def _sync(args: argparse.Namespace) -> int:
    from bot.catalog.sync import PortalClient, sync
    from bot.settings import settings

    out = Path(args.out) if args.out else settings().core.var_dir / "portal-sync"
    client = PortalClient(args.base_url, delay=args.delay)
    codes = {c.strip() for c in args.codes.split(",") if c.strip()} if args.codes else None
    summary = sync(out, client, limit=args.limit, max_pages=args.pages, codes=codes, quiet=args.quiet)
    print(f"{out}: {summary}")
    if args.do_import:
        from bot.catalog.importer import import_portal

        print(import_portal(out, _engine(), quiet=args.quiet))
    return 1 if summary.failures else 0


def _show(args: argparse.Namespace) -> int:
    import dataclasses

    from bot.catalog.service import ProcedureCatalog

    proc = ProcedureCatalog(_engine()).get(args.code, args.province)
    if proc is None:
        where = f" for province {args.province}" if args.province else ""
        print(f"error: no procedure with code {args.code}{where}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(dataclasses.asdict(proc), ensure_ascii=False, indent=2, default=str))
        return 0
    print(render(proc))
    return 0


def render(proc) -> str:  # type: ignore[no-untyped-def]
    """A plain-text view of a procedure for operators."""
    lines = [f"{proc.code}{' / tỉnh ' + proc.province if proc.province else ''}: {proc.name}"]
    lines.append(f"  origin: {proc.origin} ({proc.detail_level}); verified on: {proc.verified_on or '-'}")
    if proc.aliases:
        lines.append(f"  aliases: {', '.join(proc.aliases)}")
    if proc.field:
        lines.append(f"  field: {proc.field}")
    if proc.competent:
        lines.append(f"  competent: {proc.competent.name} [{proc.competent.level}]")
    for a in proc.implementing:
        lines.append(f"  implementing: {a.name} [{a.level}]")
    lines.append(f"  online: {proc.online_level} {', '.join(proc.online_portals)}".rstrip())
    for m in proc.methods:
        time = f"{m.processing_time:g} {m.time_unit}" if m.processing_time is not None else m.time_unit
        lines.append(f"  method {m.kind}: {time}{' — ' + m.time_note if m.time_note else ''}")
        for f in m.fees:
            amount = f"{f.amount:,} VND".replace(",", ".") if f.amount is not None else "(no figure)"
            lines.append(f"    fee {amount}: {f.description[:100]}")
    for c in proc.cases:
        lines.append(f"  case{' (common)' if c.common else ''}: {c.name} — {len(c.documents)} document(s)")
    lines += [f"  step {i}: {s.splitlines()[0][:120]}" for i, s in enumerate(proc.steps, 1)]
    lines += [f"  legal basis: {b.code} {b.title[:80]}" for b in proc.legal_basis]
    if proc.categories and proc.detail_level == "summary":
        lines.append(f"  departments: {'; '.join(proc.departments)}; promulgated by: {proc.promulgated_by}")
    lines.append(f"  source: {proc.source_url}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``catalog`` command group."""
    cat = subparsers.add_parser("catalog", help="procedure catalogue: load, import, sync, show")
    sub = cat.add_subparsers(dest="command", required=True)

    p = sub.add_parser("load", help="validate and load the curated YAML files (data/catalog)")
    p.add_argument("directory", nargs="?", default=None, help="default: CATALOG_DIR, else data/catalog")
    p.set_defaults(func=_load)

    p = sub.add_parser("import", help="import portal JSON: a snapshot directory or one file")
    p.add_argument("path")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_import)

    p = sub.add_parser("sync", help="fetch catalogue and details from the portal API (resumable)")
    p.add_argument("--out", default=None, help="output directory (default: var/portal-sync)")
    p.add_argument("--limit", type=int, default=None, help="fetch at most N missing details this run")
    p.add_argument("--pages", type=int, default=None, help="fetch at most N catalogue pages this run")
    p.add_argument("--codes", default=None, help="only these procedure codes' details (comma-separated)")
    p.add_argument("--base-url", default=None, help="default: PORTAL_BASE_URL")
    p.add_argument("--delay", type=float, default=0.5, help="seconds between requests (default 0.5)")
    p.add_argument("--import", dest="do_import", action="store_true", help="import the result afterwards")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_sync)

    p = sub.add_parser("show", help="print one procedure")
    p.add_argument("code")
    p.add_argument("--province", default=None, help="province code or name for provincial variants")
    p.add_argument("--json", action="store_true", help="print the full record as JSON")
    p.set_defaults(func=_show)
