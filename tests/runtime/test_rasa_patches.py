"""Our fixes to Rasa keep its behaviour."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError


@pytest.fixture
def remote_action():  # type: ignore[no-untyped-def]
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    from bot.runtime.rasa_patches import apply_all

    original = RemoteAction._validate_action_result
    apply_all()
    apply_all()  # idempotent
    yield RemoteAction("action_x", EndpointConfig("http://127.0.0.1:1/webhook")), original
    RemoteAction._validate_action_result = original


def test_cached_validation_accepts_and_rejects_like_rasa(remote_action) -> None:  # type: ignore[no-untyped-def]
    action, original = remote_action
    good = {"events": [{"event": "slot", "name": "procedure_code", "value": "1.004222"}], "responses": [{"text": "x"}]}
    assert action._validate_action_result(good) is True
    assert original(action, good) is True
    for bad in ({"events": "not a list"}, {"events": [{"event": "no_such_event"}]}, {"responses": ["text"]}):
        with pytest.raises(ValidationError) as ours:
            action._validate_action_result(bad)
        with pytest.raises(ValidationError) as theirs:
            original(action, bad)
        assert ours.value.message == theirs.value.message
        assert "Failed to validate Action server response" in ours.value.message
