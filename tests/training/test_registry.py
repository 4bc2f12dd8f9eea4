"""The model registry: promotion through the gate, one live model, rollback, reuse by data hash, loader failures."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.db import session_factory
from bot.training.errors import TrainingError
from bot.training.gate import override
from bot.training.models import ModelRow
from bot.training.registry import ModelRegistry

GOOD = {"overall": 0.9, "no_diacritics": 0.88, "per_intent": {"ask_fee": {"f1": 0.9}}, "stories_passed": True}
WORSE = {"overall": 0.8, "no_diacritics": 0.88, "per_intent": {"ask_fee": {"f1": 0.9}}, "stories_passed": True}


class Loader:
    def __init__(self, fail: bool = False) -> None:
        self.loaded: list[str] = []
        self.fail = fail

    def load(self, model_path: str) -> None:
        if self.fail:
            raise ConnectionError("rasa is down")
        self.loaded.append(model_path)


@pytest.fixture
def registry(engine: Engine) -> ModelRegistry:
    return ModelRegistry(engine)


def test_promote_retires_the_previous_and_calls_the_loader(registry: ModelRegistry) -> None:
    first = registry.register("models/a.tar.gz", "hash-a", "trainer1", GOOD)
    second = registry.register("models/b.tar.gz", "hash-b", "trainer1", GOOD)
    loader = Loader()
    assert registry.promote(first.id, "chief", loader=loader).state == "live"
    promoted = registry.promote(second.id, "chief", loader=loader)
    assert (promoted.state, promoted.promoted_by) == ("live", "chief")
    assert loader.loaded == ["models/a.tar.gz", "models/b.tar.gz"]
    assert registry.get(first.id).state == "retired" and registry.live().id == second.id
    assert [m.state for m in registry.history()].count("live") == 1
    with pytest.raises(TrainingError) as err:
        registry.promote(second.id, "chief")
    assert err.value.code == "already_live"
    assert [e.action for e in registry.events(first.id)] == ["register", "promote", "retire"]


def test_rollback_restores_an_earlier_live_model(registry: ModelRegistry) -> None:
    first = registry.register("a", "hash-a", "t", GOOD)
    second = registry.register("b", "hash-b", "t", GOOD)
    registry.promote(first.id, "chief")
    registry.promote(second.id, "chief")
    loader = Loader()
    assert registry.rollback(first.id, "chief", loader=loader).state == "live"
    assert loader.loaded == ["a"] and registry.get(second.id).state == "retired"
    third = registry.register("c", "hash-c", "t", GOOD)
    with pytest.raises(TrainingError) as err:
        registry.rollback(third.id, "chief")  # never live
    assert err.value.code == "not_rollback_target"


def test_the_gate_refuses_unless_overridden(registry: ModelRegistry) -> None:
    live = registry.register("a", "hash-a", "t", GOOD)
    registry.promote(live.id, "chief")
    worse = registry.register("b", "hash-b", "t", WORSE)
    with pytest.raises(TrainingError) as err:
        registry.promote(worse.id, "chief")
    assert err.value.code == "gate_failed" and err.value.fields["failures"][0].rule == "overall"
    decision = override(registry.gate(worse.id), "chief", "supervisor", "accepted: new wording of fees")
    promoted = registry.promote(worse.id, "chief", override=decision)
    assert promoted.state == "live" and promoted.override_reason == "accepted: new wording of fees"
    audit = next(e for e in registry.events(worse.id) if e.action == "override")
    assert (audit.by, audit.role, audit.detail["failures"][0]["rule"]) == ("chief", "supervisor", "overall")


def test_rejected_and_reportless_models_need_an_override(registry: ModelRegistry) -> None:
    model = registry.register("a", "hash-a", "t", GOOD)
    assert registry.reject(model.id, "chief", "intents mixed up").state == "rejected"
    with pytest.raises(TrainingError) as err:
        registry.promote(model.id, "chief")
    assert err.value.code == "gate_failed"
    bare = registry.register("b", "hash-b", "t", None)
    assert [f.rule for f in registry.gate(bare.id).failures] == ["report", "stories"]
    with pytest.raises(TrainingError) as err:
        registry.promote(12345, "chief")
    assert err.value.code == "unknown_model"


def test_reuse_by_data_hash(registry: ModelRegistry) -> None:
    assert registry.find_by_hash("hash-a") is None
    old = registry.register("a1", "hash-a", "t", GOOD)
    newer = registry.register("a2", "hash-a", "t", GOOD)
    assert registry.find_by_hash("hash-a").id == newer.id
    registry.reject(newer.id, "chief", "broken file")
    assert registry.find_by_hash("hash-a").id == old.id


def test_a_loader_failure_changes_nothing(registry: ModelRegistry) -> None:
    first = registry.register("a", "hash-a", "t", GOOD)
    registry.promote(first.id, "chief")
    second = registry.register("b", "hash-b", "t", GOOD)
    with pytest.raises(TrainingError) as err:
        registry.promote(second.id, "chief", loader=Loader(fail=True))
    assert err.value.code == "load_failed" and err.value.fields["error"] == "ConnectionError"
    assert registry.live().id == first.id and registry.get(second.id).state == "candidate"
    assert registry.get(second.id).promoted_at is None
    assert registry.events(second.id)[-1].action == "load_failed"


def test_the_database_allows_one_live_model(engine: Engine, registry: ModelRegistry) -> None:
    first = registry.register("a", "hash-a", "t", GOOD)
    second = registry.register("b", "hash-b", "t", GOOD)
    registry.promote(first.id, "chief")
    sessions = session_factory(engine)
    with pytest.raises(IntegrityError), sessions() as session, session.begin():
        session.execute(update(ModelRow).where(ModelRow.id == second.id).values(state="live", live_slot=1))
