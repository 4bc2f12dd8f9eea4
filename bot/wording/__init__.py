"""The wording catalogue: every sentence a citizen reads, once, by key (no Rasa imports).

Sentences live in ``bot/wording/citizen.vi.yml`` as nested YAML; a key is the dotted path to a
sentence (``"dossier.ask_phone_digits"``). Placeholders are named (``{code}``)::

    text("dossier.not_found", code="000.00.12.H61-240831-0001")

Write keys as literal strings at the call site: ``tests/test_wording.py`` finds unused and
missing keys, and placeholders the sentence does not have, by scanning the code for them.

Each audience has its own file, loaded by namespace: ``citizen`` (``citizen.vi.yml``), its English
counterpart ``citizen_en`` (``citizen.en.yml``, read by :mod:`bot.english`), and ``staff``
(``staff.vi.yml``, the help-desk console's pages, read with ``catalogue("staff").text(...)``).
Canned replies that staff send to citizens are citizen sentences (``staff.canned.*`` in
``citizen.vi.yml``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_NAMESPACE",
    "DOMAIN_RESPONSES",
    "FILES",
    "WORDING_DIR",
    "PlaceholderMismatch",
    "UnknownWordingKey",
    "Wording",
    "WordingFileError",
    "catalogue",
    "text",
    "trained_responses",
]

# The data files sit next to this module, in the package directory.
WORDING_DIR = Path(__file__).parent
# Namespace -> file in WORDING_DIR (citizen_en: answers to questions written in English, bot.english;
# staff: the help-desk console, read by bot.console.labels.t and the console's templates).
FILES: dict[str, str] = {"citizen": "citizen.vi.yml", "citizen_en": "citizen.en.yml", "staff": "staff.vi.yml"}
DEFAULT_NAMESPACE = "citizen"

# domain.yml responses (sent by Rasa itself) -> the catalogue key whose sentence each must repeat verbatim;
# tests/test_wording.py checks it, so the two never drift. The responses of intents a trainer added are
# added when this module loads (trained_responses: the ``trained:`` section of citizen.vi.yml).
DOMAIN_RESPONSES: dict[str, str] = {
    "utter_greet": "chat.greet",
    "utter_ask_callback_phone": "dialogue.callback_ask",
    "utter_thank": "chat.thank",
    "utter_iamabot": "chat.iamabot",
    "utter_out_of_scope": "chat.out_of_scope",
    "utter_anything_else": "chat.anything_else",
    "utter_ask_dossier_code": "dossier.ask_code",
    "utter_ask_phone_last4": "dossier.ask_phone_digits",
    "utter_dossier_cancelled": "dossier.cancelled",
}


def trained_responses(path: Path) -> dict[str, str]:
    """``utter_<intent>`` -> ``trained.<intent>`` for every key of the ``trained:`` section of the wording file
    ``path`` (responses of intents added by the trainer loop); empty when there is none or the file is unreadable
    (:func:`catalogue` reports a broken file)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    trained = document.get("trained") if isinstance(document, dict) else None
    return {f"utter_{name}": f"trained.{name}" for name in trained} if isinstance(trained, dict) else {}


_KEY_PART = re.compile(r"[a-z][a-z0-9_]*")
DOMAIN_RESPONSES.update(trained_responses(WORDING_DIR / FILES[DEFAULT_NAMESPACE]))


class UnknownWordingKey(KeyError):
    """No sentence under ``key`` in the namespace's file."""

    def __init__(self, key: str, source: Path) -> None:
        super().__init__(key)
        self.key = key
        self.source = source

    def __str__(self) -> str:
        return f"no sentence for wording key {self.key!r} in {self.source}"


class PlaceholderMismatch(KeyError):
    """The values given do not match the sentence's placeholders (one missing, or one it does not have)."""

    def __init__(self, key: str, missing: set[str], unexpected: set[str]) -> None:
        super().__init__(key)
        self.key = key
        self.missing = frozenset(missing)
        self.unexpected = frozenset(unexpected)

    def __str__(self) -> str:
        problems = []
        if self.missing:
            problems.append(f"missing value for {', '.join(sorted(self.missing))}")
        if self.unexpected:
            problems.append(f"no placeholder for {', '.join(sorted(self.unexpected))}")
        return f"wording key {self.key!r}: {'; '.join(problems)}"


class WordingFileError(ValueError):
    """A wording file is malformed: the message names the file and the key."""


def placeholders_of(sentence: str) -> frozenset[str]:
    """The named placeholders of ``sentence`` (``"{code} ở {place}"`` -> ``{"code", "place"}``)."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(sentence) if name is not None)


@dataclass(frozen=True)
class Wording:
    """One namespace's sentences: ``sentences`` maps dotted keys to sentences."""

    namespace: str
    source: Path
    sentences: Mapping[str, str]

    def text(self, key: str, **values: Any) -> str:
        """The sentence under ``key`` with ``values`` filled in.

        Raises :class:`UnknownWordingKey` for an unknown key and :class:`PlaceholderMismatch`
        when ``values`` do not name exactly the sentence's placeholders.
        """
        try:
            sentence = self.sentences[key]
        except KeyError:
            raise UnknownWordingKey(key, self.source) from None
        expected = placeholders_of(sentence)
        if expected != values.keys():
            raise PlaceholderMismatch(key, set(expected - values.keys()), set(values.keys() - expected))
        return sentence.format(**values)

    def placeholders(self, key: str) -> frozenset[str]:
        """The placeholders of the sentence under ``key`` (:class:`UnknownWordingKey` if there is none)."""
        if key not in self.sentences:
            raise UnknownWordingKey(key, self.source)
        return placeholders_of(self.sentences[key])


def _flatten(node: Any, prefix: str, out: dict[str, str], source: Path) -> None:
    if not isinstance(node, Mapping):
        raise WordingFileError(f"{source}: {prefix or 'the top level'} must be a mapping of keys to sentences")
    for part, value in node.items():
        if not isinstance(part, str) or not _KEY_PART.fullmatch(part):
            raise WordingFileError(f"{source}: key {part!r} under {prefix or 'the top level'} is not snake_case")
        key = f"{prefix}.{part}" if prefix else part
        if isinstance(value, Mapping):
            _flatten(value, key, out, source)
        elif isinstance(value, str) and value.strip():
            try:
                placeholders_of(value)
            except ValueError as exc:
                raise WordingFileError(f"{source}: sentence {key!r} has a malformed placeholder: {exc}") from None
            out[key] = value
        else:
            raise WordingFileError(f"{source}: {key!r} must be a non-empty sentence or a section, got {value!r}")


def load(path: Path, namespace: str = DEFAULT_NAMESPACE) -> Wording:
    """Read one wording file; :class:`WordingFileError` names the file and key of anything malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise WordingFileError(f"{path}: not valid YAML: {exc}") from None
    sentences: dict[str, str] = {}
    _flatten(data or {}, "", sentences, path)
    return Wording(namespace, path, sentences)


@cache
def catalogue(namespace: str = DEFAULT_NAMESPACE) -> Wording:
    """The sentences of ``namespace`` (read once per process); ValueError for an unknown namespace."""
    if namespace not in FILES:
        raise ValueError(f"unknown wording namespace {namespace!r}; known: {', '.join(sorted(FILES))}")
    return load(WORDING_DIR / FILES[namespace], namespace)


def text(key: str, **values: Any) -> str:
    """The citizen-facing sentence under ``key`` with ``values`` filled in (see :meth:`Wording.text`)."""
    return catalogue().text(key, **values)
