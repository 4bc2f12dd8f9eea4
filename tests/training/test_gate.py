"""The gate between a candidate model and the live one, and the supervisor's override."""

from __future__ import annotations

from typing import Any

import pytest

from bot.training.errors import TrainingError
from bot.training.gate import check, override


def report(overall: float = 0.9, no_diacritics: float = 0.85, stories: bool = True, **f1: float) -> dict[str, Any]:
    per_intent = {name: {"precision": v, "recall": v, "f1": v, "support": 10} for name, v in f1.items()}
    return {"overall": overall, "no_diacritics": no_diacritics, "teencode": 0.8, "per_intent": per_intent,
            "stories_passed": stories}  # fmt: skip


LIVE = report(ask_fee=0.9, greet=0.95)


def rules(candidate: dict[str, Any], live: dict[str, Any] | None = LIVE) -> list[tuple[str, str]]:
    return [(f.rule, f.detail.split(" ")[0]) for f in check(candidate, live).failures]


def test_an_equal_or_better_candidate_passes() -> None:
    assert check(report(ask_fee=0.9, greet=0.95), LIVE).passed
    assert check(report(0.89, 0.84, ask_fee=0.85, greet=0.90, new_intent=0.2), LIVE).passed  # at the limits
    assert check(report(0.1, ask_fee=0.0), None).passed  # no live model yet: the stories only


def test_each_rule() -> None:
    assert rules(report(0.885, ask_fee=0.9, greet=0.95)) == [("overall", "accuracy")]
    assert rules(report(no_diacritics=0.83, ask_fee=0.9, greet=0.95)) == [("no_diacritics", "accuracy")]
    assert rules(report(ask_fee=0.84, greet=0.95)) == [("intent_f1", "ask_fee")]
    assert rules(report(ask_fee=0.9)) == [("intent_f1", "greet")]  # removed: F1 0
    assert rules(report(stories=False, ask_fee=0.9, greet=0.95)) == [("stories", "story")]
    failure = check(report(ask_fee=0.7, greet=0.95), LIVE).failures[0]
    assert (failure.live, failure.candidate) == (0.9, 0.7)


def test_override_needs_a_supervisor_and_a_reason() -> None:
    failed = check(report(stories=False, ask_fee=0.9, greet=0.95), LIVE)
    decision = override(failed, "chief", "supervisor", "  story test flaky, checked by hand  ")
    assert (decision.by, decision.role, decision.reason) == ("chief", "supervisor", "story test flaky, checked by hand")
    assert decision.failures == failed.failures and decision.as_dict()["failures"][0]["rule"] == "stories"
    for args, code in [
        (("trainer1", "trainer", "a good long reason"), "not_allowed"),
        (("chief", "supervisor", "short"), "reason_too_short"),
    ]:
        with pytest.raises(TrainingError) as err:
            override(failed, *args)
        assert err.value.code == code
    with pytest.raises(TrainingError) as err:
        override(check(LIVE, LIVE), "chief", "admin", "nothing is wrong here")
    assert err.value.code == "nothing_to_override"
