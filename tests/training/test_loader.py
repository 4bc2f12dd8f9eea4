"""Loading a promoted model into every Rasa server (tiny HTTP servers that record ``PUT /model``), and the
model a restarted server runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.db import make_engine
from bot.settings import overridden
from bot.training.errors import TrainingError
from bot.training.loader import ModelLoadError, ReplicaLoader, live_model_file
from bot.training.registry import ModelRegistry
from tests.fakes import serve_http

GOOD = {"overall": 0.9, "no_diacritics": 0.9, "per_intent": {}, "stories_passed": True}


def recording_server(calls: list[tuple[str, str, dict]], status: int = 204) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append((f"{self.server.server_address[1]}", self.path, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def servers() -> Iterator[tuple[list, list[str], list[str]]]:
    """Two healthy servers and one answering 400, all recording into one list."""
    calls: list[tuple[str, str, dict]] = []
    with ExitStack() as stack:
        good = [stack.enter_context(serve_http(recording_server(calls))) for _ in range(2)]
        bad = [stack.enter_context(serve_http(recording_server(calls, status=400)))]
        yield calls, good, bad


def test_every_replica_loads_the_model(servers: tuple[list, list[str], list[str]]) -> None:
    calls, good, _ = servers
    ReplicaLoader(good, token="t0k").load("/models/b.tar.gz")
    expected = [("/model", {"model_file": "/models/b.tar.gz"})] * 2
    assert [(path.split("?")[0], body) for _, path, body in calls] == expected
    assert {port for port, _, _ in calls} == {url.rsplit(":", 1)[1] for url in good}
    assert all("token=t0k" in path for _, path, _ in calls)


def test_a_failing_replica_fails_the_load_and_the_others_go_back(servers: tuple[list, list[str], list[str]]) -> None:
    calls, good, bad = servers
    with pytest.raises(ModelLoadError) as err:
        ReplicaLoader([good[0], *bad], token="t0k", previous="/models/a.tar.gz").load("/models/b.tar.gz")
    assert bad[0] in str(err.value) and "t0k" not in str(err.value)
    assert [body["model_file"] for _, _, body in calls] == ["/models/b.tar.gz", "/models/b.tar.gz", "/models/a.tar.gz"]


def test_the_registry_records_a_failed_load(engine: Engine, servers: tuple[list, list[str], list[str]]) -> None:
    _, good, bad = servers
    registry = ModelRegistry(engine)
    model = registry.register("/models/b.tar.gz", "hash-b", "t", GOOD)
    with pytest.raises(TrainingError) as err:
        registry.promote(model.id, "chief", loader=ReplicaLoader([*good, *bad], token="t0k"))
    assert (err.value.code, err.value.fields["error"]) == ("load_failed", "ModelLoadError")
    assert registry.live() is None and registry.events(model.id)[-1].action == "load_failed"


def test_the_urls_default_to_the_setting() -> None:
    with overridden(RASA_URL="http://127.0.0.1:5005"):
        assert ReplicaLoader().urls == ("http://127.0.0.1:5005",)
    with overridden(RASA_URLS="http://10.0.0.1:5105, http://10.0.0.2:5105"):
        assert ReplicaLoader().urls == ("http://10.0.0.1:5105", "http://10.0.0.2:5105")


def test_a_restarted_server_runs_the_live_model(engine: Engine, tmp_path: Path) -> None:
    assert live_model_file(tmp_path, engine) is None
    registry = ModelRegistry(engine)
    model = registry.register("models/live.tar.gz", "hash-a", "t", GOOD)
    registry.promote(model.id, "chief")
    assert live_model_file(tmp_path, engine) is None  # the file is not there
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "live.tar.gz").write_bytes(b"model")
    assert live_model_file(tmp_path, engine) == tmp_path / "models" / "live.tar.gz"
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated: no registry
    assert live_model_file(tmp_path, empty) is None
    empty.dispose()
