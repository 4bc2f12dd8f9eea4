"""``python -m bot training …``: every step of the trainer loop from the command line.

``status`` (the live model, the last runs), ``inbox`` (the NLU inbox, with its filters), ``export`` (the
decided reviews into ``data/nlu/reviewed``), ``add-intent`` (a new intent with examples and its answer),
``train [--incremental] [--wait]`` (a background run; ``--wait`` runs it here), ``run-job ID`` (internal: the
background job), ``evaluate MODEL_ID`` (the model next to the live one), ``promote MODEL_ID`` (through the
gate, or ``--override-reason`` as a supervisor; every ``RASA_URLS`` server loads it), ``rollback MODEL_ID``,
``reject MODEL_ID --reason``. A refused step (:class:`TrainingError`) prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.settings import PROJECT_ROOT, settings
from bot.training.errors import TrainingError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.training.registry import ModelLoader, ModelRegistry

__all__ = ["USER_ERRORS", "register"]

USER_ERRORS = (TrainingError,)


def _engine() -> Engine:
    from bot.db import engine_for
    from bot.db.schema import ensure_schema

    engine = engine_for(settings().core.database_url)  # keyed by URL: `--database-url` may change it
    ensure_schema(engine)
    return engine


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if getattr(args, "root", None) else PROJECT_ROOT


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}"


# -- status, inbox, export ---------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from bot.training.runs import TrainingRuns

    runs = TrainingRuns(_engine())
    live = runs.registry.live()
    if live is None:
        print("live model: none (no model promoted yet)")
    else:
        trained = f"{live.trained_at:%Y-%m-%d %H:%M}"
        print(f"live model: #{live.id} {live.model_file} (data hash {live.data_hash}, trained {trained} "
              f"by {live.trained_by}, promoted by {live.promoted_by})")  # fmt: skip
    active = runs.active()
    print(f"active run: #{active.id} {active.phase} {active.progress:.0%}" if active else "active run: none")
    for run in runs.recent(args.limit):
        model = f"model #{run.model_id}" if run.model_id else ""
        error = f"error {run.error}" if run.error else ""
        print(f"  run #{run.id} {run.kind:<11} {run.state:<7} {run.phase:<10} {run.progress:>4.0%}  "
              f"{run.started_at:%Y-%m-%d %H:%M} {run.started_by}  {model} {error}".rstrip())  # fmt: skip
    return 0


def _inbox(args: argparse.Namespace) -> int:
    from bot.training.data import TrainingIndex
    from bot.training.inbox import Inbox, InboxFilter

    since = datetime.fromisoformat(args.since) if args.since else None
    filters = InboxFilter(args.fallback, args.confidence_below, args.intent, args.channel, args.flagged or None,
                          args.rating_at_most, since)  # fmt: skip
    items = Inbox(_engine(), TrainingIndex(_root(args))).list(filters, limit=args.limit)
    for item in items:
        confidence = f"{item.confidence:.2f}" if item.confidence is not None else "—"
        marks = ("F" if item.fallback else " ") + ("!" if item.flagged else " ")
        print(f"{item.key[:10]} {marks} x{item.count:<3} {item.intent or '—':<24} {confidence}  {item.text}")
    print(f"{len(items)} text(s)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from bot.training.inbox import Inbox
    from bot.training.writer import Example, domain_intents, write_examples

    root = _root(args)
    inbox = Inbox(_engine())
    known = set(domain_intents((root / "domain.yml").read_text(encoding="utf-8")))
    by_intent: dict[str, list] = {}
    for review in inbox.reviews(unwritten=True):
        by_intent.setdefault(str(review.intent), []).append(review)
    written = 0
    for intent, reviews in sorted(by_intent.items()):
        if intent not in known:
            print(f"skipped {len(reviews)} review(s) of {intent}: not an intent of the domain (add-intent first)")
            continue
        path = write_examples(intent, [Example(r.text, tuple(r.entities)) for r in reviews], root)
        written += inbox.mark_written(r.key for r in reviews)
        print(f"{intent}: {len(reviews)} example(s) -> {path.relative_to(root)}")
    print(f"{written} review(s) written")
    return 0


def _add_intent(args: argparse.Namespace) -> int:
    from bot.training.writer import Example, add_intent

    root = _root(args)
    for path in add_intent(args.name, [Example(e) for e in args.example], args.response, root):
        print(f"wrote {path.relative_to(root)}")
    return 0


# -- runs --------------------------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> int:
    from bot.training.runs import TrainingRuns

    runs = TrainingRuns(_engine())
    run = runs.start(args.by, incremental=args.incremental, root=_root(args), detach=not args.wait)
    if not args.wait:
        print(f"training run #{run.id} started in the background ({run.kind}); follow it with "
              "`python -m bot training status`")  # fmt: skip
        return 0
    run = runs.execute(run.id)
    print(run.log_tail)
    print(f"run #{run.id}: {run.state}" + (f", model #{run.model_id}" if run.model_id else "")
          + (f", error {run.error}" if run.error else ""))  # fmt: skip
    return 0 if run.state in ("done", "reused") else 1


def _run_job(args: argparse.Namespace) -> int:
    from bot.training.runs import TrainingRuns

    run = TrainingRuns(_engine()).execute(args.run_id)
    return 0 if run.state in ("done", "reused") else 1


# -- models ------------------------------------------------------------------------------------------


def _evaluate(args: argparse.Namespace) -> int:
    from bot.training.evaluation import compare, evaluate_candidate
    from bot.training.registry import ModelRegistry

    registry = ModelRegistry(_engine())
    record = registry.get(args.model_id)
    if record is None:
        raise TrainingError("unknown_model", "no model with this id", model_id=args.model_id)
    report = record.report
    if report is None or args.fresh:
        report = evaluate_candidate(Path(record.model_file), _root(args))
    live = registry.live()
    live_report = live.report if live is not None and live.id != record.id else None
    comparison = compare(report, live_report)
    against = f" against the live model #{live.id}" if live is not None and live_report is not None else ""
    print(f"model #{record.id} {Path(record.model_file).name}{against or ' (no other live model)'}")
    print(f"  {'':<14} {'live':>7} {'candidate':>9} {'Δ pts':>6}")
    for row in comparison.headline:
        print(f"  {row.name:<14} {_pct(row.live):>7} {_pct(row.candidate):>9} {_signed(row.delta):>6}  {row.tone}")
    shown = comparison.per_intent if args.all else comparison.per_intent[:15]
    print(f"  per intent (worst first{'' if args.all else ', 15 shown'}): live F1 -> candidate F1 (P/R)")
    for r in shown:
        print(f"    {r.intent:<28} {_pct(r.live_f1):>7} -> {_pct(r.candidate_f1):>7} {_signed(r.f1_delta):>6} "
              f"(P {_pct(r.candidate_precision)} R {_pct(r.candidate_recall)}, n={r.support})  {r.tone}")  # fmt: skip
    if comparison.stories_failed:
        print(f"  failed stories: {', '.join(comparison.stories_failed)}")
    gate = registry.gate(record.id) if record.report is not None else None
    if gate is not None:
        print("  gate: passed" if gate.passed else "  gate: FAILED: " + "; ".join(
            f"{f.rule} {f.detail}" for f in gate.failures))  # fmt: skip
    return 0


def _loader(registry: ModelRegistry, no_load: bool) -> ModelLoader | None:
    if no_load:
        return None
    from bot.training.loader import ReplicaLoader

    live = registry.live()
    return ReplicaLoader(previous=live.model_file if live is not None else None)


def _promote(args: argparse.Namespace) -> int:
    from bot.training.gate import override
    from bot.training.registry import ModelRegistry

    registry = ModelRegistry(_engine())
    decision = None
    if args.override_reason:
        result = registry.gate(args.model_id)
        if not result.passed:
            decision = override(result, args.by, args.as_role, args.override_reason)
    record = registry.promote(args.model_id, args.by, loader=_loader(registry, args.no_load), override=decision)
    print(f"model #{record.id} is live" + (" (gate overridden)" if decision else ""))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from bot.training.registry import ModelRegistry

    registry = ModelRegistry(_engine())
    record = registry.rollback(args.model_id, args.by, loader=_loader(registry, args.no_load))
    print(f"model #{record.id} is live again")
    return 0


def _reject(args: argparse.Namespace) -> int:
    from bot.training.registry import ModelRegistry

    record = ModelRegistry(_engine()).reject(args.model_id, args.by, args.reason)
    print(f"model #{record.id} rejected")
    return 0


# -- the parser --------------------------------------------------------------------------------------


def _add_inbox(sub: argparse._SubParsersAction) -> None:
    inbox = sub.add_parser("inbox", help="citizen messages not in the training data and not yet decided")
    inbox.add_argument("--fallback", action=argparse.BooleanOptionalAction, default=None, help="fell back (or not)")
    inbox.add_argument("--confidence-below", type=float, default=None, help="predicted with less confidence (0-1)")
    inbox.add_argument("--intent", default=None, help="predicted intent")
    inbox.add_argument("--channel", default=None, help="channel (web, rest, telegram, zalo)")
    inbox.add_argument("--flagged", action="store_true", help="only texts staff flagged for the trainer")
    inbox.add_argument("--rating-at-most", type=int, default=None, help="conversation rated 1..N")
    inbox.add_argument("--since", default=None, help="turns at or after (ISO date or date-time, UTC)")
    inbox.add_argument("--limit", type=int, default=50)
    inbox.set_defaults(func=_inbox)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``training`` command group."""
    group = subparsers.add_parser("training", help="the trainer loop: inbox, export, train, evaluate, promote")
    sub = group.add_subparsers(dest="command", required=True)
    by = argparse.ArgumentParser(add_help=False)
    by.add_argument("--by", default=f"cli:{getpass.getuser()}", help="who does it (default: cli:<user>)")
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", default=None, help="the project tree (default: this repository)")
    status = sub.add_parser("status", help="the live model and the last training runs")
    status.add_argument("--limit", type=int, default=10)
    status.set_defaults(func=_status)
    _add_inbox(sub)
    sub.add_parser("export", parents=[root], help="write the decided reviews to data/nlu/reviewed").set_defaults(
        func=_export
    )
    intent = sub.add_parser("add-intent", parents=[root], help="a new intent: examples, a rule, its answer")
    intent.add_argument("name")
    intent.add_argument("--response", required=True, help="the sentence the bot answers")
    intent.add_argument("--example", action="append", required=True, help="an example (repeat the option)")
    intent.set_defaults(func=_add_intent)
    train = sub.add_parser("train", parents=[by, root], help="train (or reuse) a candidate model in the background")
    train.add_argument("--incremental", action="store_true", help="finetune the live model when possible")
    train.add_argument("--wait", action="store_true", help="run here and wait for the end")
    train.set_defaults(func=_train)
    job = sub.add_parser("run-job", help="(internal) the background job of a training run")
    job.add_argument("run_id", type=int)
    job.set_defaults(func=_run_job)
    evaluate = sub.add_parser("evaluate", parents=[root], help="a model next to the live model")
    evaluate.add_argument("model_id", type=int)
    evaluate.add_argument("--fresh", action="store_true", help="evaluate again instead of reading the stored report")
    evaluate.add_argument("--all", action="store_true", help="every intent, not the 15 worst")
    evaluate.set_defaults(func=_evaluate)
    no_load = argparse.ArgumentParser(add_help=False)
    no_load.add_argument("--no-load", action="store_true", help="do not load it into the Rasa servers")
    promote = sub.add_parser("promote", parents=[by, no_load], help="make a model live (every RASA_URLS server)")
    promote.add_argument("model_id", type=int)
    promote.add_argument("--override-reason", default=None, help="a supervisor's reason to pass a failed gate")
    promote.add_argument("--as-role", default="trainer", help="the role overriding (supervisor or admin)")
    promote.set_defaults(func=_promote)
    rollback = sub.add_parser("rollback", parents=[by, no_load], help="make an earlier live model live again")
    rollback.add_argument("model_id", type=int)
    rollback.set_defaults(func=_rollback)
    reject = sub.add_parser("reject", parents=[by], help="reject a model (with a reason)")
    reject.add_argument("model_id", type=int)
    reject.add_argument("--reason", required=True)
    reject.set_defaults(func=_reject)
