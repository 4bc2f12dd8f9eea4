"""The answer-level evaluation set (shape, codes that exist) and the harness's scoring, without a model."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

import actions.procedures
from bot.answers import ProcedureAdvisor
from bot.catalog.domain import Procedure
from bot.catalog.loader import validate_dir
from bot.runtime import answer_eval
from bot.runtime.answer_eval import TAGS, Item, RuleBot, Turn, load_items, parse_items, run_items, score, summarise
from bot.text import strip_diacritics

ITEMS = load_items()


def curated_codes() -> set[str]:
    return {p.code for p in validate_dir()}


# ---------------------------------------------------------------- the question set


def test_the_set_has_what_the_issue_asks_for() -> None:
    tags = [t for item in ITEMS for t in item.tags]
    assert len(ITEMS) >= 200
    assert tags.count("follow_up") >= 20
    assert tags.count("multi_ask") >= 15
    assert tags.count("imported") >= 20
    assert tags.count("conditions") >= 20
    assert tags.count("english") >= 10
    assert sum(item.kind == "unknown" for item in ITEMS) >= 10
    assert 0.35 <= tags.count("no_diacritics") / len(ITEMS) <= 0.5


def test_ids_are_unique_and_tags_known() -> None:
    ids = [item.id for item in ITEMS]
    assert len(ids) == len(set(ids))
    assert {t for item in ITEMS for t in item.tags} <= set(TAGS)


def test_no_diacritics_tag_matches_the_text() -> None:
    wrong = [
        item.id
        for item in ITEMS
        if "english" not in item.tags
        and ("no_diacritics" in item.tags) != all(strip_diacritics(t) == t for t in item.turns)
    ]
    assert wrong == []


def test_follow_ups_have_two_turns() -> None:
    assert all(len(item.turns) >= 2 for item in ITEMS if "follow_up" in item.tags)
    assert all(len(item.turns) == 1 for item in ITEMS if "follow_up" not in item.tags)


def test_questions_are_not_copied_from_the_training_data() -> None:
    root = Path(answer_eval.PROJECT_ROOT)
    seen: set[str] = set()
    for path in [*(root / "data" / "nlu").glob("*.yml"), *(root / "tests" / "nlu").glob("holdout*.yml")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip().removeprefix("- ").strip()
            if line:
                seen.add(line.casefold())
    copied = [item.id for item in ITEMS for t in item.turns if t.casefold() in seen and len(t) > 25]
    assert copied == []


def test_curated_items_name_curated_codes() -> None:
    """Items not tagged imported accept at least one procedure of data/catalog (no ../shared needed)."""
    known = curated_codes()
    wrong = {item.id: item.codes for item in ITEMS if "imported" not in item.tags and item.codes
             and not set(item.codes) & known}  # fmt: skip
    assert wrong == {}


def test_every_expected_code_exists(snapshot_codes: frozenset[str]) -> None:
    known = curated_codes() | snapshot_codes
    missing = {item.id: [c for c in item.codes if c not in known] for item in ITEMS}
    assert {k: v for k, v in missing.items() if v} == {}


def test_imported_items_expect_a_procedure_outside_the_curated_catalogue(snapshot_codes: frozenset[str]) -> None:
    curated = curated_codes()
    wrong = [i.id for i in ITEMS if "imported" in i.tags and i.kind == "answer" and set(i.codes) <= curated]
    assert wrong == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"text": "x"}, "no id"),
        ({"id": "a", "text": "x", "turns": ["x"]}, "exactly one"),
        ({"id": "a", "text": "x", "tags": ["slang"], "expect": {"codes": ["1.004222"]}}, "unknown tags"),
        ({"id": "a", "text": "x", "tags": ["follow_up"], "expect": {"codes": ["1.004222"]}}, "follow_up"),
        ({"id": "a", "text": "x", "expect": {"codes": ["1004222"]}}, "looks like"),
        ({"id": "a", "text": "x", "expect": {}}, "needs expect.codes"),
        ({"id": "a", "text": "x", "expect": {"kind": "unknown", "codes": ["1.004222"]}}, "expects no code"),
        ({"id": "a", "text": "x", "expect": {"kind": "maybe"}}, "unknown kind"),
    ],
)
def test_a_bad_item_is_refused(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_items([entry])


def test_duplicate_ids_are_refused() -> None:
    entry = {"id": "a", "text": "x", "expect": {"codes": ["1.004222"]}}
    with pytest.raises(ValueError, match="duplicate"):
        parse_items([entry, entry])


# ---------------------------------------------------------------- scoring, with a stub advisor and a stub NLU

CITE = "Mã thủ tục: {code} · Nguồn: https://dichvucong.gov.vn/ · Cập nhật: 01/07/2026"


class StubCandidate:
    def __init__(self, code: str, name: str, score: float) -> None:
        self.code, self.name, self.score, self.province = code, name, score, None


class StubCatalog:
    """Two made-up procedures; "giấy" is ambiguous between them; anything else is unknown."""

    def __init__(self) -> None:
        self.procs = {
            "9.000001": Procedure(code="9.000001", name="Cấp giấy thử nghiệm", origin="curated"),
            "9.000002": Procedure(code="9.000002", name="Đổi giấy thử nghiệm", origin="curated"),
        }

    def get(self, code: str, province: str | None = None) -> Procedure | None:
        return self.procs.get(code)

    def find(self, text: str, limit: int = 5) -> Sequence[StubCandidate]:
        if "đổi" in text:
            return [StubCandidate("9.000002", "Đổi giấy thử nghiệm", 1.0)]
        if "cấp" in text:
            return [StubCandidate("9.000001", "Cấp giấy thử nghiệm", 1.0)]
        if "giấy" in text:
            return [StubCandidate("9.000001", "Cấp giấy thử nghiệm", 0.5),
                    StubCandidate("9.000002", "Đổi giấy thử nghiệm", 0.5)]  # fmt: skip
        return []

    def is_ambiguous(self, candidates: Sequence[StubCandidate]) -> bool:
        return len(candidates) > 1


# The stub NLU: message → (intent, procedure mention).
NLU = {
    "cấp giấy cần gì": ("ask_fee", "cấp giấy"),
    "đổi giấy cần gì": ("ask_fee", "đổi giấy"),
    "giấy cần gì": ("ask_fee", "giấy"),
    "rồng cần gì": ("ask_fee", "rồng"),
    "lệ phí thì sao": ("ask_fee", None),
    "gặp người": ("request_human", None),
    "xin chào": ("greet", None),
}


async def stub_parse(text: str) -> dict[str, Any]:
    intent, mention = NLU[text]
    entities = [{"entity": "procedure", "value": mention, "start": 0, "end": len(mention)}] if mention else []
    return {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities,
            "intent_ranking": [{"name": intent, "confidence": 0.99}]}  # fmt: skip


@pytest.fixture
def stub_bot(monkeypatch: pytest.MonkeyPatch) -> RuleBot:
    monkeypatch.setattr(actions.procedures, "advisor", lambda: ProcedureAdvisor(StubCatalog()))
    return RuleBot(stub_parse)


TINY = yaml.safe_load(
    """
- {id: right, text: "cấp giấy cần gì", expect: {codes: ["9.000001"]}}
- {id: wrong, text: "đổi giấy cần gì", expect: {codes: ["9.000001"]}}
- {id: either, text: "đổi giấy cần gì", expect: {codes: ["9.000001", "9.000002"]}}
- {id: choices, text: "giấy cần gì", expect: {kind: choices, codes: ["9.000002"]}}
- {id: choices-missed, text: "cấp giấy cần gì", expect: {kind: choices, codes: ["9.000002"]}}
- {id: unknown, text: "rồng cần gì", expect: {kind: unknown}}
- {id: unknown-missed, text: "cấp giấy cần gì", expect: {kind: unknown}}
- {id: handoff, text: "gặp người", expect: {kind: handoff}}
- {id: follow, turns: ["đổi giấy cần gì", "lệ phí thì sao"], tags: [follow_up], expect: {codes: ["9.000002"]}}
- {id: follow-lost, turns: ["xin chào", "lệ phí thì sao"], tags: [follow_up], expect: {codes: ["9.000002"]}}
- {id: facts, text: "cấp giấy cần gì", tags: [multi_ask], expect: {codes: ["9.000001"], facts: ["9.000001", "Cổng"]}}
"""
)


def test_the_harness_scores_a_tiny_set(stub_bot: RuleBot) -> None:
    items = parse_items(TINY)
    scores, misses = asyncio.run(run_items(stub_bot, items))
    verdict = {s.id: s.procedure_ok for s in scores}
    assert verdict == {
        "right": True,
        "wrong": False,
        "either": True,
        "choices": True,
        "choices-missed": False,
        "unknown": True,
        "unknown-missed": False,
        "handoff": True,
        "follow": True,
        "follow-lost": False,
        "facts": True,
    }
    by_id = {s.id: s for s in scores}
    # The stub procedures have no fees: the answer says so and points to the Cổng Dịch vụ công.
    assert by_id["facts"].facts_ok is True
    assert by_id["right"].facts_ok is None
    assert {m["id"] for m in misses} == {"wrong", "choices-missed", "unknown-missed", "follow-lost"}
    wrong = next(m for m in misses if m["id"] == "wrong")
    assert wrong["expected"]["codes"] == ["9.000001"] and wrong["got"]["cited"] == ["9.000002"]
    table = summarise(scores)
    assert table["overall"] == {"n": 11, "procedure": round(7 / 11, 4), "facts_n": 1, "facts": 1.0}
    assert table["follow_up"]["n"] == 2 and table["follow_up"]["procedure"] == 0.5
    assert table["english"] == {"n": 0, "procedure": None, "facts_n": 0, "facts": None}


def test_missing_facts_are_reported() -> None:
    item = Item("x", ("q",), codes=("9.000001",), facts=("50.000", "3 ngày làm việc"))
    turn = Turn("q", texts=["Lệ phí 50.000 đồng.\n\n" + CITE.format(code="9.000001")])
    result = score(item, [turn])
    assert result.procedure_ok and result.facts_ok is False and result.missing_facts == ["3 ngày làm việc"]


def test_imported_items_are_skipped_without_the_snapshot(stub_bot: RuleBot) -> None:
    items = parse_items(
        [{"id": "imp", "text": "cấp giấy cần gì", "tags": ["imported"], "expect": {"codes": ["9.000001"]}}]
    )
    scores, misses = asyncio.run(
        run_items(stub_bot, items, skip=lambda item: "absent" if "imported" in item.tags else None)
    )
    assert scores[0].skipped == "absent" and misses == []
    assert summarise(scores)["imported"]["n"] == 0


def test_no_snapshot_means_none(tmp_path: Path) -> None:
    assert answer_eval.snapshot_or_none(tmp_path) is None


# ---------------------------------------------------------------- the second, fresh set (report-only)

FRESH_SET = Path(answer_eval.PROJECT_ROOT) / "tests" / "eval" / "fresh_questions.yml"


def test_the_fresh_set_is_well_formed_and_new(snapshot_codes: frozenset[str]) -> None:
    fresh = load_items(FRESH_SET)
    assert len(fresh) >= 50
    assert not {i.id for i in fresh} & {i.id for i in ITEMS}
    first = {t.casefold() for i in ITEMS for t in i.turns}
    assert [i.id for i in fresh if any(t.casefold() in first and len(t) > 25 for t in i.turns)] == []
    known = curated_codes() | snapshot_codes
    assert {i.id: c for i in fresh for c in i.codes if c not in known} == {}
