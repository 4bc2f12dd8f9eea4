"""Command line of the personal-data lifecycle: ``python -m bot privacy purge|erase|export|hold|release|holds``.

Registered by ``bot/runtime/cli.py``: it lives in the runtime layer because it takes Rasa's conversation
lock (:mod:`bot.runtime.conversation_lock`) and purges through :func:`bot.runtime.housekeeping.purge`
(the analytics roll-up first), while the lifecycle itself (:mod:`bot.privacy.lifecycle`) imports no Rasa.

Every command takes ``--endpoints`` (the file Rasa was started with: ``endpoints.yml`` by default,
``endpoints.prod.yml`` in production), which says where the tracker store is and which lock store
serialises conversations; ``--tracker-url`` overrides the tracker's URL. See docs/PRIVACY.md.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

__all__ = ["USER_ERRORS", "register"]

# Subject, reference and hold mistakes are ValueErrors with a one-line reason; a missing endpoints file
# or output folder, FileNotFoundError.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError)

def _subject_args(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--sender", help="a conversation id as stored, e.g. telegram_ptb:123456 or zalo:84…")
    who.add_argument("--phone", help="a phone number (0912345678, +84 912 345 678)")
    who.add_argument("--dossier", help="a dossier code (000.00.12.H61-240831-0001)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoints", type=Path, default=None,
                        help="the endpoints file Rasa runs with (default endpoints.yml; production: "
                             "endpoints.prod.yml): tracker store and lock store")  # fmt: skip
    parser.add_argument("--tracker-url", default=None, help="SQLAlchemy URL of the tracker store (overrides "
                        "the endpoints file)")  # fmt: skip


def _by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", default=None, help="who handles the request (default: the system user name)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``privacy`` command group to ``python -m bot`` (called by ``bot/runtime/cli.py``)."""
    group = subparsers.add_parser("privacy", help="personal data: retention purge, erasure, export, holds")
    sub = group.add_subparsers(dest="command", required=True)

    purge = sub.add_parser("purge", help="erase conversations older than RETENTION_TRANSCRIPT_DAYS, and old "
                           "audit rows (held conversations are kept)")  # fmt: skip
    purge.add_argument("--dry-run", action="store_true", help="say what would go, delete nothing")
    purge.add_argument("--list", action="store_true", help="with --dry-run: print the conversation ids too")
    purge.add_argument("--batch", type=int, default=1000, help="conversations per transaction (default 1000)")
    _common(purge)
    purge.set_defaults(func=_purge)

    erase = sub.add_parser("erase", help="erase every trace of a person's conversations (a deletion request)")
    _subject_args(erase)
    erase.add_argument("--reference", required=True, help="the request's number (phiếu yêu cầu)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--override-hold", action="store_true", help="erase even conversations on hold")
    _by(erase)
    _common(erase)
    erase.set_defaults(func=_erase)

    export = sub.add_parser("export", help="everything held about a person, as JSON (an access request)")
    _subject_args(export)
    export.add_argument("--reference", required=True, help="the request's number (phiếu yêu cầu)")
    export.add_argument("--out", type=Path, default=None, help="write the JSON here (default: standard output)")
    _by(export)
    _common(export)
    export.set_defaults(func=_export)

    hold = sub.add_parser("hold", help="keep a conversation out of the purge and of erasure (a complaint)")
    hold.add_argument("--sender", required=True)
    hold.add_argument("--reference", required=True, help="the complaint's or the decision's number")
    hold.add_argument("--reason", required=True)
    _by(hold)
    _common(hold)
    hold.set_defaults(func=_hold)

    release = sub.add_parser("release", help="lift a hold")
    release.add_argument("--sender", required=True)
    _by(release)
    _common(release)
    release.set_defaults(func=_release)

    holds = sub.add_parser("holds", help="list the conversations on hold")
    _common(holds)
    holds.set_defaults(func=_holds)


def _lifecycle(args: argparse.Namespace, *, lock: bool = True) -> Any:
    """The DataLifecycle over the configured database and the endpoints' tracker store and lock store."""
    from bot.db import engine_for, make_engine
    from bot.db.schema import ensure_schema
    from bot.privacy.lifecycle import DataLifecycle
    from bot.runtime import conversation_lock as runtime
    from bot.settings import settings

    # Keyed by the URL: engine_for() without one would cache whichever database was current first.
    engine = engine_for(settings().core.database_url)
    ensure_schema(engine)
    tracker = make_engine(args.tracker_url or runtime.tracker_url(args.endpoints))
    factory: Callable[[str], AbstractContextManager[object]] | None = None
    if lock:
        if runtime.lock_is_shared(args.endpoints):
            endpoints = args.endpoints

            def factory(sender_id: str) -> AbstractContextManager[object]:
                return runtime.conversation_lock(sender_id, endpoints)
        else:
            print("note: Rasa's lock store is in its own memory (no lock_store in the endpoints file): the "
                  "conversations are not locked from here; the tracker store's erasure tombstones keep a turn "
                  "in flight from writing erased events back", file=sys.stderr)  # fmt: skip
    return DataLifecycle(engine, tracker, lock=factory)


def _subject(args: argparse.Namespace) -> Any:
    from bot.privacy.subjects import Subject

    if args.sender is not None:
        return Subject("sender", args.sender)
    if args.phone is not None:
        return Subject("phone", args.phone)
    return Subject("dossier", args.dossier)


def _who(args: argparse.Namespace) -> str:
    return args.by or getpass.getuser()


def _purge(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.runtime.housekeeping import purge

    if args.batch < 1:
        raise ValueError("--batch must be at least 1")
    life = _lifecycle(args, lock=not args.dry_run)
    with tqdm(unit="conv", desc="dry run" if args.dry_run else "purge", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(done)

        report = purge(dry_run=args.dry_run, batch_size=args.batch, progress=progress, lifecycle=life)
    verb = "would erase" if args.dry_run else "erased"
    print(f"{verb} {report.conversations} conversations idle since before {report.cutoff:%Y-%m-%d %H:%M} UTC "
          f"({report.skipped_held} on hold kept, {report.skipped_recent} with recent tracker events kept)")  # fmt: skip
    for table, count in report.rows.items():
        print(f"  {table}: {count}")
    if args.dry_run and args.list:
        for sender in report.sender_ids:
            print(sender)
    return 0


def _erase(args: argparse.Namespace) -> int:
    from bot.runtime.housekeeping import erase

    subject = _subject(args)
    life = _lifecycle(args)
    found = life.resolve(subject)
    print(f"{subject.label}: {len(found.sender_ids)} conversation(s)")
    for sender, where in found.found_in.items():
        print(f"  {sender}  ({', '.join(where)})")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("not confirmed: run with --yes when no one can answer the question")
        if input("erase all of this? type yes: ").strip().lower() != "yes":
            print("nothing erased")
            return 1
    report = erase(life, subject, reference=args.reference, requested_by=_who(args), override_hold=args.override_hold)
    print(f"erased (request {report.request_id}, {report.reference}): {len(found.sender_ids)} conversation(s)")
    for table, count in report.rows.items():
        print(f"  {table}: {count}")
    return 0


def _export(args: argparse.Namespace) -> int:
    subject = _subject(args)
    life = _lifecycle(args, lock=False)  # reading: a turn in flight only adds to what is exported
    data = life.export(subject, reference=args.reference, requested_by=_who(args))
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if args.out is None:
        print(text)
    else:
        # bot.cli sets a private umask: the file is readable by its owner only.
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        print(f"{len(data['sender_ids'])} conversation(s) written to {args.out}", file=sys.stderr)
    return 0


def _hold(args: argparse.Namespace) -> int:
    hold = _lifecycle(args, lock=False).hold(args.sender, reference=args.reference, reason=args.reason,
                                             created_by=_who(args))  # fmt: skip
    print(f"on hold: {hold.sender_id} ({hold.reference})")
    return 0


def _release(args: argparse.Namespace) -> int:
    if _lifecycle(args, lock=False).release(args.sender, released_by=_who(args)):
        print(f"released: {args.sender}")
        return 0
    print(f"no hold on {args.sender}", file=sys.stderr)
    return 1


def _holds(args: argparse.Namespace) -> int:
    holds = _lifecycle(args, lock=False).holds()
    for hold in holds:
        print(f"{hold.sender_id}\t{hold.reference}\t{hold.created_at:%Y-%m-%d}\t{hold.created_by}\t{hold.reason}")
    if not holds:
        print("no conversation on hold", file=sys.stderr)
    return 0
