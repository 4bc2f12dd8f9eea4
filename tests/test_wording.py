"""The wording catalogue (bot/wording/vi.yml): every key used, every used key defined, each sentence once.

Code names a sentence by a literal key (``text("dossier.ask_phone_digits")``, or a literal in a
table of keys), so these checks read the code's string literals: a key that no module names is
dead, a dotted literal under a catalogue section that is not a key is a typo, and a call's
keyword values must match the sentence's placeholders. domain.yml's responses must repeat their
catalogue sentence verbatim. No citizen-facing Vietnamese sentence may stay in Python code.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bot.wording import (
    DOMAIN_RESPONSES,
    PlaceholderMismatch,
    UnknownWordingKey,
    WordingFileError,
    catalogue,
    load,
    text,
)

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = (ROOT / "bot", ROOT / "actions")
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log", "warn"}

# Python modules whose Vietnamese literals are data or operator text, not replies to a citizen:
# NLU vocabulary and teencode, the catalogue's search vocabulary and province names, demo records,
# settings defaults (the hotline text is configuration), and the administration CLIs.
NOT_REPLIES = (
    "bot/nlu/",
    "bot/catalog/",
    "bot/text.py",
    "bot/dossiers/demo.py",
    "bot/settings.py",
    "bot/cli.py",
    "bot/dossiers/cli.py",
    "bot/runtime/runner.py",
    "bot/runtime/evaluation.py",
)
# Single literals elsewhere that are not replies: what a platform's "start"/"follow" event stands for
# (the bot treats it as if the citizen had typed it).
ALLOWED_LITERALS = {"xin chào"}


@dataclass(frozen=True)
class Literal:
    path: str
    line: int
    value: str


def python_files() -> Iterator[Path]:
    for folder in CODE_DIRS:
        yield from sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            ids.add(id(node.value))
    return ids


def _log_call_ids(tree: ast.AST) -> set[int]:
    """Constants inside logging calls and argparse help texts (operator-facing)."""
    ids = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in LOG_METHODS:
            ids.update(id(n) for arg in node.args for n in ast.walk(arg))
        for kw in node.keywords:
            if kw.arg in ("help", "description"):
                ids.update(id(n) for n in ast.walk(kw.value))
    return ids


def literals(path: Path, *, skip_operator_text: bool = False) -> list[Literal]:
    """Every string constant in ``path`` except docstrings (and, if asked, log and help texts)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstring_ids(tree)
    if skip_operator_text:
        skip |= _log_call_ids(tree)
    rel = path.relative_to(ROOT).as_posix()
    return [
        Literal(rel, node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    ]


def key_calls(path: Path) -> Iterator[tuple[str, int, str, set[str] | None]]:
    """``(path, line, key, keyword names)`` for each call whose first argument is a literal catalogue key.

    Keyword names are None when the call passes ``**values`` (not checkable statically).
    """
    keys = catalogue().sentences
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT).as_posix()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        key = node.args[0].value
        if isinstance(key, str) and key in keys:
            names = None if any(kw.arg is None for kw in node.keywords) else {str(kw.arg) for kw in node.keywords}
            yield rel, node.lineno, key, names


@pytest.fixture(scope="module")
def code_literals() -> list[Literal]:
    return [lit for path in python_files() for lit in literals(path)]


def test_every_key_is_used_by_the_code(code_literals: list[Literal]) -> None:
    used = {lit.value for lit in code_literals}
    unused = sorted(set(catalogue().sentences) - used)
    assert not unused, f"wording keys no module names (remove them, or use them as literal strings): {unused}"


def test_every_key_the_code_names_exists(code_literals: list[Literal]) -> None:
    sections = {key.split(".")[0] for key in catalogue().sentences}
    key_like = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
    missing = sorted(
        f"{lit.path}:{lit.line}: {lit.value}"
        for lit in code_literals
        if key_like.fullmatch(lit.value)
        and lit.value.split(".")[0] in sections
        and lit.value not in catalogue().sentences
    )
    assert not missing, f"keys named in the code but missing from bot/wording/vi.yml: {missing}"


def test_no_sentence_appears_under_two_keys() -> None:
    seen: dict[str, str] = {}
    twice = []
    for key, sentence in catalogue().sentences.items():
        normal = unicodedata.normalize("NFC", " ".join(sentence.split()))
        if normal in seen:
            twice.append(f"{seen[normal]} = {key}: {sentence!r}")
        seen.setdefault(normal, key)
    assert not twice, f"one sentence, one key: {twice}"


def test_calls_give_exactly_the_sentence_placeholders() -> None:
    wrong = []
    for path in python_files():
        for rel, line, key, names in key_calls(path):
            expected = set(catalogue().placeholders(key))
            if names is not None and names != expected:
                wrong.append(f"{rel}:{line}: {key} takes {sorted(expected)}, the call gives {sorted(names)}")
    assert not wrong, "\n".join(wrong)


def test_domain_responses_repeat_the_catalogue() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    responses = domain.get("responses") or {}
    assert set(responses) == set(DOMAIN_RESPONSES), "bot.wording.DOMAIN_RESPONSES must map every domain response"
    for name, variants in responses.items():
        for variant in variants:
            assert set(variant) == {"text"}, f"{name}: only text responses are checked against the catalogue"
            assert variant["text"] == text(DOMAIN_RESPONSES[name]), (
                f"domain.yml {name} differs from bot/wording/vi.yml {DOMAIN_RESPONSES[name]}"
            )


def test_no_citizen_sentence_is_typed_in_python_code() -> None:
    found = []
    for path in python_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(NOT_REPLIES) or rel == "bot/wording.py":
            continue
        for lit in literals(path, skip_operator_text=True):
            value = unicodedata.normalize("NFC", lit.value).lower()
            if VIETNAMESE.search(value) and lit.value not in ALLOWED_LITERALS:
                found.append(f"{lit.path}:{lit.line}: {lit.value[:60]!r}")
    assert not found, "move these sentences to bot/wording/vi.yml and read them with text(key):\n" + "\n".join(found)


def test_the_phone_digits_prompt_is_one_sentence() -> None:
    # The prompt once had three wordings (domain.yml, the form action, the service).
    prompts = [s for s in catalogue().sentences.values() if "chữ số cuối" in s or "cho em xin 4 số" in s]
    assert prompts == [text("dossier.ask_phone_digits")]


def test_unknown_key_and_wrong_placeholders_raise_clear_errors() -> None:
    with pytest.raises(UnknownWordingKey, match=r"dossier\.no_such_key") as err:
        text("dossier.no_such_key")
    assert isinstance(err.value, KeyError) and "vi.yml" in str(err.value)
    with pytest.raises(PlaceholderMismatch, match="missing value for code"):
        text("dossier.not_found")
    with pytest.raises(PlaceholderMismatch, match="no placeholder for typo"):
        text("dossier.not_found", code="x", typo="y")
    assert "000.00.12.H61-240831-0001" in text("dossier.not_found", code="000.00.12.H61-240831-0001")


def test_malformed_files_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("a:\n  b: 3\n", encoding="utf-8")
    with pytest.raises(WordingFileError, match=r"'a\.b'"):
        load(bad)
    bad.write_text("a:\n  B: x\n", encoding="utf-8")
    with pytest.raises(WordingFileError, match="snake_case"):
        load(bad)
    bad.write_text("a: 'x {'\n", encoding="utf-8")
    with pytest.raises(WordingFileError, match="placeholder"):
        load(bad)
