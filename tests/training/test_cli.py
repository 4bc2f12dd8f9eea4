"""``python -m bot training …`` in-process, on a private SQLite database and a copy of the tiny project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.training.inbox import Inbox
from bot.training.registry import ModelRegistry
from bot.training.runs import TrainingRuns

TRAINER_BOT = Path(__file__).resolve().parents[1] / "fixtures" / "trainer_bot"
GOOD = {"overall": 0.9, "no_diacritics": 0.9, "per_intent": {"greet": {"f1": 0.9}}, "stories_passed": True}
WORSE = {"overall": 0.5, "no_diacritics": 0.9, "per_intent": {"greet": {"f1": 0.4}}, "stories_passed": True}


@pytest.fixture
def cli(engine: Engine, sqlite_url: str, no_process_wide_masking: None, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--database-url", sqlite_url, "training", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_status_promote_rollback_reject(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    registry = ModelRegistry(engine)
    first = registry.register("/m/a.tar.gz", "hash-a", "t", GOOD)
    second = registry.register("/m/b.tar.gz", "hash-b", "t", WORSE)
    code, out, _ = cli("status")
    assert code == 0 and "live model: none" in out and "active run: none" in out
    assert cli("promote", str(first.id), "--no-load", "--by", "chief")[:2] == (0, f"model #{first.id} is live\n")
    code, out, _ = cli("status")
    assert f"live model: #{first.id} /m/a.tar.gz (data hash hash-a" in out
    code, _, err = cli("promote", str(second.id), "--no-load")
    assert code == 2 and err.startswith("error: gate_failed")
    code, _, err = cli("promote", str(second.id), "--no-load", "--override-reason", "short")
    assert code == 2 and "not_allowed" in err  # a trainer may not override
    code, out, _ = cli("promote", str(second.id), "--no-load", "--by", "boss", "--as-role", "supervisor",
                       "--override-reason", "the new wording is worth it")  # fmt: skip
    assert code == 0 and "gate overridden" in out
    code, out, _ = cli("evaluate", str(second.id))
    assert code == 0 and "(no other live model)" in out and "gate: passed" in out  # the live one is itself
    assert cli("rollback", str(first.id), "--no-load")[:2] == (0, f"model #{first.id} is live again\n")
    code, out, _ = cli("evaluate", str(second.id))
    assert f"against the live model #{first.id}" in out and "gate: FAILED: overall" in out
    assert "overall" in out and "-40.0" in out
    assert cli("reject", str(second.id), "--reason", "worse on greetings")[0] == 0
    assert registry.get(second.id).state == "rejected"
    code, _, err = cli("reject", "999", "--reason", "x")
    assert code == 2 and err.startswith("error: unknown_model")


def test_promote_loads_into_the_configured_servers(cli, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    loaded: list[tuple[tuple[str, ...], str]] = []

    class Loader:
        def __init__(self, previous: str | None = None) -> None:
            self.previous = previous

        def load(self, path: str) -> None:
            loaded.append((("previous", str(self.previous)), path))

    monkeypatch.setattr("bot.training.loader.ReplicaLoader", Loader)
    model = ModelRegistry(engine).register("/m/a.tar.gz", "hash-a", "t", GOOD)
    code, _, err = cli("promote", str(model.id))
    assert code == 0, err
    assert loaded == [(("previous", "None"), "/m/a.tar.gz")]


def test_inbox_export_and_add_intent(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "project"
    shutil.copytree(TRAINER_BOT, root)
    inbox = Inbox(engine)
    inbox.decide("chào buổi sáng", "changed", "trainer", intent="greet", predicted_intent="thank")
    inbox.decide("gửi xe ở đâu", "confirmed", "trainer", intent="ask_parking")
    inbox.decide("hello", "ignored", "trainer")
    code, out, _ = cli("inbox", "--fallback", "--limit", "5")
    assert code == 0 and out.endswith("0 text(s)\n")
    code, out, _ = cli("export", "--root", str(root))
    assert code == 0 and "skipped 1 review(s) of ask_parking" in out and "1 review(s) written" in out
    assert "chào buổi sáng" in (root / "data" / "nlu" / "reviewed" / "greet.yml").read_text(encoding="utf-8")
    code, out, _ = cli("add-intent", "ask_parking", "--root", str(root), "--response", "Dạ, có bãi gửi xe ạ.",
                       "--example", "gửi xe ở đâu", "--example", "chỗ để xe")  # fmt: skip
    assert code == 0 and "wrote domain.yml" in out
    code, out, _ = cli("export", "--root", str(root))
    assert "ask_parking: 1 example(s)" in out and [r.written_at is not None for r in inbox.reviews()] == [True, True]
    code, _, err = cli("add-intent", "ask_parking", "--root", str(root), "--response", "x", "--example", "y")
    assert code == 2 and err.startswith("error: intent_exists")


def test_train_refuses_while_a_run_is_active(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    active = TrainingRuns(engine).start("someone", root=tmp_path, detach=False)
    code, _, err = cli("train", "--root", str(tmp_path))
    assert code == 2 and err.startswith("error: busy")
    code, out, _ = cli("status")
    assert f"active run: #{active.id} validating 0%" in out and f"run #{active.id} full" in out
