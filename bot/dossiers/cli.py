"""``python -m bot dossier …``: the watcher, demo data and an operator's status change.

``bot.cli`` mounts this with :func:`register` (one entry point: logging, masking and errors are set up there).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

__all__ = ["register"]


def _engine():  # type: ignore[no-untyped-def]
    from bot.db import engine_for
    from bot.db.schema import ensure_schema

    engine = engine_for()
    ensure_schema(engine)
    return engine


def _watch(args: argparse.Namespace) -> int:
    from bot.dossiers.watcher import build_watcher
    from bot.settings import settings

    watcher = build_watcher(_engine())
    if args.once:
        report = watcher.poll_once()
        print(
            f"checked={report.checked} changed={report.changed} notified={report.notified} "
            f"failed={report.failed} unavailable={report.unavailable}"
        )
        return 1 if report.failed else 0
    interval = args.interval or settings().dossiers.watch_interval
    print(f"Watching followed dossiers every {interval:g}s (Ctrl+C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        watcher.run(interval)
    return 0


def _seed(args: argparse.Namespace) -> int:
    from bot.dossiers.demo import seed_demo
    from bot.settings import settings

    if not settings().dossiers.demo_data and not args.force:
        print("DEMO_DATA=0: demo dossiers not seeded")
        return 0
    added = seed_demo(_engine())
    print(f"demo dossiers added: {added}")
    return 0


def _set_status(args: argparse.Namespace) -> int:
    from bot.dossiers.codes import InvalidDossierCode, normalise_dossier_code
    from bot.dossiers.render import invalid_code_text
    from bot.dossiers.status import parse_status
    from bot.dossiers.store import DossierStore

    try:
        code = normalise_dossier_code(args.code)
        status = parse_status(args.status)
    except (InvalidDossierCode, ValueError) as exc:
        print(invalid_code_text(exc) if isinstance(exc, InvalidDossierCode) else str(exc), file=sys.stderr)
        return 2
    changed = DossierStore(_engine()).set_status(code, int(status), note=args.note)
    print(f"{code}: status {int(status)} ({'changed' if changed else 'unchanged or unknown code'})")
    return 0 if changed else 1


def _lookup(args: argparse.Namespace) -> int:
    from bot.dossiers.render import lookup_text, subscription_text
    from bot.dossiers.service import DossierLookup, build_source
    from bot.dossiers.store import DossierStore

    store = DossierStore(_engine())
    service = DossierLookup(build_source(store), store)
    print(lookup_text(service.status(args.code, args.last4, args.sender, args.channel, requester=args.requester)))
    if args.subscribe:
        print(subscription_text(service.subscribe(args.code, args.channel, args.sender)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``dossier`` command (watch, seed-demo, set-status, lookup) to a CLI's subparsers."""
    parser = subparsers.add_parser("dossier", help="dossier tracking: watcher, demo data, status changes")
    sub = parser.add_subparsers(dest="dossier_command", required=True)

    watch = sub.add_parser("watch", help="poll followed dossiers and push status changes through Rasa")
    watch.add_argument("--once", action="store_true", help="one round, then exit")
    watch.add_argument("--interval", type=float, default=None, help="seconds between rounds (DOSSIER_WATCH_INTERVAL)")
    watch.set_defaults(func=_watch)

    seed = sub.add_parser("seed-demo", help="add the demo dossiers (idempotent; skipped when DEMO_DATA=0)")
    seed.add_argument("--force", action="store_true", help="seed even when DEMO_DATA=0")
    seed.set_defaults(func=_seed)

    setst = sub.add_parser("set-status", help="change a dossier's status in the embedded store")
    setst.add_argument("code")
    setst.add_argument("status", help="1..10 or a label such as 'Đã trả kết quả'")
    setst.add_argument("--note", default="set by operator")
    setst.set_defaults(func=_set_status)

    lookup = sub.add_parser("lookup", help="look a dossier up as a citizen would (verification, lockout, audit)")
    lookup.add_argument("code")
    lookup.add_argument("last4", help="last 4 digits of the registered phone")
    lookup.add_argument("--sender", default="cli")
    lookup.add_argument("--channel", default="cli")
    lookup.add_argument(
        "--requester", default=None, help="key failures are counted and locked under (default: the sender)"
    )
    lookup.add_argument("--subscribe", action="store_true", help="subscribe after a verified lookup")
    lookup.set_defaults(func=_lookup)
    return parser
