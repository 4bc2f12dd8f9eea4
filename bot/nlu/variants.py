"""Training-time variants of NLU examples: without diacritics and with teencode (no Rasa imports).

Citizens often type without diacritics or in teencode. Rather than copy
such variants into data files by hand, the importer derives them here from
every example, moving entity offsets along with the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from bot.text import abbreviation_map, fold, strip_diacritics, teencode_map


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


# One-letter short forms that read as nothing else in a question ("k" không, "j" gì, "e" em,
# "r" rồi, "z"/"v" vậy); others ("a", "c", "t", "m", "b") mean too many things to generate.
_SAFE_ONE_LETTER = frozenset({"k", "j", "e", "r", "z", "v"})


def _ambiguous_forms() -> set[str]:
    """Folded short forms listed for more than one full word ("dk": được and đăng ký)."""
    owners: dict[str, set[str]] = {}
    for full, shorts in teencode_map().items():
        for s in shorts:
            owners.setdefault(fold(s), set()).add(full)
    return {s for s, fulls in owners.items() if len(fulls) > 1}


@lru_cache(maxsize=2)
def _short_forms(alternate: bool = False) -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the full form, one short form) pairs, longest phrase first.

    The primary choice is the first short form of two letters or more. The
    alternate choice is another common form people type for the same word
    ("k" rather than "ko", "j" rather than "ji", "e" for "em"), skipping forms
    that are ambiguous between two words, so the two teencode variants differ.
    """
    ambiguous = _ambiguous_forms()
    pairs: list[tuple[str, str]] = []
    for full, shorts in teencode_map().items():
        usable = [s for s in shorts if len(s) > 1 and " " not in s]
        primary = usable[0] if usable else None
        if alternate:
            candidates = [
                s
                for s in shorts
                if " " not in s
                and (len(s) > 1 or s in _SAFE_ONE_LETTER)
                and fold(s) != fold(primary or "")
                and fold(s) not in ambiguous
                and fold(s) != fold(full)
            ]
            choice = candidates[0] if candidates else primary
        else:
            choice = primary
        if choice:
            pairs.append((full, choice))
    for short, full in abbreviation_map().items():
        if len(full.split()) >= 2 and len(short) >= 3:
            pairs.append((full, short))
    pairs.sort(key=lambda p: -len(p[0]))
    return [(re.compile(rf"(?<!\w){re.escape(full)}(?!\w)", re.IGNORECASE), short) for full, short in pairs]


def with_teencode(example: Example, alternate: bool = False) -> Example:
    """Replace full words with the short forms people type ("không" -> "ko", "giấy phép lái xe" -> "gplx").

    ``alternate`` picks the other common short forms ("không" -> "k", "gì" -> "j").
    A replacement that would cut through an entity boundary is not made.
    """
    text = example.text
    entities = list(example.entities)
    for pattern, short in _short_forms(alternate):
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
    """The example's distinct derived variants (the original itself is not included).

    Without diacritics; with the primary teencode forms (diacritics kept); and
    without diacritics with the alternate forms, so both "ko" and "k" are seen
    while the number of variants per example stays at three.
    """
    teen = with_teencode(example)
    alt = without_diacritics(with_teencode(example, alternate=True))
    seen = {example.text}
    out: list[Example] = []
    for candidate in (without_diacritics(example), teen, alt):
        if candidate.text not in seen:
            seen.add(candidate.text)
            out.append(candidate)
    return out
