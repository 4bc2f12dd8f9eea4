"""The side-by-side comparison of a candidate's report with the live model's, and the per-intent scores."""

from __future__ import annotations

from bot.training.evaluation import compare, intent_scores

LIVE = {
    "overall": 0.95, "no_diacritics": 0.93, "teencode": 0.9, "reviewed": {"accuracy": 0.8}, "stories_passed": True,
    "per_intent": {
        "ask_fee": {"precision": 0.9, "recall": 0.9, "f1": 0.9, "support": 10},
        "greet": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 5},
        "bye": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 3},
    },
}  # fmt: skip
CANDIDATE = {
    "overall": 0.953, "no_diacritics": 0.9, "teencode": None, "reviewed": {"accuracy": 0.9}, "stories_passed": False,
    "stories": {"passed": False, "failed": ["greet then thank"]},
    "confusion": {"labels": ["ask_fee"], "matrix": [[1]]},
    "per_intent": {
        "ask_fee": {"precision": 0.95, "recall": 0.95, "f1": 0.95, "support": 10},
        "greet": {"precision": 1.0, "recall": 0.996, "f1": 0.998, "support": 5},
        "ask_parking": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "support": 2},
    },
}  # fmt: skip


def test_headline_rows_with_deltas_and_tones() -> None:
    rows = {row.name: row for row in compare(CANDIDATE, LIVE).headline}
    assert list(rows) == ["overall", "no_diacritics", "teencode", "reviewed", "stories"]
    assert (rows["overall"].delta, rows["overall"].tone) == (0.003, "same")  # within ±0.005
    assert (rows["no_diacritics"].delta, rows["no_diacritics"].tone) == (-0.03, "worse")
    assert (rows["teencode"].candidate, rows["teencode"].delta, rows["teencode"].tone) == (None, None, "same")
    assert (rows["reviewed"].delta, rows["reviewed"].tone) == (0.1, "better")
    assert (rows["stories"].live, rows["stories"].candidate, rows["stories"].tone) == (1.0, 0.0, "worse")


def test_per_intent_rows_worst_first() -> None:
    comparison = compare(CANDIDATE, LIVE)
    rows = comparison.per_intent
    assert [r.intent for r in rows] == ["bye", "greet", "ask_parking", "ask_fee"]
    bye, greet, parking, fee = rows
    assert (bye.candidate_f1, bye.f1_delta, bye.tone) == (0.0, -1.0, "worse")  # removed: F1 0, as in the gate
    assert (greet.f1_delta, greet.tone) == (-0.002, "same")
    assert (parking.live_f1, parking.f1_delta, parking.tone, parking.support) == (None, None, "same", 2)
    assert (fee.live_precision, fee.candidate_recall, fee.f1_delta, fee.tone) == (0.9, 0.95, 0.05, "better")
    assert comparison.stories_failed == ("greet then thank",) and comparison.confusion == CANDIDATE["confusion"]
    assert comparison.has_live


def test_without_a_live_model_every_tone_is_same() -> None:
    comparison = compare(CANDIDATE, None)
    assert not comparison.has_live
    assert {r.tone for r in comparison.headline} | {r.tone for r in comparison.per_intent} == {"same"}
    assert all(r.live is None for r in comparison.headline)


def test_intent_scores() -> None:
    records = [
        {"intent": "a", "predicted": "a"}, {"intent": "a", "predicted": "b"},
        {"intent": "b", "predicted": "b"}, {"intent": "c", "predicted": ""},
    ]  # fmt: skip
    scores = intent_scores(records)
    assert scores["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert scores["b"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert scores["c"]["f1"] == 0.0 and "" not in scores
