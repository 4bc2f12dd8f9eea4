"""Guards on the NLU training data (data/nlu) and the held-out set (tests/nlu).

They keep the data valid Rasa 3 NLU YAML, well annotated, large and varied
enough, and the hold-out set really held out (no training example in it).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from bot.text import abbreviation_map, fold, nfc, strip_diacritics, teencode_map

NLU_DIR = PROJECT_ROOT / "data" / "nlu"
HOLDOUT_DIR = PROJECT_ROOT / "tests" / "nlu"
HOLDOUT = HOLDOUT_DIR / "holdout.yml"

QUESTION_INTENTS = {
    "ask_documents",
    "ask_fee",
    "ask_processing_time",
    "ask_where",
    "ask_how_online",
    "ask_procedure_info",
    "ask_conditions",
}
CHITCHAT_INTENTS = {"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "request_human"}
DOSSIER_INTENTS = {"track_dossier", "provide_phone_digits", "subscribe_dossier", "unsubscribe_dossier", "cancel"}
# Usually button payloads; a few typed forms so that a typed rating or call-back request is understood.
HELPDESK_INTENTS = {"request_callback", "rate"}
ALL_INTENTS = QUESTION_INTENTS | CHITCHAT_INTENTS | DOSSIER_INTENTS | HELPDESK_INTENTS
ENTITIES = {"procedure", "dossier_code", "csat_rating"}
FILES_BY_INTENT = {
    "chitchat.yml": CHITCHAT_INTENTS,
    "documents.yml": {"ask_documents"},
    "fees.yml": {"ask_fee"},
    "processing_time.yml": {"ask_processing_time"},
    "where.yml": {"ask_where"},
    "online.yml": {"ask_how_online"},
    "procedure_info.yml": {"ask_procedure_info"},
    "conditions.yml": {"ask_conditions"},
    "dossier.yml": DOSSIER_INTENTS,
    "helpdesk.yml": HELPDESK_INTENTS,
}

ENTITY_RE = re.compile(r"\[([^\[\]()]+)\]\((\w+)\)")
STRICT_DOSSIER_RE = re.compile(r"\b\d{3}\.\d{2}\.\d{2}\.[A-Za-z]\d{2}-\d{6}-\d{4}\b")
CODE_RE = re.compile(r"^\d\.\d{6}$")


def _examples(path: Path) -> list[tuple[str, str]]:
    """(intent, annotated text) for every example in a Rasa NLU YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: list[tuple[str, str]] = []
    for block in data["nlu"]:
        if "intent" not in block:
            continue
        for line in block["examples"].splitlines():
            stripped = line.strip()
            if stripped:
                assert stripped.startswith("- "), f"{path.name}: not a list item: {line!r}"
                out.append((block["intent"], stripped[2:].strip()))
    return out


def _plain(text: str) -> str:
    return ENTITY_RE.sub(lambda m: m.group(1), text)


def _entities(text: str) -> list[tuple[str, str]]:
    return [(m.group(2), m.group(1)) for m in ENTITY_RE.finditer(text)]


def _training() -> list[tuple[str, str]]:
    return [ex for path in sorted(NLU_DIR.glob("*.yml")) for ex in _examples(path)]


def _holdout() -> list[tuple[str, str]]:
    return _examples(HOLDOUT)


def _procedure_codes() -> dict[str, str]:
    return yaml.safe_load((HOLDOUT_DIR / "procedure_codes.yml").read_text(encoding="utf-8"))


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_holdout", HOLDOUT_DIR / "build_holdout.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nlu_files() -> list[Path]:
    return [*sorted(NLU_DIR.glob("*.yml")), HOLDOUT]


@pytest.mark.parametrize("path", _nlu_files(), ids=lambda p: p.name)
def test_files_are_rasa_nlu_yaml(path: Path) -> None:
    raw = path.read_bytes()
    raw.decode("utf-8")  # must be valid UTF-8
    data = yaml.safe_load(raw)
    assert data["version"] == "3.1"
    assert set(data) == {"version", "nlu"}
    for block in data["nlu"]:
        assert ("intent" in block) != ("regex" in block), block
        assert isinstance(block["examples"], str)
        if "intent" in block:
            assert block["intent"] in ALL_INTENTS, block["intent"]


def test_one_file_per_topic() -> None:
    found = {p.name for p in NLU_DIR.glob("*.yml")}
    assert found == set(FILES_BY_INTENT)
    for name, intents in FILES_BY_INTENT.items():
        assert {intent for intent, _ in _examples(NLU_DIR / name)} == intents, name


@pytest.mark.parametrize("source", ["training", "holdout"])
def test_entity_annotations_are_well_formed(source: str) -> None:
    examples = _training() if source == "training" else _holdout()
    for intent, text in examples:
        rest = ENTITY_RE.sub("", text)
        assert not re.search(r"[\[\]]|\]\(|\((procedure|dossier_code)\)", rest), f"broken markup: {text!r}"
        for entity, value in _entities(text):
            assert entity in ENTITIES, text
            assert value == value.strip() and value, f"entity with outer spaces: {text!r}"
            if entity == "dossier_code":
                assert STRICT_DOSSIER_RE.fullmatch(value), f"dossier code {value!r} does not match the regex"
            if entity == "procedure":
                assert intent in QUESTION_INTENTS, f"procedure entity outside question intents: {text!r}"


def test_dossier_regexes_match_annotated_codes() -> None:
    data = yaml.safe_load((NLU_DIR / "dossier.yml").read_text(encoding="utf-8"))
    patterns = [
        line.strip()[2:]
        for block in data["nlu"]
        if block.get("regex") == "dossier_code"
        for line in block["examples"].splitlines()
        if line.strip()
    ]
    assert len(patterns) >= 1
    compiled = [re.compile(p) for p in patterns]
    codes = [v for _, t in _training() + _holdout() for e, v in _entities(t) if e == "dossier_code"]
    assert len(codes) >= 10
    for code in codes:
        assert all(rx.search(code) for rx in compiled), code
    # The tolerant pattern accepts what people retype by hand.
    assert any(rx.search("000.00.12.H61 - 240831 - 0001") for rx in compiled)
    assert not any(rx.search("tra cứu hồ sơ 0912345678") for rx in compiled)


def test_no_duplicate_training_examples() -> None:
    seen: dict[str, str] = {}
    for intent, text in _training():
        key = fold(_plain(text))
        assert key not in seen, f"{text!r} in {intent} duplicates an example of {seen[key]}"
        seen[key] = intent


def test_holdout_is_held_out() -> None:
    training = {fold(_plain(t)) for _, t in _training()}
    leaked = [t for _, t in _holdout() if fold(_plain(t)) in training]
    assert not leaked, f"hold-out examples also in training: {leaked}"
    folded = [fold(_plain(t)) for _, t in _holdout()]
    assert len(folded) == len(set(folded)), [k for k, n in Counter(folded).items() if n > 1]


def test_training_counts() -> None:
    counts = Counter(intent for intent, _ in _training())
    assert set(counts) == ALL_INTENTS
    for intent in QUESTION_INTENTS:
        assert counts[intent] >= 25, intent
    for intent in CHITCHAT_INTENTS:
        assert counts[intent] >= 15, intent
    assert counts["out_of_scope"] >= 30
    assert counts["request_human"] >= 20
    for intent in DOSSIER_INTENTS:
        assert counts[intent] >= 12, intent
    for intent in HELPDESK_INTENTS:
        assert counts[intent] >= 10, intent


def test_question_intents_mix_procedures_and_follow_ups() -> None:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for intent, text in _training():
        by_intent[intent].append(text)
    for intent in QUESTION_INTENTS:
        with_entity = [t for t in by_intent[intent] if "](procedure)" in t]
        assert len(with_entity) >= 25, intent
        assert len(by_intent[intent]) - len(with_entity) >= 5, f"{intent}: too few follow-ups without a procedure"


def test_procedures_are_varied_and_coded() -> None:
    codes = _procedure_codes()
    assert all(CODE_RE.match(c) for c in codes.values())
    per_intent: dict[str, set[str]] = defaultdict(set)
    for intent, text in _training() + _holdout():
        for entity, value in _entities(text):
            if entity == "procedure":
                assert fold(value) in codes, f"no code for {value!r}: add it to procedure_codes.yml"
                per_intent[intent].add(codes[fold(value)])
    training_codes: set[str] = set()
    for _intent, text in _training():
        training_codes |= {codes[fold(v)] for e, v in _entities(text) if e == "procedure"}
    assert len(training_codes) >= 30
    for intent in QUESTION_INTENTS:
        assert len(per_intent[intent]) >= 20, f"{intent} covers only {len(per_intent[intent])} procedures"


def test_training_is_mostly_accented() -> None:
    """Accent-free variants are generated at training time; hand-typed ones stay a minority."""
    texts = [nfc(_plain(t)) for _, t in _training()]
    accented = [t for t in texts if strip_diacritics(t) != t]
    assert len(accented) >= 0.8 * len(texts)


def test_holdout_counts_and_styles() -> None:
    examples = _holdout()
    assert len(examples) >= 200
    counts = Counter(intent for intent, _ in examples)
    assert set(counts) == ALL_INTENTS
    for intent in QUESTION_INTENTS:
        assert counts[intent] >= 20, intent
    for intent in CHITCHAT_INTENTS | DOSSIER_INTENTS | HELPDESK_INTENTS:
        assert counts[intent] >= 8, intent

    texts = [_plain(t) for _, t in examples]
    bare = [t for t in texts if strip_diacritics(nfc(t)) == nfc(t)]
    assert len(bare) >= len(texts) / 3, f"only {len(bare)}/{len(texts)} without diacritics"

    shorts = {fold(s) for forms in teencode_map().values() for s in forms} | {fold(a) for a in abbreviation_map()}
    full_words = {w for full in teencode_map() for w in fold(full).split()}
    teencode_tokens = {s for s in shorts if " " not in s and len(s) > 1 and s not in full_words}
    with_teencode = [t for t in texts if teencode_tokens & set(fold(t).split())]
    assert len(with_teencode) >= 25, f"only {len(with_teencode)} with teencode"

    caps = [t for t in texts if t.upper() == t and any(ch.isalpha() for ch in t)]
    assert len(caps) >= 5


def test_holdout_nfd_block() -> None:
    text = HOLDOUT.read_text(encoding="utf-8")
    head, _, tail = text.partition("\n# NFD\n")
    assert tail, "the NFD block must start with a '# NFD' comment line"
    assert unicodedata.is_normalized("NFC", head), "NFD text outside the '# NFD' block"
    nfd = [t for t in tail.splitlines() if t.strip().startswith("- ") and not unicodedata.is_normalized("NFC", t)]
    assert len(nfd) >= 15
    assert _builder().nfd_block() == "# NFD\n" + tail, "NFD block is stale: run tests/nlu/build_holdout.py"


def test_holdout_procedures_in_sync() -> None:
    expected = yaml.safe_load((HOLDOUT_DIR / "holdout_procedures.yml").read_text(encoding="utf-8"))
    assert expected == _builder().expected_procedures(), "stale: run tests/nlu/build_holdout.py"
    plain_texts = {_plain(t) for _, t in _holdout()}
    assert set(expected) <= plain_texts
    assert all(CODE_RE.match(c) for c in expected.values())
    assert len(set(expected.values())) >= 30


def test_rasa_loads_the_data() -> None:
    loading = pytest.importorskip("rasa.shared.nlu.training_data.loading")
    training = loading.load_data(str(NLU_DIR))
    assert set(training.intents) == ALL_INTENTS
    assert training.entities == ENTITIES
    assert {r["name"] for r in training.regex_features} == {"dossier_code"}
    assert len(training.training_examples) == len(_training())
    holdout = loading.load_data(str(HOLDOUT))
    assert len(holdout.training_examples) == len(_holdout())
    for message in holdout.training_examples:
        for entity in message.get("entities", []):
            assert message.get("text")[entity["start"] : entity["end"]] == entity["value"]
