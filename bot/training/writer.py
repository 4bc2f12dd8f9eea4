"""The training-data writer: reviewed examples, test stories and new intents, as Rasa 3.1 YAML files.

Files written here (paths under ``root``, the project tree by default):

* ``data/nlu/reviewed/<intent>.yml``: one file per intent, examples de-duplicated by
  :func:`~bot.training.data.text_key` (a newer example replaces an older one of the same text),
  sorted by case-folded text then text, so writing the same set twice gives the same bytes and a
  review adds one line to a diff. A procedure mention is kept as ``[mention](procedure)``.
* ``tests/nlu/reviewed_holdout/<intent>.yml``: the held-out fifth of the reviewed examples, which the
  trainer loop evaluates on (:mod:`bot.training.evaluation`) and never trains on. The split is
  deterministic (:func:`is_held_out`): an example whose :func:`~bot.training.data.key_hash` (sha1 of its
  folded text) is 0 modulo 5 is held out, but only once the intent has at least :data:`HOLDOUT_MIN`
  reviewed examples (a new intent with 3 examples trains on all 3), and never all of them.
* ``tests/stories/test_reviewed_<slug>.yml``: a reviewed conversation as a Rasa test story (Rasa takes a
  file for test stories only when its name starts with ``test_``, like the hand-written ones).
* for a new intent (:func:`add_intent`): its examples, its rule in ``data/reviewed_rules.yml``
  (ours alone, rewritten sorted; the hand-written ``data/rules.yml`` is never touched), and in
  ``domain.yml`` the intent and its response ``utter_<intent>``, inserted as lines: every other
  byte of ``domain.yml`` stays as it was (no YAML round trip, which would re-wrap long lines).
  The response has to be in ``domain.yml`` because training runs with ``--domain domain.yml``
  (:mod:`bot.runtime.model`). The same sentence goes into the wording catalogue,
  ``bot/wording/citizen.vi.yml``, as ``trained.<intent>`` (a line appended to its ``trained:``
  section; comments and every other byte stay), from which :data:`bot.wording.DOMAIN_RESPONSES`
  maps ``utter_<intent>`` when it loads. A project copy without that file gets no wording line.

Every file is written atomically (a temporary file in the same folder, then ``os.replace``).
An example or story text holding personal data is refused (:class:`~bot.training.errors.TrainingError`
``personal_data``, its ``findings`` masked): run :func:`bot.training.pii.placeholder` first.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT
from bot.text import nfc
from bot.training.data import INTENT_NAME, NLU_DIR, key_hash, parse_examples, plain_text, text_key
from bot.training.errors import TrainingError
from bot.training.pii import find_personal_data

__all__ = [
    "HOLDOUT_DIR",
    "HOLDOUT_MIN",
    "REVIEWED_DIR",
    "RULES_FILE",
    "WORDING_FILE",
    "Example",
    "StoryTurn",
    "add_intent",
    "domain_intents",
    "is_held_out",
    "render_example",
    "validate_command",
    "write_atomic",
    "write_examples",
    "write_story",
]

REVIEWED_DIR = NLU_DIR / "reviewed"
HOLDOUT_DIR = Path("tests") / "nlu" / "reviewed_holdout"
HOLDOUT_MIN = 5
WORDING_FILE = Path("bot") / "wording" / "citizen.vi.yml"
RULES_FILE = Path("data") / "reviewed_rules.yml"
STORIES_DIR = Path("tests") / "stories"
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,60}")
_ENTITY = re.compile(r"[a-z][a-z0-9_]{0,40}")


@dataclass(frozen=True)
class Example:
    """A training example: ``text`` (one line) and its entities, ``{"entity", "start", "end"}`` (and an optional
    ``"value"`` when it differs from the mention) on ``text``."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class StoryTurn:
    """A turn of a reviewed conversation: ``author`` citizen (``text`` and ``intent``) or bot (its ``actions``);
    a citizen turn's ``actions`` are those the bot ran after it."""

    author: str
    text: str = ""
    intent: str | None = None
    actions: tuple[str, ...] = field(default_factory=tuple)


def write_atomic(path: Path, content: str) -> None:
    """Write ``content`` (UTF-8, ``\\n`` line ends) to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _one_line(text: str) -> str:
    return " ".join(nfc(text or "").split())


def _refuse_personal_data(texts: Iterable[str]) -> None:
    problems = []
    for text in texts:
        findings = find_personal_data(text)
        if findings:
            problems.append({"excerpts": [f.excerpt for f in findings], "kinds": [f.kind for f in findings]})
    if problems:
        raise TrainingError("personal_data", "personal data in training text; use placeholder()", findings=problems)


def render_example(example: Example) -> str:
    """The example as a Rasa markdown line: ``"[cccd](procedure) làm ở đâu"``. :class:`TrainingError`
    ``bad_example`` for an empty text or an entity outside it or overlapping another."""
    text = nfc(example.text or "")
    if not text.strip() or "\n" in text.strip():
        raise TrainingError("bad_example", "an example is one non-empty line", text_length=len(text))
    out: list[str] = []
    pos = 0
    for ent in sorted(example.entities, key=lambda e: (int(e["start"]), int(e["end"]))):
        start, end, name = int(ent["start"]), int(ent["end"]), str(ent["entity"])
        if not (pos <= start < end <= len(text)) or not _ENTITY.fullmatch(name):
            raise TrainingError("bad_example", "entity outside the text or overlapping", entity=name)
        mention = text[start:end]
        if any(ch in mention for ch in "[]()"):
            raise TrainingError("bad_example", "brackets in an entity mention", entity=name)
        value = ent.get("value")
        if value is None or value == mention:
            out.append(f"{text[pos:start]}[{mention}]({name})")
        else:
            spec = json.dumps({"entity": name, "value": str(value)}, ensure_ascii=False)
            out.append(f"{text[pos:start]}[{mention}]{spec}")
        pos = end
    out.append(text[pos:])
    return _one_line("".join(out))


def _nlu_document(intent: str, lines: Iterable[str]) -> str:
    body = "".join(f"    - {line}\n" for line in lines)
    return f'version: "3.1"\n\nnlu:\n- intent: {intent}\n  examples: |\n{body}'


def _sorted_unique(lines: Iterable[str]) -> list[str]:
    """Later lines replace earlier ones of the same folded text; sorted by (casefold, line)."""
    by_key: dict[str, str] = {}
    for line in lines:
        by_key[text_key(plain_text(line))] = line
    return sorted(by_key.values(), key=lambda line: (plain_text(line).casefold(), line))


def is_held_out(line: str) -> bool:
    """Whether a reviewed example (annotated or not) is in the held-out fifth: its folded text's sha1 is 0 mod 5."""
    return int(key_hash(plain_text(line)), 16) % 5 == 0


def _split(lines: list[str]) -> tuple[list[str], list[str]]:
    """(training lines, held-out lines) of one intent's reviewed examples (see the module docstring)."""
    if len(lines) < HOLDOUT_MIN:
        return lines, []
    held = [line for line in lines if is_held_out(line)]
    train = [line for line in lines if not is_held_out(line)]
    return (train, held) if train else (lines, [])


def _read_lines(path: Path, intent: str) -> list[str]:
    if not path.exists():
        return []
    return [line for name, line in parse_examples(yaml.safe_load(path.read_text(encoding="utf-8"))) if name == intent]


def write_examples(intent: str, examples: Iterable[Example], root: Path = PROJECT_ROOT) -> Path:
    """Merge ``examples`` into ``data/nlu/reviewed/<intent>.yml`` (its held-out fifth into
    ``tests/nlu/reviewed_holdout/<intent>.yml``) and return the training file's path.

    :class:`TrainingError` codes: ``bad_intent_name``, ``bad_example``, ``personal_data`` (nothing written).
    """
    if not INTENT_NAME.fullmatch(intent or ""):
        raise TrainingError("bad_intent_name", "not a valid intent name", intent=intent)
    examples = list(examples)
    _refuse_personal_data(e.text for e in examples)
    new_lines = [render_example(e) for e in examples]
    path = root / REVIEWED_DIR / f"{intent}.yml"
    holdout = root / HOLDOUT_DIR / f"{intent}.yml"
    train, held = _split(_sorted_unique([*_read_lines(path, intent), *_read_lines(holdout, intent), *new_lines]))
    write_atomic(path, _nlu_document(intent, train))
    if held:
        write_atomic(holdout, _nlu_document(intent, held))
    else:
        holdout.unlink(missing_ok=True)
    return path


def _story_document(slug: str, turns: Sequence[StoryTurn]) -> str:
    lines = ['version: "3.1"', "", "stories:", f"  - story: reviewed {slug}", "    steps:"]
    for turn in turns:
        if turn.author == "citizen":
            if not turn.intent or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,100}", turn.intent):
                raise TrainingError("bad_intent_name", "a citizen turn needs its intent", intent=turn.intent)
            text = _one_line(turn.text)
            if not text:
                raise TrainingError("bad_example", "a citizen turn needs its text")
            lines += ["      - user: |", f"          {text}", f"        intent: {turn.intent}"]
        elif turn.author != "bot":
            raise TrainingError("bad_author", "a test story holds citizen and bot turns only", author=turn.author)
        for action in turn.actions:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,100}", action):
                raise TrainingError("bad_action", "not an action name", action=action)
            lines.append(f"      - action: {action}")
    return "\n".join(lines) + "\n"


def write_story(slug: str, turns: Sequence[StoryTurn], root: Path = PROJECT_ROOT) -> Path:
    """Write ``tests/stories/test_reviewed_<slug>.yml`` (one test story) and return its path; an existing file is
    replaced. :class:`TrainingError` codes: ``bad_slug``, ``bad_author``, ``bad_intent_name``, ``bad_action``,
    ``bad_example``, ``personal_data``, ``empty_story``."""
    if not _SLUG.fullmatch(slug or ""):
        raise TrainingError("bad_slug", "a slug is lower-case letters, digits, '-' and '_'", slug=slug)
    if not any(t.author == "citizen" for t in turns):
        raise TrainingError("empty_story", "a story needs at least one citizen turn")
    _refuse_personal_data(t.text for t in turns if t.author == "citizen")
    path = root / STORIES_DIR / f"test_reviewed_{slug}.yml"
    write_atomic(path, _story_document(slug, turns))
    return path


# -- new intents ---------------------------------------------------------------------------------


def _block(lines: list[str], key: str) -> tuple[int, int, str]:
    """(index of the ``key:`` line, index after its block's last non-blank line, the items' indentation)."""
    head = next((i for i, line in enumerate(lines) if re.fullmatch(rf"{key}:\s*", line.rstrip("\n"))), None)
    if head is None:
        raise TrainingError("domain_format", "domain.yml has no top-level section", section=key)
    end = head + 1
    indent = None
    for i in range(head + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not lines[i][0].isspace():
            break
        end = i + 1
        if indent is None:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    if indent is None:
        raise TrainingError("domain_format", "a domain section is empty or in flow style", section=key)
    return head, end, indent


def domain_intents(domain_text: str) -> list[str]:
    """The intent names of a domain file's text (``{name: {...}}`` entries included)."""
    intents = (yaml.safe_load(domain_text) or {}).get("intents") or []
    return [next(iter(i)) if isinstance(i, dict) else str(i) for i in intents]


def _domain_with(domain_text: str, intent: str, response_text: str) -> str:
    lines = domain_text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # Responses first: inserting there does not move the intents block, which comes before it.
    sections = {key: _block(lines, key) for key in ("intents", "responses")}
    if sections["responses"][0] < sections["intents"][0]:
        raise TrainingError("domain_format", "domain.yml lists responses before intents")
    _, end, indent = sections["responses"]
    step = indent + "  "
    lines[end:end] = [f"{indent}utter_{intent}:\n", f"{step}- text: {json.dumps(response_text, ensure_ascii=False)}\n"]
    _, end, indent = sections["intents"]
    lines[end:end] = [f"{indent}- {intent}\n" if lines[end - 1].lstrip().startswith("- ") else f"{indent}{intent}\n"]
    return "".join(lines)


def _rules_document(existing: str | None, intent: str) -> str:
    rules = (yaml.safe_load(existing) or {}).get("rules") or [] if existing else []
    names = {r.get("rule") for r in rules if isinstance(r, dict)}
    entry = {"rule": f"answer {intent}", "steps": [{"intent": intent}, {"action": f"utter_{intent}"}]}
    if entry["rule"] not in names:
        rules.append(entry)
    rules.sort(key=lambda r: str(r.get("rule")))
    out = [
        'version: "3.1"',
        "",
        "# Rules of intents added by the trainer loop (bot.training.writer.add_intent).",
        "rules:",
    ]
    for rule in rules:
        out.append(f"  - rule: {rule['rule']}")
        out.append("    steps:")
        for step in rule.get("steps") or []:
            ((kind, value),) = step.items()
            out.append(f"      - {kind}: {value}")
    return "\n".join(out) + "\n"


def add_intent(name: str, examples: Iterable[Example], response_text: str, root: Path = PROJECT_ROOT) -> list[Path]:
    """Add a new intent answered by a fixed sentence; return the files written.

    Writes ``data/nlu/reviewed/<name>.yml`` (and its held-out fifth, see :func:`write_examples`), the rule
    ``answer <name>`` (intent -> ``utter_<name>``) in ``data/reviewed_rules.yml``, and in ``domain.yml`` the
    intent and the response ``utter_<name>`` (lines inserted at the end of the ``intents:`` and ``responses:``
    sections; nothing else changes). Either every file is written or none is.

    The sentence also lands in the wording catalogue as ``trained.<name>`` (``bot/wording/citizen.vi.yml`` under
    ``root``, when that file exists), so ``tests/test_wording.py::test_domain_responses_repeat_the_catalogue``
    holds: :data:`bot.wording.DOMAIN_RESPONSES` maps ``utter_<name>`` to it when the module loads.

    :class:`TrainingError` codes: ``bad_intent_name``, ``intent_exists``, ``bad_response``, ``no_examples``,
    ``bad_example``, ``personal_data``, ``domain_format``, ``response_exists``, ``wording_format``.
    """
    if not INTENT_NAME.fullmatch(name or ""):
        raise TrainingError("bad_intent_name", "intent names match [a-z][a-z0-9_]{2,60}", intent=name)
    domain_path = root / "domain.yml"
    domain_text = domain_path.read_text(encoding="utf-8")
    domain = yaml.safe_load(domain_text) or {}
    if name in domain_intents(domain_text) or f"utter_{name}" in (domain.get("responses") or {}):
        raise TrainingError("intent_exists", "the domain already has this intent or response", intent=name)
    response_text = " ".join(nfc(response_text or "").split())
    if not response_text:
        raise TrainingError("bad_response", "the response is empty")
    examples = list(examples)
    if not examples:
        raise TrainingError("no_examples", "a new intent needs examples", intent=name)
    _refuse_personal_data([response_text, *(e.text for e in examples)])
    new_domain = _domain_with(domain_text, name, response_text)
    check = yaml.safe_load(new_domain) or {}
    expected = dict(domain)
    expected["intents"] = [*(domain.get("intents") or []), name]
    expected["responses"] = {**(domain.get("responses") or {}), f"utter_{name}": [{"text": response_text}]}
    if check != expected:
        raise TrainingError("domain_format", "inserting into domain.yml would change more than the new intent")
    rules_path = root / RULES_FILE
    rules_text = _rules_document(rules_path.read_text(encoding="utf-8") if rules_path.exists() else None, name)
    wording_path = root / WORDING_FILE
    wording_text = _wording_with(wording_path, name, response_text) if wording_path.exists() else None
    nlu_path = root / REVIEWED_DIR / f"{name}.yml"
    touched = (nlu_path, root / HOLDOUT_DIR / f"{name}.yml", rules_path, domain_path, wording_path)
    originals = {p: (p.read_bytes() if p.exists() else None) for p in touched}
    try:
        write_examples(name, examples, root)
        write_atomic(rules_path, rules_text)
        write_atomic(domain_path, new_domain)
        if wording_text is not None:
            write_atomic(wording_path, wording_text)
    except BaseException:
        for path, content in originals.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
        raise
    return [nlu_path, rules_path, domain_path, *([wording_path] if wording_text is not None else [])]


_TOP_KEY = re.compile(r"[a-z][a-z0-9_]*:")


def _wording_with(path: Path, name: str, sentence: str) -> str:
    """The wording file's text with ``trained.<name>: sentence`` appended to its ``trained:`` section (created at
    the end when absent); every other byte stays. :class:`TrainingError` ``response_exists`` when the file already
    holds this sentence (each sentence lives under one key), ``wording_format`` when the result would not read back."""
    text = path.read_text(encoding="utf-8")
    before = yaml.safe_load(text) or {}
    if sentence in _sentences(before):
        raise TrainingError("response_exists", "the wording catalogue already holds this sentence", intent=name)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entry = f"  {name}: {json.dumps(sentence, ensure_ascii=False)}\n"
    head = next((i for i, line in enumerate(lines) if line.rstrip() == "trained:"), None)
    if head is None:
        lines += [
            "\n",
            "# Answers of intents added by the trainer loop (bot.training.writer.add_intent); domain.yml repeats\n",
            "# each as utter_<intent> (bot.wording.DOMAIN_RESPONSES maps them when it loads).\n",
            "trained:\n",
            entry,
        ]
    else:
        end = head + 1
        for i in range(head + 1, len(lines)):
            if _TOP_KEY.match(lines[i]):
                break
            if lines[i].strip() and not lines[i].lstrip().startswith("#"):
                end = i + 1
        lines[end:end] = [entry]
    new_text = "".join(lines)
    after = yaml.safe_load(new_text) or {}
    if (after.get("trained") or {}).get(name) != sentence or {k: v for k, v in after.items() if k != "trained"} != {
        k: v for k, v in before.items() if k != "trained"
    }:
        raise TrainingError("wording_format", "appending to the wording file would change more than the new sentence")
    return new_text


def _sentences(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _sentences(value)]
    return [node] if isinstance(node, str) else []


def validate_command() -> list[str]:
    """argv of ``python -m bot model validate`` (``rasa data validate`` with the project's expected warnings);
    the caller runs it from the project root before training."""
    return [sys.executable, "-m", "bot", "model", "validate"]
