"""Background training runs, kept in the database (``training_runs``) so that every process sees them.

:meth:`TrainingRuns.start` records a run (state ``running``) and spawns a detached
``python -m bot training run-job <id>`` (its own session, so it outlives the console's request; its output
goes to ``var/log/training/run-<id>.log``), which calls :meth:`TrainingRuns.execute`:

1. ``validating``: ``rasa data validate`` on the project (:func:`bot.training.project.validate_data`, the
   project's expected warnings allowed); the data hash (:func:`~bot.training.project.training_fingerprint`).
2. A model of the registry with the same hash (:meth:`~bot.training.registry.ModelRegistry.find_by_hash`) is
   reused: state ``reused``, ``model_id`` that model, nothing trained.
3. ``training``: ``rasa train`` into ``TRAINING_MODELS_DIR``. An incremental run finetunes the live model
   (``--finetune <file> --epoch-fraction TRAINING_EPOCH_FRACTION``) when its config and domain labels
   (:func:`~bot.training.project.label_signature`) are those the live model was trained with; otherwise, or
   when Rasa refuses, it trains from scratch and says so in the log.
4. ``evaluating``: :func:`bot.training.evaluation.evaluate_candidate`; then the model is registered as a
   candidate with its report (state ``done``, ``model_id``).

``progress`` (0..1, never decreasing) is 0-0.05 validating, 0.05-0.8 training (the share of the config's
components trained, the rest filled by DIET's epochs, both parsed from Rasa's output), 0.8-1 evaluating.
``log_tail`` keeps the last :data:`LOG_LINES` lines, masked with :func:`bot.privacy.mask_text`, written at
most once a second. The job touches ``heartbeat_at``
every :data:`HEARTBEAT_SECONDS`; a running run silent for :data:`ABANDONED_AFTER` seconds is failed as
``abandoned`` by the next :meth:`~TrainingRuns.active`. One run at a time: the unique ``active_slot`` column.

Errors (:class:`TrainingError`): ``busy`` (a run is active; ``run_id``), ``unknown_run``, ``not_running``; a
failed run stores a short ``error`` (``invalid_data``, ``train_failed``, ``evaluation_failed``, ``abandoned``,
or an exception's type) and keeps its log tail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db import TransactionalStore
from bot.db.clock import naive_utc
from bot.privacy import mask_text
from bot.settings import PROJECT_ROOT, child_environment, settings
from bot.training.errors import TrainingError
from bot.training.evaluation import evaluate_candidate
from bot.training.models import RunRow
from bot.training.project import label_signature, rasa_env, rasa_executable, training_fingerprint, validate_data
from bot.training.registry import ModelRecord, ModelRegistry

__all__ = ["ABANDONED_AFTER", "HEARTBEAT_SECONDS", "LOG_LINES", "TrainingRun", "TrainingRuns"]

LOG_LINES = 40
HEARTBEAT_SECONDS = 10.0
ABANDONED_AFTER = 60.0
FLUSH_SECONDS = 1.0
_BANDS = {"validating": (0.0, 0.05), "training": (0.05, 0.8), "evaluating": (0.8, 0.99)}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EPOCHS = re.compile(r"Epochs:\s*\d+%\|.*?\|\s*(\d+)/(\d+)")
_COMPONENT_DONE = re.compile(r"(Finished training|Restored) component")
_BAR = re.compile(r"^([^:|]{1,40}):.*(\d+%\||\d+it \[)")
_NOISE = ("DeprecationWarning", "MovedIn20Warning", "declare_namespace", "Implementing implicit namespace",
          "SADeprecationWarning", "from jax import")  # fmt: skip


@dataclass(frozen=True)
class TrainingRun:
    """A row of ``training_runs`` (times naive UTC; see the module docstring for the fields' values)."""

    id: int
    kind: str  # "full" | "incremental"
    state: str  # "running" | "done" | "failed" | "reused"
    phase: str  # "validating" | "training" | "evaluating" | "done" | "failed"
    progress: float  # 0..1, for the console's progress bar
    log_tail: str  # last ~40 lines of the training log, personal data masked
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    data_hash: str | None
    model_id: int | None  # the registry row once registered (or the reused one)
    error: str | None


def _run(row: RunRow) -> TrainingRun:
    return TrainingRun(
        row.id, row.kind, row.state, row.phase, float(row.progress), row.log_tail, row.started_by,
        row.started_at, row.finished_at, row.data_hash, row.model_id, row.error,
    )  # fmt: skip


class TrainingRuns(TransactionalStore):
    """Training runs over one database (``engine``, default the configured one); ``registry`` the model
    registry of that database."""

    def __init__(self, engine: Engine | None = None, registry: ModelRegistry | None = None) -> None:
        super().__init__(engine)
        self.registry = registry or ModelRegistry(self.engine)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, run_id: int) -> TrainingRun | None:
        with self._session() as session:
            row = session.get(RunRow, run_id)
            return None if row is None else _run(row)

    def recent(self, limit: int = 20) -> list[TrainingRun]:
        """Runs, newest first."""
        with self._session() as session:
            rows = session.execute(select(RunRow).order_by(RunRow.id.desc()).limit(max(1, limit))).scalars()
            return [_run(row) for row in rows]

    def active(self) -> TrainingRun | None:
        """The running run, if any; one whose heartbeat is older than :data:`ABANDONED_AFTER` is failed first."""
        cutoff = naive_utc() - timedelta(seconds=ABANDONED_AFTER)
        with self._session() as session:
            rows = session.execute(select(RunRow).where(RunRow.state == "running").order_by(RunRow.id.desc()))
            alive = None
            for row in rows.scalars():
                if row.heartbeat_at < cutoff:
                    _finish(row, "failed", error="abandoned")
                    row.log_tail = _append(row.log_tail, "!! the training job stopped answering (abandoned)")
                elif alive is None:
                    alive = _run(row)
            return alive

    # -- starting --------------------------------------------------------------------------------

    def start(
        self, by: str, *, incremental: bool = False, root: Path | None = None, detach: bool = True
    ) -> TrainingRun:
        """Record a run and spawn its job (``detach=False``: record only, the caller runs :meth:`execute`).

        :class:`TrainingError` ``busy`` (``run_id``) when a run is active.
        """
        current = self.active()
        if current is not None:
            raise TrainingError("busy", "a training run is already active", run_id=current.id)
        now = naive_utc()
        row = RunRow(
            kind="incremental" if incremental else "full", state="running", phase="validating", progress=0.0,
            log_tail="", started_by=by, started_at=now, heartbeat_at=now, root=str((root or PROJECT_ROOT).resolve()),
            active_slot=1,
        )  # fmt: skip
        try:
            with self._session() as session:
                session.add(row)
                session.flush()
                run = _run(row)
        except IntegrityError:  # another start won the race for the active slot
            raise TrainingError("busy", "a training run is already active", run_id=None) from None
        if detach:
            self._spawn(run.id)
        return run

    def _spawn(self, run_id: int) -> None:
        env = child_environment()
        env["DATABASE_URL"] = self.engine.url.render_as_string(hide_password=False)
        log_dir = settings().core.var_dir / "log" / "training"
        log_dir.mkdir(parents=True, exist_ok=True)
        try:
            with open(log_dir / f"run-{run_id}.log", "ab") as log:
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "training", "run-job", str(run_id)],
                    cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
        except OSError as exc:
            self._update(run_id, finish=("failed", f"spawn: {type(exc).__name__}"))
            raise TrainingError("spawn_failed", "the training job could not start", run_id=run_id) from exc

    # -- the job ---------------------------------------------------------------------------------

    def execute(self, run_id: int) -> TrainingRun:
        """Do the run's work (module docstring) in this process and return it finished.

        :class:`TrainingError` ``unknown_run``, ``not_running``; a failure of the work itself is stored in the
        row (state ``failed``), not raised.
        """
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise TrainingError("unknown_run", "no training run with this id", run_id=run_id)
            if row.state != "running":
                raise TrainingError("not_running", "the run has finished", run_id=run_id, state=row.state)
            job = _Job(self, run_id, Path(row.root), row.kind, row.started_by)
        job.run()
        run = self.get(run_id)
        assert run is not None
        return run

    def _update(self, run_id: int, finish: tuple[str, str | None] | None = None, **values: Any) -> None:
        """Set ``values`` on the run and touch its heartbeat; ``finish``: (state, error) ends it."""
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                return
            for name, value in values.items():
                setattr(row, name, value)
            row.heartbeat_at = naive_utc()
            if finish is not None and row.state == "running":
                _finish(row, finish[0], error=finish[1])

    def labels_of(self, model_id: int) -> str | None:
        """The label signature the model ``model_id`` was trained with (None: not trained by a run)."""
        with self._session() as session:
            return session.execute(
                select(RunRow.labels)
                .where(RunRow.model_id == model_id, RunRow.labels.is_not(None), RunRow.state == "done")
                .order_by(RunRow.id.desc())
                .limit(1)
            ).scalar_one_or_none()


def _finish(row: RunRow, state: str, error: str | None = None) -> None:
    row.state, row.finished_at, row.active_slot, row.error = state, naive_utc(), None, error
    row.phase = "failed" if state == "failed" else "done"
    if state != "failed":
        row.progress = 1.0


def _append(tail: str, line: str) -> str:
    return "\n".join([*tail.splitlines(), line][-LOG_LINES:])


def _component_count(root: Path) -> int:
    """How many components Rasa trains for ``root``'s config (pipeline and policies), for the progress bar."""
    try:
        config = yaml.safe_load((root / "config.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return 1
    return max(1, len(config.get("pipeline") or []) + len(config.get("policies") or []))


class _Job:
    """One run's work in this process: the steps, the progress, the log tail, the heartbeat."""

    def __init__(self, runs: TrainingRuns, run_id: int, root: Path, kind: str, by: str) -> None:
        self.runs, self.run_id, self.root, self.kind, self.by = runs, run_id, root, kind, by
        self.lines: deque[str] = deque(maxlen=LOG_LINES)
        self.progress = 0.0
        self.phase = "validating"
        self.flushed = 0.0
        self.components = _component_count(root)
        self.done_components = 0
        self.epochs = 0.0
        self.output: deque[str] = deque(maxlen=2000)  # the current Rasa command's last lines (why it failed)
        self._stop = threading.Event()

    # -- log and progress --

    def log(self, text: str) -> None:
        """Add ``text``'s lines to the tail (Python's warning noise left out; a redrawn bar replaces itself)."""
        for line in text.splitlines() or [""]:
            self._line(line)
        self.flush()

    def _line(self, line: str) -> None:
        line = _ANSI.sub("", line).rstrip()
        if not line.strip() or line[0].isspace() or any(noise in line for noise in _NOISE):
            return
        line = mask_text(line[:300])
        bar = _BAR.match(line)
        if bar and self.lines and self.lines[-1].startswith(bar.group(1) + ":"):
            self.lines[-1] = line  # a redrawn progress bar replaces its previous state
        else:
            self.lines.append(line)

    def advance(self, fraction: float) -> None:
        low, high = _BANDS.get(self.phase, (0.0, 1.0))
        self.progress = max(self.progress, round(low + (high - low) * min(max(fraction, 0.0), 1.0), 4))

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.advance(0.0)
        self.flush(force=True)

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.flushed < FLUSH_SECONDS:
            return
        self.flushed = now
        self.runs._update(self.run_id, phase=self.phase, progress=self.progress, log_tail="\n".join(self.lines))

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.runs._update(self.run_id)

    # -- steps --

    def run(self) -> None:
        beat = threading.Thread(target=self._heartbeat, name=f"training-run-{self.run_id}", daemon=True)
        beat.start()
        try:
            self._steps()
        except TrainingError as exc:
            self._fail(exc.code, str(exc))
        except Exception as exc:  # the run records every failure; the caller sees it in the row
            self._fail(type(exc).__name__, f"{type(exc).__name__}: {exc}")
        finally:
            self._stop.set()
            beat.join(timeout=5)

    def _fail(self, code: str, message: str) -> None:
        self.lines.append(mask_text(f"!! failed: {message}"[:300]))
        self.runs._update(self.run_id, finish=("failed", code), log_tail="\n".join(self.lines))

    def _steps(self) -> None:
        self.enter("validating")
        self.log(f">> rasa data validate ({self.kind} run)")
        if validate_data(self.root, echo=self.log) != 0:
            raise TrainingError("invalid_data", "rasa data validate failed")
        data_hash, labels = training_fingerprint(self.root), label_signature(self.root)
        self.runs._update(self.run_id, data_hash=data_hash, labels=labels)
        existing = self.runs.registry.find_by_hash(data_hash)
        if existing is not None:
            self.log(f">> the data is unchanged (hash {data_hash}): reusing model #{existing.id}, nothing trained")
            self._end("reused", existing.id)
            return
        self.enter("training")
        model = self._train(data_hash, labels)
        self.enter("evaluating")
        self.log(f">> evaluating {model.name} (held-out set, held-out fifth of the reviews, story tests)")
        report = evaluate_candidate(model, self.root)
        record = self.runs.registry.register(str(model), data_hash, self.by, report)
        self.log(f">> registered model #{record.id} as a candidate")
        self._end("done", record.id)

    def _end(self, state: str, model_id: int) -> None:
        self.runs._update(self.run_id, finish=(state, None), model_id=model_id, log_tail="\n".join(self.lines))

    def _train(self, data_hash: str, labels: str) -> Path:
        out_dir = settings().training.models_dir.resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        name = f"dvc-{data_hash}-run{self.run_id}"
        argv = [
            rasa_executable(), "train", "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
            "--out", str(out_dir), "--fixed-model-name", name,
        ]  # fmt: skip
        base = self._finetune_base(labels) if self.kind == "incremental" else None
        code = None
        if base is not None:
            fraction = settings().training.epoch_fraction
            self.log(f">> incremental training: finetuning {base.name} with {fraction:g} of the epochs")
            code = self._rasa([*argv, "--finetune", str(base), "--epoch-fraction", f"{fraction:g}"])
            if code != 0 and any("Cannot finetune" in line for line in self.output):
                self.log(">> Rasa refused to finetune (the labels changed): training from scratch instead")
                code = None
        if code is None:
            self.log(">> rasa train (full)")
            code = self._rasa(argv)
        model = out_dir / f"{name}.tar.gz"
        if code != 0 or not model.exists():
            raise TrainingError("train_failed", f"rasa train exited with code {code}")
        return model

    def _finetune_base(self, labels: str) -> Path | None:
        """The live model's file when an incremental retrain can start from it, else None (and why, in the log)."""
        live: ModelRecord | None = self.runs.registry.live()
        reason = None
        path = None
        if live is None:
            reason = "there is no live model yet"
        else:
            path = Path(live.model_file)
            path = path if path.is_absolute() else self.root / path
            if not path.exists():
                reason = f"the live model's file {path.name} is missing"
            elif self.runs.labels_of(live.id) != labels:
                reason = "the config or the domain's intents, responses or actions changed since the live model"
        if reason is not None:
            self.log(f">> incremental training is not possible ({reason}): training from scratch")
            return None
        return path

    def _rasa(self, argv: list[str]) -> int:
        """Run a Rasa command in the project, feeding its output to the log and the progress bar."""
        env = {**rasa_env(), "TQDM_DISABLE": "0", "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
        self.output.clear()
        self.done_components, self.epochs = 0, 0.0
        proc = subprocess.Popen(argv, cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        pending = ""
        while chunk := os.read(proc.stdout.fileno(), 8192):
            pending += chunk.decode("utf-8", errors="replace")
            *pieces, pending = re.split(r"[\r\n]", pending)
            for piece in pieces:
                self._output(piece)
        if pending:
            self._output(pending)
        code = proc.wait()
        self.flush(force=True)
        return code

    def _output(self, piece: str) -> None:
        self.output.append(piece[-300:])
        epochs = _EPOCHS.search(piece)
        if epochs:
            done, total = int(epochs.group(1)), int(epochs.group(2))
            self.epochs = max(self.epochs, done / total if total else 0.0)
        if _COMPONENT_DONE.search(piece):
            self.done_components += 1
        done = min(self.done_components / self.components, 1.0)
        self.advance(done + (1.0 - done) * 0.9 * self.epochs)  # DIET's epochs fill what the components leave
        self.log(piece)
