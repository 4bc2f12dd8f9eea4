"""The training-data writer on a temporary copy of the project's files (never the real data/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from bot.training.errors import TrainingError
from bot.training.writer import (
    Example,
    StoryTurn,
    add_intent,
    is_held_out,
    validate_command,
    write_examples,
    write_story,
)
from bot.wording import load, trained_responses


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "data" / "nlu").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "domain.yml", project / "domain.yml")
    shutil.copy(PROJECT_ROOT / "data" / "rules.yml", project / "data" / "rules.yml")
    return project


FEE = [
    Example("phí làm hộ chiếu bao nhiêu", ({"entity": "procedure", "start": 4, "end": 16},)),
    Example("Lệ phí cấp lại CCCD"),
    Example("  lệ   phí cấp lại cccd "),  # the same text: one line, the later wins
    Example("bao nhiêu tiền"),
]


def test_examples_are_sorted_unique_and_stable(root: Path) -> None:
    path = write_examples("ask_fee", FEE, root)
    assert path == root / "data" / "nlu" / "reviewed" / "ask_fee.yml"
    first = path.read_bytes()
    assert first.decode() == (
        'version: "3.1"\n\nnlu:\n- intent: ask_fee\n  examples: |\n'
        "    - bao nhiêu tiền\n    - lệ phí cấp lại cccd\n    - phí [làm hộ chiếu](procedure) bao nhiêu\n"
    )
    write_examples("ask_fee", reversed(FEE), root)
    write_examples("ask_fee", FEE, root)
    assert path.read_bytes() == first
    assert not list(path.parent.glob(".*tmp"))


def test_written_files_are_valid_rasa_data(root: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    path = write_examples("ask_fee", [*FEE, Example("phí nộp hồ sơ")], root)
    data = load_data(str(path))
    assert {m.get("intent") for m in data.intent_examples} == {"ask_fee"}
    assert len(data.intent_examples) == 4
    entity = next(m for m in data.training_examples if m.get("entities"))
    assert entity.get("entities")[0]["value"] == "làm hộ chiếu"


def test_personal_data_and_bad_input_are_refused(root: Path) -> None:
    with pytest.raises(TrainingError) as err:
        write_examples("ask_fee", [Example("sđt 0912345678 phí bao nhiêu")], root)
    assert err.value.code == "personal_data"
    assert err.value.fields["findings"] == [{"excerpts": ["091*****78"], "kinds": ["phone"]}]
    assert not (root / "data" / "nlu" / "reviewed").exists()
    for intent, examples, code in [
        ("Bad", [Example("x")], "bad_intent_name"),
        ("ask_fee", [Example("")], "bad_example"),
        ("ask_fee", [Example("abc", ({"entity": "procedure", "start": 2, "end": 9},))], "bad_example"),
    ]:
        with pytest.raises(TrainingError) as err:
            write_examples(intent, examples, root)
        assert err.value.code == code


def test_a_story_is_written_in_rasa_test_format(root: Path) -> None:
    turns = [
        StoryTurn("citizen", "phí làm hộ chiếu", "ask_fee", ("action_answer_procedure",)),
        StoryTurn("bot", actions=("utter_anything_else",)),
        StoryTurn("citizen", "cảm ơn", "thank", ("utter_thank",)),
    ]
    path = write_story("fee-then-thanks", turns, root)
    assert path == root / "tests" / "stories" / "test_reviewed_fee-then-thanks.yml"
    steps = yaml.safe_load(path.read_text(encoding="utf-8"))["stories"][0]["steps"]
    assert steps[0] == {"user": "phí làm hộ chiếu\n", "intent": "ask_fee"}
    assert [s.get("action") for s in steps[1:4]] == ["action_answer_procedure", "utter_anything_else", None]
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    assert YAMLStoryReader.is_test_stories_file(path)
    with pytest.raises(TrainingError) as err:
        write_story("x", [StoryTurn("staff", "chào", None)], root)
    assert err.value.code == "empty_story"
    with pytest.raises(TrainingError) as err:
        write_story("x", [StoryTurn("citizen", "gọi 0912345678", "request_callback")], root)
    assert err.value.code == "personal_data"


def test_add_intent_inserts_lines_and_changes_nothing_else(root: Path) -> None:
    before = (root / "domain.yml").read_text(encoding="utf-8")
    rules_before = (root / "data" / "rules.yml").read_bytes()
    written = add_intent("ask_parking", [Example("gửi xe ở đâu"), Example("có chỗ để xe không")],
                         'Dạ, có bãi "gửi xe" ạ.', root)  # fmt: skip
    assert [p.name for p in written] == ["ask_parking.yml", "reviewed_rules.yml", "domain.yml"]
    after = (root / "domain.yml").read_text(encoding="utf-8")
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == ["  - ask_parking", "  utter_ask_parking:", '    - text: "Dạ, có bãi \\"gửi xe\\" ạ."']
    kept = after.splitlines()
    for line in added:
        kept.remove(line)
    assert "\n".join(kept) + "\n" == before
    domain = yaml.safe_load(after)
    assert "ask_parking" in domain["intents"]
    assert domain["responses"]["utter_ask_parking"] == [{"text": 'Dạ, có bãi "gửi xe" ạ.'}]
    rules = yaml.safe_load((root / "data" / "reviewed_rules.yml").read_text(encoding="utf-8"))["rules"]
    assert rules == [{"rule": "answer ask_parking", "steps": [{"intent": "ask_parking"},
                                                               {"action": "utter_ask_parking"}]}]  # fmt: skip
    assert (root / "data" / "rules.yml").read_bytes() == rules_before
    from rasa.shared.core.domain import Domain

    assert "utter_ask_parking" in Domain.load(str(root / "domain.yml")).responses
    with pytest.raises(TrainingError) as err:
        add_intent("ask_parking", [Example("gửi xe")], "Dạ vâng.", root)
    assert err.value.code == "intent_exists"


@pytest.mark.parametrize(
    ("name", "examples", "response", "code"),
    [
        ("greet", [Example("chào")], "Dạ chào.", "intent_exists"),
        ("X1", [Example("chào")], "Dạ chào.", "bad_intent_name"),
        ("ask_new", [], "Dạ.", "no_examples"),
        ("ask_new", [Example("hỏi")], "  ", "bad_response"),
        ("ask_new", [Example("hỏi")], "Gọi 0912345678 ạ.", "personal_data"),
    ],
)
def test_add_intent_refusals_write_nothing(root: Path, name: str, examples: list, response: str, code: str) -> None:
    before = (root / "domain.yml").read_bytes()
    with pytest.raises(TrainingError) as err:
        add_intent(name, examples, response, root)
    assert err.value.code == code
    assert (root / "domain.yml").read_bytes() == before and not (root / "data" / "reviewed_rules.yml").exists()


def test_validate_command() -> None:
    assert validate_command()[-4:] == ["-m", "bot", "model", "validate"]


def _lines(path: Path) -> list[str]:
    from bot.training.data import parse_examples

    if not path.exists():
        return []
    return [line for _, line in parse_examples(yaml.safe_load(path.read_text(encoding="utf-8")))]


def test_the_held_out_fifth_of_an_intent_with_five_examples(root: Path) -> None:
    texts = [f"phí làm giấy tờ số {n}" for n in range(30)]
    held = [t for t in texts if is_held_out(t)][:2]
    kept = [t for t in texts if not is_held_out(t)][:6]
    train_path = root / "data" / "nlu" / "reviewed" / "ask_fee.yml"
    holdout_path = root / "tests" / "nlu" / "reviewed_holdout" / "ask_fee.yml"
    write_examples("ask_fee", [Example(t) for t in [held[0], *kept[:2]]], root)  # 3 examples: all train
    assert sorted(_lines(train_path)) == sorted([held[0], *kept[:2]]) and not holdout_path.exists()
    write_examples("ask_fee", [Example(t) for t in [held[1], *kept[2:]]], root)  # 8 examples: the fifth moves
    assert sorted(_lines(holdout_path)) == sorted(held)
    assert sorted(_lines(train_path)) == sorted(kept)
    before = (train_path.read_bytes(), holdout_path.read_bytes())
    write_examples("ask_fee", [Example(held[0])], root)  # again: the same bytes
    assert (train_path.read_bytes(), holdout_path.read_bytes()) == before


def test_add_intent_writes_its_answer_into_the_wording_catalogue(root: Path) -> None:
    wording = root / "bot" / "wording" / "citizen.vi.yml"
    wording.parent.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "bot" / "wording" / "citizen.vi.yml", wording)
    original = wording.read_text(encoding="utf-8")
    written = add_intent("ask_parking", [Example("gửi xe ở đâu")], 'Dạ, có bãi "gửi xe" ạ.', root)
    assert written[-1] == wording
    text = wording.read_text(encoding="utf-8")
    assert text.startswith(original) and "\ntrained:\n  ask_parking: " in text  # comments and bytes kept
    add_intent("ask_wifi", [Example("có wifi không")], "Dạ, có wifi miễn phí ạ.", root)
    expected = {"utter_ask_parking": "trained.ask_parking", "utter_ask_wifi": "trained.ask_wifi"}
    assert trained_responses(wording) == expected
    catalogue = load(wording)
    assert catalogue.text("trained.ask_parking") == 'Dạ, có bãi "gửi xe" ạ.'
    domain = yaml.safe_load((root / "domain.yml").read_text(encoding="utf-8"))
    for name, key in trained_responses(wording).items():
        assert domain["responses"][name] == [{"text": catalogue.text(key)}]
    before = {p: p.read_bytes() for p in (wording, root / "domain.yml")}
    with pytest.raises(TrainingError) as err:
        add_intent("ask_again", [Example("gửi xe")], "Dạ, có wifi miễn phí ạ.", root)
    assert err.value.code == "response_exists"
    assert {p: p.read_bytes() for p in before} == before
