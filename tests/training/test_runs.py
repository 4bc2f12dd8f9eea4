"""Training runs on a tiny project (tests/fixtures/trainer_bot, keyword intents: a `rasa train` takes seconds).

One real full run (train, evaluate, register) is shared by the module; the detached job, the reuse by data
hash, the busy and abandoned rules and the incremental fallback each build on it or on a copy.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from bot.db import make_engine, session_factory
from bot.db.clock import naive_utc
from bot.db.schema import ensure_schema
from bot.settings import settings
from bot.training.errors import TrainingError
from bot.training.models import RunRow
from bot.training.runs import TrainingRun, TrainingRuns
from bot.training.writer import Example, add_intent, write_examples

pytestmark = pytest.mark.slow
TRAINER_BOT = Path(__file__).resolve().parents[1] / "fixtures" / "trainer_bot"


def copy_project(target: Path) -> Path:
    shutil.copytree(TRAINER_BOT, target)
    return target


@dataclass
class Trained:
    root: Path
    engine: Engine
    run: TrainingRun


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """A full run of the tiny project, executed here (real rasa train, evaluation and story test)."""
    base = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOT_VAR_DIR", str(base / "var"))
        mp.setenv("TRAINING_MODELS_DIR", str(base / "models"))
        settings.cache_clear()
        engine = make_engine(f"sqlite:///{base / 'runs.db'}")
        ensure_schema(engine)
        runs = TrainingRuns(engine)
        started = runs.start("trainer1", root=copy_project(base / "project"), detach=False)
        run = runs.execute(started.id)
    settings.cache_clear()
    yield Trained(base / "project", engine, run)
    engine.dispose()


def test_a_full_run_trains_evaluates_and_registers(trained: Trained) -> None:
    run = trained.run
    assert (run.state, run.phase, run.progress, run.kind, run.error) == ("done", "done", 1.0, "full", None)
    assert run.finished_at is not None and run.data_hash and run.model_id
    assert "rasa data validate: OK" in run.log_tail and "registered model" in run.log_tail
    assert len(run.log_tail.splitlines()) <= 40
    record = TrainingRuns(trained.engine).registry.get(run.model_id)
    assert record is not None and record.trained_by == "trainer1" and record.data_hash == run.data_hash
    assert Path(record.model_file).is_file() and record.model_file.endswith(f"-run{run.id}.tar.gz")
    report = record.report
    assert report["overall"] == 1.0 and report["counts"]["overall"] == 6
    assert report["per_intent"]["greet"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert report["confusion"]["labels"] == ["ask_documents", "greet", "thank"]
    assert report["confusion"]["matrix"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert report["stories"] == {"passed": True, "failed": []} and report["stories_passed"] is True
    assert report["reviewed"] == {"n": 0, "accuracy": None, "per_intent": {}}


def test_unchanged_data_reuses_the_model_in_a_detached_job(trained: Trained) -> None:
    runs = TrainingRuns(trained.engine)
    run = runs.start("trainer2", root=trained.root)  # spawns `python -m bot training run-job <id>`
    deadline = time.monotonic() + 180
    while (current := runs.get(run.id)) is not None and current.state == "running":
        assert time.monotonic() < deadline, current.log_tail
        time.sleep(1)
    assert current is not None
    outcome = (current.state, current.model_id, current.progress)
    assert outcome == ("reused", trained.run.model_id, 1.0), current.log_tail
    assert "reusing model" in current.log_tail and current.data_hash == trained.run.data_hash
    assert runs.recent(1)[0].id == run.id and runs.active() is None


def test_one_run_at_a_time_and_a_silent_job_is_abandoned(engine: Engine, tmp_path: Path) -> None:
    runs = TrainingRuns(engine)
    first = runs.start("a", root=tmp_path, detach=False)
    assert runs.active() == first
    with pytest.raises(TrainingError) as err:
        runs.start("b", root=tmp_path, detach=False)
    assert (err.value.code, err.value.fields["run_id"]) == ("busy", first.id)
    silent = naive_utc() - timedelta(minutes=2)
    with session_factory(engine)() as session, session.begin():
        session.execute(update(RunRow).where(RunRow.id == first.id).values(heartbeat_at=silent))
    assert runs.active() is None
    dead = runs.get(first.id)
    assert (dead.state, dead.phase, dead.error) == ("failed", "failed", "abandoned")
    second = runs.start("b", root=tmp_path, detach=False)
    assert runs.active() == second
    with pytest.raises(TrainingError) as err:
        runs.execute(first.id)
    assert err.value.code == "not_running"


def test_invalid_data_fails_the_run_and_keeps_the_log(engine: Engine, tmp_path: Path) -> None:
    root = copy_project(tmp_path / "project")
    (root / "data" / "rules.yml").write_text("rules: [oops\n", encoding="utf-8")
    runs = TrainingRuns(engine)
    run = runs.execute(runs.start("t", root=root, detach=False).id)
    assert (run.state, run.phase, run.error, run.model_id) == ("failed", "failed", "invalid_data", None)
    assert "failed" in run.log_tail and runs.active() is None


def fake_report(model: Path, root: Path, **_: Any) -> dict[str, Any]:
    return {"model": model.name, "overall": 1.0, "no_diacritics": 1.0, "per_intent": {}, "stories_passed": True}


def test_incremental_finetunes_unless_the_labels_changed(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.training.runs.evaluate_candidate", fake_report)
    root = copy_project(tmp_path / "project")
    runs = TrainingRuns(engine)

    def train(incremental: bool) -> TrainingRun:
        run = runs.execute(runs.start("t", root=root, incremental=incremental, detach=False).id)
        assert run.state == "done", run.log_tail
        return run

    first = train(incremental=True)  # no live model yet: full training, and the log says why
    assert "incremental training is not possible (there is no live model yet)" in first.log_tail
    runs.registry.promote(first.model_id, "chief")
    write_examples("greet", [Example("chào buổi sáng")], root)
    second = train(incremental=True)
    assert "finetuning" in second.log_tail and "training from scratch" not in second.log_tail
    runs.registry.promote(second.model_id, "chief")
    add_intent("ask_fee", [Example("lệ phí"), Example("bao nhiêu tiền")], "Dạ, lệ phí là 0 đồng.", root)
    third = train(incremental=True)
    assert "the config or the domain's intents, responses or actions changed" in third.log_tail
    assert "rasa train (full)" in third.log_tail


def test_the_held_out_fifth_of_the_reviews_is_evaluated_apart(trained: Trained, tmp_path: Path) -> None:
    from bot.training.evaluation import evaluate_candidate
    from bot.training.writer import is_held_out

    root = tmp_path / "copy"
    shutil.copytree(trained.root, root)
    texts = [f"xin chào lần {n}" for n in range(40)]
    held = [t for t in texts if is_held_out(t)][:2]
    write_examples("greet", [Example(t) for t in [*held, *[t for t in texts if not is_held_out(t)][:6]]], root)
    assert (root / "tests" / "nlu" / "reviewed_holdout" / "greet.yml").is_file()
    model = Path(TrainingRuns(trained.engine).registry.get(trained.run.model_id).model_file)
    report = evaluate_candidate(model, root, stories=False)
    assert report["reviewed"]["n"] == len(held) == 2 and report["reviewed"]["accuracy"] == 1.0
    assert report["reviewed"]["per_intent"]["greet"]["support"] == 2
    assert report["counts"]["overall"] == 6 and report["stories"] is None and report["stories_passed"] is None


def test_progress_follows_rasa_output_and_the_tail_is_masked(engine: Engine, tmp_path: Path) -> None:
    from bot.training.runs import _Job

    root = copy_project(tmp_path / "project")
    runs = TrainingRuns(engine)
    run = runs.start("t", root=root, detach=False)
    job = _Job(runs, run.id, root, "full", "t")
    job.enter("training")
    seen = []
    for piece in [
        "2026-12-07 INFO rasa.engine.training.hooks  - Finished training component 'RulePolicy'.",
        "Epochs:  50%|█████     | 50/100 [00:05<00:05, 10.0it/s, t_loss=1.2]",
        "Epochs:  40%|████      | 40/100 [00:04<00:06, 10.0it/s, t_loss=1.3]",  # never backwards
        "Epochs: 100%|██████████| 100/100 [00:10<00:00, 10.0it/s, t_loss=0.4]",
        "/venv/rasa/io.py:100: DeprecationWarning: something old",
        "    import pkg_resources",
        "note: gọi 0912345678 nhé",
    ]:
        job._output(piece)
        seen.append(job.progress)
    assert seen == sorted(seen) and 0.05 < seen[0] <= seen[1] < seen[3] <= 0.8
    job.flush(force=True)
    stored = runs.get(run.id)
    assert stored.phase == "training" and stored.progress == seen[-1]
    lines = stored.log_tail.splitlines()
    assert len([line for line in lines if line.startswith("Epochs:")]) == 1 and "100/100" in lines[-2]
    assert "0912345678" not in stored.log_tail and "091*****78" in lines[-1]
    assert not any("DeprecationWarning" in line or "pkg_resources" in line for line in lines)
