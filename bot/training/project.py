"""A Rasa project on disk (the repository, or a copy of it under ``root``) and the Rasa commands run on it.

Rasa is only ever run as a subprocess of the project's venv (``rasa`` next to ``sys.executable``), with
``cwd=root``, so this module imports nothing from Rasa and serves both :mod:`bot.runtime.model`
(``make train``, ``make test``) and the trainer loop (:mod:`bot.training.runs`).

* :func:`training_fingerprint`: a 16-hex hash over every training input (:data:`TRAINING_INPUTS`).
* :func:`validate_data`: ``rasa data validate``, failing on any warning not in :data:`EXPECTED_WARNINGS`.
* :func:`run_story_test`: ``rasa test core`` on ``root/tests/stories``; the names of the failed stories.
* :func:`label_signature`: a hash of what Rasa's finetuning refuses to see change (config, and the
  domain's intents, entities, slots, forms, actions and responses).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT, child_environment, settings

__all__ = [
    "EXPECTED_WARNINGS",
    "TRAINING_INPUTS",
    "StoryResult",
    "label_signature",
    "rasa_env",
    "rasa_executable",
    "run_story_test",
    "training_fingerprint",
    "validate_data",
]

# Everything whose change changes the trained model (paths under the project root).
TRAINING_INPUTS = (
    "config.yml",
    "domain.yml",
    "data",
    "bot/nlu",
    "bot/teencode.yml",
    "bot/text.py",
    "requirements.lock",
)

# Warnings of `rasa data validate` that are expected by design, each with its reason.
EXPECTED_WARNINGS = (
    # Triggered through the HTTP API by the dossier watcher, never typed by a citizen.
    ("The intent 'EXTERNAL_", "external intents have no NLU examples"),
    # Rasa's validator does not see that a form asks for its slots with utter_ask_<slot>.
    ("The utterance 'utter_ask_", "forms use utter_ask_<slot> implicitly"),
    # Sent by action_out_of_scope when the words name no procedure (domain.yml keeps the sentence).
    ("The utterance 'utter_out_of_scope'", "sent by a custom action, not by a rule"),
)


def rasa_executable() -> str:
    """The ``rasa`` script of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("rasa"))


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """A short hash (16 hex) over every training input of ``root`` (file names and contents)."""
    digest = hashlib.sha256()
    for item in TRAINING_INPUTS:
        path = root / item
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if f.suffix in {".pyc"} or "__pycache__" in f.parts or not f.exists():
                continue
            digest.update(str(f.relative_to(root)).encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def rasa_env(serving: bool = False) -> dict[str, str]:
    """The environment for Rasa subprocesses: telemetry off, quiet TensorFlow, fixed hash seed.

    ``serving``: for servers (not training), TensorFlow runs each prediction on one thread unless
    ``TF_INTRA_OP_PARALLELISM_THREADS`` / ``TF_INTER_OP_PARALLELISM_THREADS`` say otherwise: a
    prediction is one message, too small to split, and the threads only fought over the cores with the
    other turns (about 15 % more turns per second at 20 users, bench/webhook_bench.py).
    """
    env = child_environment()
    if serving:
        env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")
        env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONHASHSEED", "0")
    # Sanic reads SANIC_* variables into its config: the largest request body the Rasa server accepts.
    env["SANIC_REQUEST_MAX_SIZE"] = str(settings().core.max_request_bytes)
    if not sys.stdout.isatty():
        # Progress bars redrawn thousands of times make CI logs unreadable.
        env.setdefault("TQDM_DISABLE", "1")
    return env


def validate_data(root: Path = PROJECT_ROOT, echo: Callable[[str], None] = print) -> int:
    """``rasa data validate`` on ``root``; non-zero on an error or on a warning not in :data:`EXPECTED_WARNINGS`.

    ``echo`` receives the lines worth showing (unexpected warnings, the tail of a failure, the verdict).
    """
    proc = subprocess.run(
        [rasa_executable(), "data", "validate", "--config", "config.yml", "--domain", "domain.yml", "--data", "data"],
        cwd=root, env=rasa_env(), capture_output=True, text=True,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    warnings = [line.split("UserWarning: ", 1)[1] for line in output.splitlines() if "UserWarning: " in line]
    unexpected = [w for w in warnings if not any(w.startswith(prefix) for prefix, _ in EXPECTED_WARNINGS)]
    for w in unexpected:
        echo(f"rasa data validate: {w}")
    if proc.returncode != 0:
        echo(output[-3000:])
        return proc.returncode
    if unexpected:
        echo(f"rasa data validate: {len(unexpected)} unexpected warning(s)")
        return 1
    echo(f"rasa data validate: OK ({len(warnings)} expected warning(s))")
    return 0


@dataclass(frozen=True)
class StoryResult:
    """The outcome of ``rasa test core``: ``passed`` when it ran and no story failed; ``failed`` the names of
    the failed stories; ``returncode`` Rasa's exit code; ``output`` the tail of its output."""

    passed: bool
    failed: tuple[str, ...]
    returncode: int
    output: str = ""


def run_story_test(model: Path, root: Path = PROJECT_ROOT, out: Path | None = None) -> StoryResult:
    """``rasa test core`` of ``model`` on ``root/tests/stories`` (results in ``out``, default ``root/results/stories``).

    Every story runs (no ``--fail-on-prediction-errors``), so ``failed`` names all of those that failed.
    No ``tests/stories`` folder counts as passed.
    """
    stories = root / "tests" / "stories"
    if not stories.is_dir():
        return StoryResult(True, (), 0, "no tests/stories")
    out = out or root / "results" / "stories"
    proc = subprocess.run(
        [
            rasa_executable(), "test", "core", "--model", str(model.resolve()), "--stories", str(stories),
            "--out", str(out), "--no-plot",
        ],
        cwd=root, env=rasa_env(), capture_output=True, text=True,
    )  # fmt: skip
    failed_file = out / "failed_test_stories.yml"
    failed: list[str] = []
    if failed_file.exists():
        document = yaml.safe_load(failed_file.read_text(encoding="utf-8")) or {}
        failed = [str(s.get("story")) for s in document.get("stories") or [] if isinstance(s, dict)]
    tail = (proc.stdout + proc.stderr)[-2000:]
    return StoryResult(proc.returncode == 0 and not failed, tuple(failed), proc.returncode, tail)


def _domain_labels(domain: dict) -> dict[str, list[str]]:
    def names(items: object) -> list[str]:
        if isinstance(items, dict):
            return sorted(str(k) for k in items)
        return sorted(next(iter(i)) if isinstance(i, dict) else str(i) for i in items or [])

    return {key: names(domain.get(key)) for key in ("intents", "entities", "slots", "forms", "actions", "responses")}


def label_signature(root: Path = PROJECT_ROOT) -> str:
    """A hash (16 hex) of ``config.yml`` and the domain's labels: an incremental retrain (``rasa train
    --finetune``) is possible only from a model trained with the same signature."""
    digest = hashlib.sha256((root / "config.yml").read_bytes())
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8")) or {}
    digest.update(json.dumps(_domain_labels(domain), sort_keys=True).encode())
    return digest.hexdigest()[:16]
