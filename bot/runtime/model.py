"""Training, caching by data hash, story tests and NLU evaluation of the Rasa model.

Rasa is run as a subprocess of the project's own venv, so this module has no
Rasa imports at import time (the evaluation loads the model lazily).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bot.settings import PROJECT_ROOT, child_environment, settings

MODELS_DIR = PROJECT_ROOT / "models"
# Everything whose change changes the trained model.
TRAINING_INPUTS = (
    "config.yml",
    "domain.yml",
    "data",
    "bot/nlu",
    "bot/teencode.yml",
    "bot/text.py",
    "requirements.lock",
)


def rasa_executable() -> str:
    """The ``rasa`` script of the running interpreter's environment."""
    return str(Path(sys.executable).with_name("rasa"))


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    """A short hash over every training input (file names and contents)."""
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


def model_path(fingerprint: str | None = None) -> Path:
    """Where the model for ``fingerprint`` (default: the current data) lives."""
    return MODELS_DIR / f"dvc-{fingerprint or training_fingerprint()}.tar.gz"


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


def ensure_model(force: bool = False) -> Path:
    """Return the model for the current data, training it only when none exists for its hash."""
    fingerprint = training_fingerprint()
    target = model_path(fingerprint)
    # A cache outside the work tree (MODEL_CACHE_DIR) lets a fresh clone on the same machine skip training.
    cache_dir = settings().runtime.model_cache_dir
    cached = cache_dir / target.name
    if target.exists() and not force:
        print(f">> model up to date: {target.relative_to(PROJECT_ROOT)}")
        return target
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    if cached.exists() and not force:
        shutil.copy2(cached, target)
        print(f">> model restored from cache: {target.relative_to(PROJECT_ROOT)}")
        return target
    print(f">> training model {target.name} (data changed or no model yet)")
    started = time.perf_counter()
    subprocess.run(
        [
            rasa_executable(), "train",
            "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
            "--out", str(MODELS_DIR), "--fixed-model-name", target.name.removesuffix(".tar.gz"),
        ],
        cwd=PROJECT_ROOT, env=rasa_env(), check=True,
    )  # fmt: skip
    print(f">> trained in {time.perf_counter() - started:.0f} s")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(target, cached)
    except OSError as exc:  # a read-only home must not fail the build
        print(f"note: model cache not written ({exc})")
    for old in MODELS_DIR.glob("dvc-*.tar.gz"):
        if old != target:
            old.unlink()
    return target


def story_test(model: Path | None = None) -> int:
    """Run ``rasa test core`` on tests/stories; non-zero when any story fails."""
    model = model or ensure_model()
    out = PROJECT_ROOT / "results" / "stories"
    proc = subprocess.run(
        [
            rasa_executable(), "test", "core",
            "--model", str(model), "--stories", "tests/stories",
            "--out", str(out), "--fail-on-prediction-errors", "--no-plot",
        ],
        cwd=PROJECT_ROOT, env=rasa_env(),
    )  # fmt: skip
    failed = out / "failed_test_stories.yml"
    if proc.returncode == 0 and failed.exists() and "- story:" in failed.read_text(encoding="utf-8"):
        print(f"story tests failed: see {failed}")
        return 1
    return proc.returncode


# Warnings of `rasa data validate` that are expected by design, each with its reason.
EXPECTED_WARNINGS = (
    # Triggered through the HTTP API by the dossier watcher, never typed by a citizen.
    ("The intent 'EXTERNAL_", "external intents have no NLU examples"),
    # Rasa's validator does not see that a form asks for its slots with utter_ask_<slot>.
    ("The utterance 'utter_ask_", "forms use utter_ask_<slot> implicitly"),
    # Sent by action_out_of_scope when the words name no procedure (domain.yml keeps the sentence).
    ("The utterance 'utter_out_of_scope'", "sent by a custom action, not by a rule"),
)


def validate_data() -> int:
    """``rasa data validate``; fail on any warning that is not listed in :data:`EXPECTED_WARNINGS`."""
    proc = subprocess.run(
        [rasa_executable(), "data", "validate", "--config", "config.yml", "--domain", "domain.yml", "--data", "data"],
        cwd=PROJECT_ROOT, env=rasa_env(), capture_output=True, text=True,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    warnings = [line.split("UserWarning: ", 1)[1] for line in output.splitlines() if "UserWarning: " in line]
    unexpected = [w for w in warnings if not any(w.startswith(prefix) for prefix, _ in EXPECTED_WARNINGS)]
    for w in unexpected:
        print(f"rasa data validate: {w}")
    if proc.returncode != 0:
        print(output[-3000:])
        return proc.returncode
    if unexpected:
        print(f"rasa data validate: {len(unexpected)} unexpected warning(s)")
        return 1
    print(f"rasa data validate: OK ({len(warnings)} expected warning(s))")
    return 0
