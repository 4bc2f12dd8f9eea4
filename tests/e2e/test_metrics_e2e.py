"""``/metrics`` on the running assistant: a real turn is counted by the Rasa server and its custom
action by the action server; the console reports the help-desk queue; the loaded model is named."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.settings import settings
from tests.fakes import RunningBot, joined, say

pytestmark = pytest.mark.slow


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample ``base``/metrics exposes, keyed by (name, labels)."""
    token = settings().analytics.metrics_token  # unset in the test bot's environment, unless the machine sets it
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = requests.get(f"{base}/metrics", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text[:200]
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def get(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_turn_is_counted_timed_and_its_action_too(running_bot_parts: RunningBot) -> None:
    rasa, actions = running_bot_parts.rasa_url, running_bot_parts.action_url
    before, actions_before = scrape(rasa), scrape(actions)
    reply = joined(say(rasa, "e2e-metrics", "dang ky tam tru can giay to gi"))
    assert "1.004194" in reply
    after, actions_after = scrape(rasa), scrape(actions)

    assert get(after, "dvc_turns_total", channel="rest") == get(before, "dvc_turns_total", channel="rest") + 1
    count = get(after, "dvc_turn_seconds_count", channel="rest") - get(before, "dvc_turn_seconds_count", channel="rest")
    assert count == 1
    assert get(after, "dvc_turn_seconds_sum", channel="rest") > get(before, "dvc_turn_seconds_sum", channel="rest")
    ran = get(actions_after, "dvc_actions_total", action="action_answer_procedure", outcome="ok") - get(
        actions_before, "dvc_actions_total", action="action_answer_procedure", outcome="ok"
    )
    assert ran == 1
    # The model the server loaded, by its id and file name (never "unknown").
    models = [dict(labels) for name, labels in after if name == "dvc_model_info"]
    assert len(models) == 1 and models[0]["model_id"] != "unknown", models
    assert models[0]["model_file"].endswith(".tar.gz")
    # Read from the shared database at each scrape.
    assert ("dvc_handoffs_waiting", frozenset()) in after
    # Nothing the citizen typed, and no conversation id, is ever a label.
    labels = {value for _, pairs in [*after, *actions_after] for _, value in pairs}
    assert not any("e2e-metrics" in v or "tam tru" in v for v in labels)


def test_the_console_reports_the_queue(running_bot_parts: RunningBot) -> None:
    samples = scrape(running_bot_parts.console_url)
    assert ("dvc_handoffs_waiting", frozenset()) in samples
    assert ("dvc_handoffs_active", frozenset()) in samples
