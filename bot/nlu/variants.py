"""Training-time variants of NLU examples: without diacritics and with teencode (no Rasa imports).

Citizens often type without diacritics or in teencode. Rather than copy
such variants into data files by hand, the importer derives them here from
every example, moving entity offsets along with the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.text import abbreviation_map, strip_diacritics, teencode_map


@dataclass(frozen=True)
class Entity:
    """An entity annotation: ``text[start:end]`` is its value."""

    start: int
    end: int
    entity: str
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Example:
    """An utterance with its entity annotations."""

    text: str
    entities: tuple[Entity, ...] = ()


def without_diacritics(example: Example) -> Example:
    """Strip diacritics; every Vietnamese NFC letter maps to one letter, so offsets do not move."""
    stripped = strip_diacritics(example.text)
    if len(stripped) != len(example.text):  # NFD or exotic input: leave it alone rather than corrupt spans
        return example
    return Example(stripped, example.entities)


@lru_cache(maxsize=1)
def _short_forms() -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the full form, one short form) pairs, longest phrase first.

    Takes the first short form that keeps diacritics or is unambiguous; one-letter
    forms are skipped for words where they would read as another word.
    """
    pairs: list[tuple[str, str]] = []
    for full, shorts in teencode_map().items():
        usable = [s for s in shorts if len(s) > 1 and " " not in s]
        if usable:
            pairs.append((full, usable[0]))
    for short, full in abbreviation_map().items():
        if len(full.split()) >= 2 and len(short) >= 3:
            pairs.append((full, short))
    pairs.sort(key=lambda p: -len(p[0]))
    return [(re.compile(rf"(?<!\w){re.escape(full)}(?!\w)", re.IGNORECASE), short) for full, short in pairs]


def with_teencode(example: Example) -> Example:
    """Replace full words with the short forms people type ("không" -> "ko", "giấy phép lái xe" -> "gplx").

    A replacement that would cut through an entity boundary is not made.
    """
    text = example.text
    entities = list(example.entities)
    for pattern, short in _short_forms():
        pos = 0
        while True:
            m = pattern.search(text, pos)
            if not m:
                break
            start, end = m.span()
            if any(start < e.end and end > e.start and not (e.start <= start and end <= e.end) for e in entities):
                pos = end
                continue
            delta = len(short) - (end - start)
            text = text[:start] + short + text[end:]
            moved = []
            for e in entities:
                if e.start >= end:
                    moved.append(Entity(e.start + delta, e.end + delta, e.entity, e.extra))
                elif e.start <= start and end <= e.end:
                    moved.append(Entity(e.start, e.end + delta, e.entity, e.extra))
                else:
                    moved.append(e)
            entities = moved
            pos = start + len(short)
    return Example(text, tuple(entities))


def variants(example: Example) -> list[Example]:
    """The example's distinct derived variants (the original itself is not included)."""
    teen = with_teencode(example)
    seen = {example.text}
    out: list[Example] = []
    for candidate in (without_diacritics(example), teen, without_diacritics(teen)):
        if candidate.text not in seen:
            seen.add(candidate.text)
            out.append(candidate)
    return out
