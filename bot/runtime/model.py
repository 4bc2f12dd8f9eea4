"""Training, caching by data hash, story tests and NLU evaluation of the Rasa model.

Rasa is run as a subprocess of the project's own venv, so this module has no
Rasa imports at import time (the evaluation loads the model lazily). The hash of the
training inputs, Rasa's environment and ``rasa data validate`` live in
:mod:`bot.training.project` (the trainer loop runs them on copies of the project too).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bot.settings import PROJECT_ROOT, settings

# Re-exported: the project's helpers live with the trainer loop (bot.training.project).
from bot.training.project import EXPECTED_WARNINGS as EXPECTED_WARNINGS
from bot.training.project import TRAINING_INPUTS as TRAINING_INPUTS
from bot.training.project import rasa_env as rasa_env
from bot.training.project import rasa_executable as rasa_executable
from bot.training.project import training_fingerprint as training_fingerprint
from bot.training.project import validate_data as _validate_data

MODELS_DIR = PROJECT_ROOT / "models"


def model_path(fingerprint: str | None = None) -> Path:
    """Where the model for ``fingerprint`` (default: the current data) lives."""
    return MODELS_DIR / f"dvc-{fingerprint or training_fingerprint()}.tar.gz"


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


def serving_model() -> Path:
    """The model a (re)started Rasa server runs: the trainer loop's live model when the registry has one whose
    file exists (:func:`bot.training.loader.live_model_file`), else :func:`ensure_model`'s."""
    from bot.training.loader import live_model_file

    live = live_model_file()
    if live is not None:
        print(f">> the live model of the registry: {live.name}")
        return live
    return ensure_model()


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


def validate_data(root: Path = PROJECT_ROOT) -> int:
    """``rasa data validate`` on ``root``; fail on any warning that is not listed in :data:`EXPECTED_WARNINGS`."""
    return _validate_data(root)
