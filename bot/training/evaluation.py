"""A candidate model's evaluation report, and its comparison with the live model's (the console and the CLI).

:func:`evaluate_candidate` predicts, in a subprocess (``python -m bot model predict``, which loads the model
with Rasa: this service imports none), every example of ``root/tests/nlu/holdout.yml`` (the held-out set,
when present) and of ``root/tests/nlu/reviewed_holdout/*.yml`` (the held-out fifth of the reviewed examples,
:func:`bot.training.writer.is_held_out`), then runs the story tests (``rasa test core`` on
``root/tests/stories``, :func:`bot.training.project.run_story_test`). The report is what the gate reads
(:mod:`bot.training.gate`) plus the details the console shows::

    {"model": "…tar.gz", "evaluated_at": "2026-12-07T15:30:00+00:00",
     "overall": 0.97, "no_diacritics": 0.95, "teencode": 0.9,      # held-out accuracy (None: no example)
     "counts": {"overall": 331, "no_diacritics": 120, "teencode": 40},
     "per_intent": {"ask_fee": {"precision": .., "recall": .., "f1": .., "support": 12}, …},
     "confusion": {"labels": ["ask_fee", …], "matrix": [[12, 0, …], …]},   # rows: expected; columns: predicted
     "reviewed": {"n": 25, "accuracy": 0.92, "per_intent": {…}},            # the held-out fifth
     "errors": [{"text", "expected", "predicted", "confidence"}…],           # at most 50, held-out set
     "stories": {"passed": True, "failed": []}, "stories_passed": True}

Accuracies and scores are fractions (0..1) rounded to 4 places. :func:`compare` puts a candidate's report
next to the live model's (None before the first promotion). Errors: :class:`TrainingError`
``evaluation_failed`` when the prediction subprocess fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT
from bot.training.errors import TrainingError
from bot.training.project import rasa_env, run_story_test
from bot.training.writer import HOLDOUT_DIR

__all__ = [
    "HOLDOUT_FILE",
    "TONE_THRESHOLD",
    "Comparison",
    "HeadlineRow",
    "IntentRow",
    "compare",
    "evaluate_candidate",
    "intent_scores",
]

HOLDOUT_FILE = Path("tests") / "nlu" / "holdout.yml"
TONE_THRESHOLD = 0.005
MAX_ERRORS = 50
HEADLINE = ("overall", "no_diacritics", "teencode", "reviewed", "stories")


def _predict(model_path: Path, files: Sequence[Path]) -> list[dict[str, Any]]:
    """Predictions of ``python -m bot model predict`` (see :func:`bot.runtime.evaluation.predict_files`)."""
    if not files:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "predictions.json"
        argv = [sys.executable, "-m", "bot", "model", "predict", str(model_path), *map(str, files), "--out", str(out)]
        proc = subprocess.run(argv, cwd=PROJECT_ROOT, env=rasa_env(), capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout)[-500:]
            raise TrainingError("evaluation_failed", "the model could not be evaluated", output=tail)
        return list(json.loads(out.read_text(encoding="utf-8")))


def _accuracy(records: Sequence[Mapping[str, Any]]) -> float | None:
    if not records:
        return None
    return round(sum(r["intent"] == r["predicted"] for r in records) / len(records), 4)


def intent_scores(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Precision, recall, F1 and support of every gold intent of ``records`` (``intent``/``predicted`` pairs)."""
    counts: dict[str, Counter[str]] = {}
    for r in records:
        gold, pred = r["intent"], r["predicted"]
        counts.setdefault(gold, Counter())
        if gold == pred:
            counts[gold]["tp"] += 1
        else:
            counts[gold]["fn"] += 1
            counts.setdefault(pred, Counter())["fp"] += 1
    scores: dict[str, dict[str, float | int]] = {}
    for intent, c in sorted(counts.items()):
        support = c["tp"] + c["fn"]
        if not support:
            continue  # predicted only: not an intent of this set
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / support
        f = 2 * p * r / (p + r) if p + r else 0.0
        scores[intent] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": support}
    return scores


def _confusion(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    labels = sorted({r["intent"] for r in records} | {r["predicted"] for r in records})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for r in records:
        matrix[index[r["intent"]]][index[r["predicted"]]] += 1
    return {"labels": labels, "matrix": matrix}


def _subset(records: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [r for r in records if name in (r.get("subsets") or ())]


def evaluate_candidate(model_path: Path, root: Path = PROJECT_ROOT, *, stories: bool = True) -> dict[str, Any]:
    """The evaluation report of ``model_path`` on ``root``'s held-out data (module docstring); ``stories=False``
    leaves out the story tests (``stories`` and ``stories_passed`` are then None, which the gate refuses)."""
    holdout = root / HOLDOUT_FILE
    reviewed_files = sorted((root / HOLDOUT_DIR).glob("*.yml"))
    files = [*([holdout] if holdout.is_file() else []), *reviewed_files]
    records = _predict(model_path, files)
    held = [r for r in records if Path(r["file"]) == holdout]
    reviewed = [r for r in records if Path(r["file"]) != holdout]
    subsets = {"no_diacritics": _subset(held, "diacritic_free"), "teencode": _subset(held, "teencode")}
    report: dict[str, Any] = {
        "model": model_path.name,
        "evaluated_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "overall": _accuracy(held),
        **{name: _accuracy(chosen) for name, chosen in subsets.items()},
        "counts": {"overall": len(held), **{name: len(chosen) for name, chosen in subsets.items()}},
        "per_intent": intent_scores(held),
        "confusion": _confusion(held),
        "reviewed": {"n": len(reviewed), "accuracy": _accuracy(reviewed), "per_intent": intent_scores(reviewed)},
        "errors": [
            {"text": r["text"], "expected": r["intent"], "predicted": r["predicted"], "confidence": r["confidence"]}
            for r in held
            if r["intent"] != r["predicted"]
        ][:MAX_ERRORS],
        "stories": None,
        "stories_passed": None,
    }
    if stories:
        with tempfile.TemporaryDirectory() as tmp:
            result = run_story_test(model_path, root, Path(tmp))
        report["stories"] = {"passed": result.passed, "failed": list(result.failed)}
        report["stories_passed"] = result.passed
    return report


# -- side by side ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadlineRow:
    """One headline figure: ``name`` in overall, no_diacritics, teencode, reviewed (accuracy of the held-out fifth)
    and stories (1.0 all passed, 0.0 not); values are fractions, None when not measured; ``delta`` = candidate -
    live; ``tone`` better / worse / same (beyond ±:data:`TONE_THRESHOLD`; same when either side is missing)."""

    name: str
    live: float | None
    candidate: float | None
    delta: float | None
    tone: str


@dataclass(frozen=True)
class IntentRow:
    """One intent's scores, live and candidate (None: the model has no score for it); ``f1_delta`` = candidate -
    live F1 (an intent the candidate lost counts as F1 0, as in the gate); ``tone`` as in :class:`HeadlineRow`."""

    intent: str
    live_precision: float | None
    live_recall: float | None
    live_f1: float | None
    candidate_precision: float | None
    candidate_recall: float | None
    candidate_f1: float | None
    f1_delta: float | None
    support: int
    tone: str


@dataclass(frozen=True)
class Comparison:
    """A candidate next to the live model: the headline rows (in :data:`HEADLINE` order), the per-intent rows
    (worst F1 change first), the candidate's confusion matrix and failed stories. ``has_live``: False before the
    first promotion (every live value is then None)."""

    headline: tuple[HeadlineRow, ...]
    per_intent: tuple[IntentRow, ...]
    confusion: dict[str, Any] | None
    stories_failed: tuple[str, ...]
    has_live: bool


def _tone(delta: float | None) -> str:
    if delta is None or abs(delta) <= TONE_THRESHOLD:
        return "same"
    return "better" if delta > 0 else "worse"


def _figure(report: Mapping[str, Any] | None, name: str) -> float | None:
    if report is None:
        return None
    if name == "reviewed":
        value = (report.get("reviewed") or {}).get("accuracy")
    elif name == "stories":
        passed = report.get("stories_passed")
        value = None if passed is None else float(bool(passed))
    else:
        value = report.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _delta(live: float | None, candidate: float | None) -> float | None:
    return None if live is None or candidate is None else round(candidate - live, 4)


def _intent_row(intent: str, live: Mapping[str, Any] | None, cand: Mapping[str, Any] | None, lost: bool) -> IntentRow:
    def get(scores: Mapping[str, Any] | None, key: str) -> float | None:
        return None if scores is None else float(scores.get(key) or 0.0)

    cand_f1 = get(cand, "f1") if cand is not None else (0.0 if lost else None)
    delta = _delta(get(live, "f1"), cand_f1)
    support = int((cand or live or {}).get("support") or 0)
    return IntentRow(
        intent, get(live, "precision"), get(live, "recall"), get(live, "f1"),
        get(cand, "precision"), get(cand, "recall"), cand_f1, delta, support, _tone(delta),
    )  # fmt: skip


def compare(candidate: Mapping[str, Any], live: Mapping[str, Any] | None) -> Comparison:
    """``candidate``'s report next to ``live``'s (None: no live model yet)."""
    headline = []
    for name in HEADLINE:
        was, now = _figure(live, name), _figure(candidate, name)
        delta = _delta(was, now)
        headline.append(HeadlineRow(name, was, now, delta, _tone(delta)))
    before = dict((live or {}).get("per_intent") or {})
    after = dict(candidate.get("per_intent") or {})
    rows = [_intent_row(i, before.get(i), after.get(i), i not in after) for i in sorted(set(before) | set(after))]
    rows.sort(key=lambda row: (row.f1_delta if row.f1_delta is not None else 0.0, row.intent))
    stories = candidate.get("stories") or {}
    return Comparison(
        tuple(headline),
        tuple(rows),
        candidate.get("confusion"),
        tuple(stories.get("failed") or ()),
        live is not None,
    )
