"""``python -m bot model …`` and ``python -m bot run``."""

from __future__ import annotations

import argparse

from bot.runtime.privacy_cli import USER_ERRORS as USER_ERRORS  # a bad subject or reference: one line, exit 2


def _ensure(args: argparse.Namespace) -> int:
    from bot.runtime.model import ensure_model

    ensure_model(force=args.force)
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    from bot.runtime.model import model_path

    print(model_path())
    return 0


def _story_test(args: argparse.Namespace) -> int:
    from bot.runtime.model import story_test

    return story_test()


def _validate(args: argparse.Namespace) -> int:
    from bot.runtime.model import validate_data

    return validate_data()


def _verdict(name: str, failures: list[str]) -> int:
    """Print a quality gate's failures (or that it passed); the exit status."""
    for failure in failures:
        print(f"{name} quality gate FAILED: {failure}")
    if not failures:
        print(f"{name} quality gate passed.")
    return 1 if failures else 0


def _eval(args: argparse.Namespace) -> int:
    from bot.runtime.evaluation import evaluate, gate, print_report
    from bot.runtime.model import ensure_model

    report = evaluate(ensure_model())
    print_report(report)
    return _verdict("NLU", gate(report))


def _predict(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from bot.runtime.evaluation import predict_files

    records = predict_files(Path(args.model), [Path(p) for p in args.data])
    Path(args.out).write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return 0


def _answer_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.runtime.answer_eval import EVAL_SET, evaluate, gate, print_report
    from bot.runtime.model import ensure_model

    ids = [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else None
    snapshot = Path(args.snapshot) if args.snapshot else None
    report = evaluate(ensure_model(), path=Path(args.set) if args.set else EVAL_SET, snapshot=snapshot, ids=ids)
    print_report(report)
    # A chosen subset is for looking, not for the bars.
    return 0 if ids else _verdict("Answer", gate(report))


def _run(args: argparse.Namespace) -> int:
    if args.profile == "prod":
        from bot.runtime.production import run as run_production

        return run_production(args.replicas)
    from bot.runtime.runner import run

    return run()


def _consume(args: argparse.Namespace) -> int:
    from bot.runtime.broker_consumer import run

    return run(args)


def _housekeeping(args: argparse.Namespace) -> int:
    from bot.runtime.housekeeping import main

    return main(args.endpoints)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``model``, ``events``, ``run``, ``housekeeping`` and ``privacy`` command groups."""
    model = subparsers.add_parser("model", help="train, test and evaluate the Rasa model")
    sub = model.add_subparsers(dest="command", required=True)
    ensure = sub.add_parser("ensure", help="train unless a model for the current data hash exists")
    ensure.add_argument("--force", action="store_true", help="train even if a model exists")
    ensure.set_defaults(func=_ensure)
    sub.add_parser("path", help="print the model path for the current data").set_defaults(func=_fingerprint)
    sub.add_parser("validate", help="rasa data validate, failing on unexpected warnings").set_defaults(func=_validate)
    sub.add_parser("story-test", help="run the test stories (rasa test core)").set_defaults(func=_story_test)
    sub.add_parser("eval", help="evaluate NLU on the held-out set; fail below the bar").set_defaults(func=_eval)
    predict = sub.add_parser(
        "predict", help="the intents a model predicts for NLU files (JSON; the trainer loop's evaluation)"
    )
    predict.add_argument("model", help="the model file (.tar.gz)")
    predict.add_argument("data", nargs="+", help="Rasa NLU files (a missing one is skipped)")
    predict.add_argument("--out", required=True, help="where to write the JSON list of predictions")
    predict.set_defaults(func=_predict)
    answer = sub.add_parser(
        "answer-eval", help="realistic questions through the model and the actions; fails below the bars"
    )
    answer.add_argument("--set", help="question set (default: tests/eval/realistic_questions.yml)")
    answer.add_argument("--snapshot", help="portal snapshot directory (default: ../shared/portal-snapshot)")
    answer.add_argument("--ids", help="only these question ids (comma-separated)")
    answer.set_defaults(func=_answer_eval)
    events = subparsers.add_parser("events", help="Rasa's event stream into the record of conversations")
    events_sub = events.add_subparsers(dest="command", required=True)
    consume = events_sub.add_parser(
        "consume", help="production: apply the events of the RabbitMQ queue (endpoints.prod.yml) to the record"
    )
    from bot.runtime.broker_consumer import add_arguments

    add_arguments(consume).set_defaults(func=_consume)
    run = subparsers.add_parser("run", help="start the action server and Rasa on localhost")
    run.add_argument(
        "--profile", choices=("embedded", "prod"), default="embedded",
        help="embedded: one Rasa on SQLite (make run); prod: replicas behind nginx on PostgreSQL, Redis, "
        "RabbitMQ (make run-prod)",
    )  # fmt: skip
    run.add_argument("--replicas", type=int, default=2, help="with --profile prod: Rasa replicas (default 2)")
    run.set_defaults(func=_run)
    keeper = subparsers.add_parser(
        "housekeeping", help="analytics roll-up every ANALYTICS_ROLLUP_MINUTES, purge daily at PRIVACY_PURGE_TIME"
    )
    keeper.add_argument("--endpoints", default=None, help="the endpoints file Rasa runs with (its lock store)")
    keeper.set_defaults(func=_housekeeping)
    from bot.runtime import privacy_cli, production

    privacy_cli.register(subparsers)
    production.register(subparsers)
