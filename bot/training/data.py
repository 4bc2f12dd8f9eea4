"""The training data as the trainer loop sees it: folded text keys and the examples of data/nlu.

:func:`text_key` is the one folding of the loop (NFC, lower case, spaces collapsed): the inbox
groups messages by it, reviews are stored by its hash (:func:`key_hash`), and the writer
de-duplicates examples with it. :class:`TrainingIndex` reads every ``data/nlu/**/*.yml`` file
(Rasa 3.1 NLU format, parsed with PyYAML, entity annotations stripped) and caches each file by its
modification time, so the inbox can ask "is this text already trained?" on every page.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.settings import PROJECT_ROOT
from bot.text import nfc, strip_diacritics

__all__ = [
    "INTENT_NAME",
    "NLU_DIR",
    "TrainingIndex",
    "key_hash",
    "parse_examples",
    "plain_text",
    "text_key",
]

NLU_DIR = Path("data") / "nlu"
# What a new intent may be called (the existing ones all match, except the EXTERNAL_ ones Rasa triggers).
INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{2,60}")

# "[mention](entity)", "[mention](entity:value)", "[mention]{"entity": ...}", "[mention][{...}, {...}]".
_ANNOTATION = re.compile(r"\[(?P<mention>[^\]]*)\](?:\((?P<short>[^)]*)\)|(?P<json>\{[^}]*\}|\[[^\]]*\]))")


def text_key(text: str) -> str:
    """The folded form that makes two messages "the same text": NFC, lower case, single spaces."""
    return " ".join(nfc(text or "").casefold().split())


def key_hash(text: str) -> str:
    """sha1 hex (40 characters) of :func:`text_key`: the key of ``training_reviews`` and ``training_flags``."""
    return hashlib.sha1(text_key(text).encode("utf-8")).hexdigest()


def plain_text(example: str) -> str:
    """An annotated example without its entity annotations: ``"[cccd](procedure) ở đâu"`` -> ``"cccd ở đâu"``."""
    return _ANNOTATION.sub(lambda m: m["mention"], example)


def parse_examples(document: object) -> list[tuple[str, str]]:
    """``(intent, annotated example)`` pairs of a parsed Rasa NLU file (other sections ignored).

    Raises :class:`ValueError` when ``nlu`` is present but not a list.
    """
    if not isinstance(document, dict) or document.get("nlu") is None:
        return []
    items = document["nlu"]
    if not isinstance(items, list):
        raise ValueError("'nlu' is not a list")
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        examples = item.get("examples") or ""
        lines = examples.splitlines() if isinstance(examples, str) else [str(e) for e in examples]
        for line in lines:
            line = line.strip()
            if line.startswith("- "):
                line = line[2:].strip()
            elif line == "-" or not line:
                continue
            if line:
                pairs.append((str(item["intent"]), line))
    return pairs


@dataclass(frozen=True)
class _FileEntry:
    mtime_ns: int
    size: int
    pairs: tuple[tuple[str, str], ...]


class TrainingIndex:
    """Every example of ``<root>/data/nlu/**/*.yml``, by :func:`text_key`; re-read per file when it changes.

    A message written without diacritics also counts as trained when it equals the diacritic-free
    form of an example, because the NLU importer (:mod:`bot.nlu.importer`) adds that form at
    training time. A file that does not parse is skipped (``errors`` names it) rather than
    failing the inbox.
    """

    def __init__(self, root: Path = PROJECT_ROOT) -> None:
        self.root = root
        self._files: dict[Path, _FileEntry] = {}
        self._lock = threading.Lock()
        self._state: tuple[tuple[tuple[str, int, int], ...], dict[str, set[str]], dict[str, set[str]]] | None = None
        self.errors: dict[str, str] = {}

    def _entry(self, path: Path) -> _FileEntry:
        stat = path.stat()
        cached = self._files.get(path)
        if cached is not None and cached.mtime_ns == stat.st_mtime_ns and cached.size == stat.st_size:
            return cached
        try:
            pairs = tuple(parse_examples(yaml.safe_load(path.read_text(encoding="utf-8"))))
            self.errors.pop(str(path), None)
        except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
            self.errors[str(path)] = type(exc).__name__
            pairs = ()
        entry = _FileEntry(stat.st_mtime_ns, stat.st_size, pairs)
        self._files[path] = entry
        return entry

    def _maps(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        with self._lock:
            folder = self.root / NLU_DIR
            paths = sorted(folder.rglob("*.yml")) if folder.is_dir() else []
            entries = {p: self._entry(p) for p in paths}
            for gone in set(self._files) - set(entries):
                del self._files[gone]
            signature = tuple((str(p), e.mtime_ns, e.size) for p, e in entries.items())
            if self._state is None or self._state[0] != signature:
                exact: dict[str, set[str]] = {}
                bare: dict[str, set[str]] = {}
                for entry in entries.values():
                    for intent, example in entry.pairs:
                        key = text_key(plain_text(example))
                        exact.setdefault(key, set()).add(intent)
                        bare.setdefault(strip_diacritics(key), set()).add(intent)
                self._state = (signature, exact, bare)
            return self._state[1], self._state[2]

    def intents_of(self, text: str) -> frozenset[str]:
        """The intents under which ``text`` (any annotation stripped) is already a training example."""
        exact, bare = self._maps()
        key = text_key(plain_text(text))
        found = set(exact.get(key, ()))
        if strip_diacritics(key) == key:
            found |= bare.get(key, set())
        return frozenset(found)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and bool(self.intents_of(text))

    def keys(self) -> frozenset[str]:
        """Every example's :func:`text_key`."""
        return frozenset(self._maps()[0])
