"""Rasa's stock starter bot, as ``rasa init --no-prompt`` makes it: the baseline of bench/webhook_bench.py.

``ensure_stock_model()`` runs ``rasa init --no-prompt --init-dir <dir>`` once (it scaffolds config.yml with
the default pipeline and policies chosen by Rasa's auto-configuration, domain.yml, data/, endpoints.yml,
credentials.yml, and trains the model), and keeps the project and its model in
``~/.cache/tro-ly-dich-vu-cong/stock/<hash>/``, where the hash covers the Rasa version and the files of
the scaffold that ``rasa init`` copies; a second run reuses it. It works offline (nothing is downloaded).

``start_stock(model, port)`` starts ``rasa run --enable-api --port P --auth-token T`` in that project with
its own endpoints.yml and credentials.yml, untouched. This is the STOCK configuration: in-memory tracker
store, no event broker, no lock store other than the in-memory one, no action server (the starter bot has
no custom actions), one Sanic worker, the REST channel. The only addition is ``--interface 127.0.0.1``,
so that the benchmark's server listens on loopback only.

``CONVERSATION`` is a conversation of 7 turns (as many as ours) in the starter bot's own intents that walks
through its stories "sad path 1" (sad, then "yes") and "happy path" and its two rules (bot challenge,
goodbye). Every turn gets a reply from the stock model, also when one sender cycles through it for 100
turns (``--conversation-length``). "sad path 2" (sad, then "no") is left out on purpose: in a long
conversation the stock model answers the second "no" with nothing, which the benchmark counts as an error.

    python bench/stock_bot.py            # train (once) and print the model's path
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

STOCK_DIR = Path.home() / ".cache" / "tro-ly-dich-vu-cong" / "stock"
# English messages in the starter bot's intents (greet, mood_unhappy, affirm, bot_challenge, mood_great,
# goodbye), in an order its stories and rules answer.
CONVERSATION = [
    "hello",
    "I am sad",
    "yes",
    "are you a bot?",
    "hey",
    "great",
    "bye",
]
TRAIN_TIMEOUT_S = 3600
START_TIMEOUT_S = 300


def stock_env() -> dict[str, str]:
    """The environment of the stock bot's processes: telemetry off, quiet TensorFlow, no progress bars."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.setdefault("TQDM_DISABLE", "1")
    return env


def rasa_command() -> list[str]:
    """The ``rasa`` script of the running interpreter's environment (``python -m rasa`` without one)."""
    script = Path(sys.executable).with_name("rasa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rasa"]


def scaffold_files() -> Path:
    """The folder that ``rasa init`` copies into the new project."""
    from rasa.cli.scaffold import scaffold_path

    return Path(scaffold_path())


def scaffold_fingerprint() -> str:
    """A short hash over the Rasa version and the scaffold's files (names and contents)."""
    import rasa

    digest = hashlib.sha256(f"rasa {rasa.__version__}\n".encode())
    root = scaffold_files()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _trained_model(project: Path) -> Path | None:
    models = sorted((project / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


def ensure_stock_model() -> Path:
    """The stock starter bot's model, made by ``rasa init --no-prompt`` once per scaffold hash."""
    project = STOCK_DIR / f"rasa-init-{scaffold_fingerprint()}"
    model = _trained_model(project)
    if model is not None:
        print(f">> stock bot: cached model {model}")
        return model
    STOCK_DIR.mkdir(parents=True, exist_ok=True)
    work = STOCK_DIR / f"{project.name}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log = STOCK_DIR / f"{project.name}.init.log"
    print(f">> stock bot: rasa init --no-prompt (scaffold and training, several minutes; log {log})")
    started = time.perf_counter()
    try:
        with log.open("wb") as out:
            subprocess.run(
                [*rasa_command(), "init", "--no-prompt", "--init-dir", str(work)],
                cwd=work, env=stock_env(), stdout=out, stderr=subprocess.STDOUT,
                check=True, timeout=TRAIN_TIMEOUT_S,
            )  # fmt: skip
        if _trained_model(work) is None:
            raise RuntimeError(f"rasa init made no model in {work}/models (see {log})")
        shutil.rmtree(project, ignore_errors=True)
        work.rename(project)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    model = _trained_model(project)
    assert model is not None
    print(f">> stock bot: trained in {time.perf_counter() - started:.0f} s: {model}")
    return model


def _wait_root(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the stock bot exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise TimeoutError(f"the stock bot did not answer on {url} within {timeout:.0f} s")


def start_stock(model: Path, port: int, token: str | None = None) -> subprocess.Popen[bytes]:
    """Start ``rasa run --enable-api`` with the stock project's own endpoints.yml and credentials.yml on
    127.0.0.1:``port``; wait until ``/`` answers (at most 5 minutes). Stop it with :func:`stop_stock`
    (it runs in its own session, so its process group id is its pid)."""
    project = model.parent.parent
    log = STOCK_DIR / f"run-{port}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                *rasa_command(), "run", "--model", str(model), "--enable-api",
                "--auth-token", token or secrets.token_urlsafe(24),
                "--interface", "127.0.0.1", "--port", str(port),
                "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
            ],
            cwd=project, env=stock_env(), start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_root(f"http://127.0.0.1:{port}/", proc, START_TIMEOUT_S)
    except BaseException:
        stop_stock(proc)
        raise
    return proc


def stop_stock(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop the stock bot's process group; kill it if it is still there after ``timeout``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


if __name__ == "__main__":
    print(ensure_stock_model())
