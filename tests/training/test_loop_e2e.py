"""The trainer loop end to end, through the command line only, on a copy of the tiny project: decided reviews
are exported (a new intent added first), a run trains and evaluates a candidate, the promotion makes every
configured Rasa server (here a recording HTTP server) load it, and an unchanged project reuses it."""

from __future__ import annotations

import json
import shutil
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.training.inbox import Inbox
from bot.training.registry import ModelRegistry
from tests.fakes import serve_http

pytestmark = pytest.mark.slow
TRAINER_BOT = Path(__file__).resolve().parents[1] / "fixtures" / "trainer_bot"


def test_review_export_train_evaluate_promote_reuse(
    engine: Engine,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_process_wide_masking: None,
) -> None:
    root = tmp_path / "project"
    shutil.copytree(TRAINER_BOT, root)
    loaded: list[str] = []

    class Rasa(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            loaded.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["model_file"])
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    def cli(*argv: str) -> str:
        code = main(["--database-url", sqlite_url, "training", *argv])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        return out

    inbox = Inbox(engine)
    inbox.decide("chào buổi sáng", "changed", "lan", intent="greet", predicted_intent="thank")
    inbox.decide("gửi xe ở đâu", "confirmed", "lan", intent="ask_parking")
    cli("add-intent", "ask_parking", "--root", str(root), "--response", "Dạ, bãi gửi xe ở cổng sau ạ.",
        "--example", "chỗ để xe", "--example", "bãi xe")  # fmt: skip
    assert "2 review(s) written" in cli("export", "--root", str(root))

    out = cli("train", "--wait", "--root", str(root), "--incremental", "--by", "lan")
    assert "incremental training is not possible (there is no live model yet)" in out and "model #1" in out
    out = cli("evaluate", "1")
    assert "overall" in out and "gate: passed" in out
    with serve_http(Rasa) as first, serve_http(Rasa) as second:
        monkeypatch.setenv("RASA_URLS", f"{first},{second}")
        assert "model #1 is live" in cli("promote", "1", "--by", "chief")
    model_file = ModelRegistry(engine).get(1).model_file
    assert loaded == [model_file, model_file] and Path(model_file).is_file()
    assert "live model: #1" in cli("status")

    out = cli("train", "--wait", "--root", str(root))
    assert "reusing model #1" in out and "reused, model #1" in out
