"""Vietnamese word segmentation with true character offsets (no Rasa imports).

Citizens' messages arrive in NFC or NFD. We segment the NFC form and map every
token back to offsets in the text as received, so entity spans stay correct.
Codes (dossier codes, procedure codes, phone numbers) are kept whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bot.text import fold, strip_diacritics

# Tokens that word segmenters would break apart: dossier codes
# (000.00.12.H61-240831-0001), procedure codes (1.004222), dates, decimals, e-mail.
PROTECTED_RE = re.compile(
    r"\d{3}\s?\.?\s?\d{2}\s?\.?\s?\d{2}\s?\.?\s?[A-Za-z]\d{2}\s?-\s?\d{6}\s?-\s?\d{4}"
    r"|\b\d\.\d{6}\b"
    r"|[\w.+-]+@[\w-]+\.[\w.]+"
    r"|\d+(?:[./,:-]\d+)+"
)
_PUNCT_ONLY = re.compile(r"^[\W_]+$", re.UNICODE)


@dataclass(frozen=True)
class Span:
    """A token: its NFC text, its offsets in the text as received, and its lemma."""

    text: str
    start: int
    end: int
    lemma: str


def nfc_with_offsets(text: str) -> tuple[str, list[int]]:
    """Return the NFC form of ``text`` and, per NFC character, its offset in ``text``.

    The last entry maps the end of the NFC string to ``len(text)``.
    """
    out: list[str] = []
    offsets: list[int] = []
    i = 0
    n = len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        composed = unicodedata.normalize("NFC", text[i:j])
        out.append(composed)
        offsets.extend([i] * len(composed))
        i = j
    offsets.append(n)
    return "".join(out), offsets


def _segment_underthesea(text: str) -> list[str]:
    from underthesea import word_tokenize

    return word_tokenize(text, use_token_normalize=False)


def _segment_pyvi(text: str) -> list[str]:
    from pyvi import ViTokenizer

    return [w.replace("_", " ") for w in ViTokenizer.tokenize(text).split()]


def _segment_syllables(text: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", text)


def _segment_auto(text: str) -> list[str]:
    """underthesea on accented text; syllables on text typed without diacritics.

    underthesea's model is trained on accented, mostly lower-case text. On "lam ho chieu
    mat bao lau" it invents words across the procedure's edge ("chieu mat"), and on
    capitals it splits at random, so the entity tagger can only return whole wrong
    tokens. Syllables keep every edge available; capitals are segmented lower-cased.
    """
    if strip_diacritics(text) == text:
        return _segment_syllables(text)
    lowered = text.lower()
    if lowered == text or len(lowered) != len(text):
        return _segment_underthesea(text)
    # Same length, so positions found in the lower-cased text cut the original.
    words: list[str] = []
    cursor = 0
    for word in _segment_underthesea(lowered):
        syllables = word.split()
        start = lowered.find(syllables[0], cursor) if syllables else -1
        if start < 0:
            continue
        end = start + len(syllables[0])
        for syl in syllables[1:]:
            nxt = lowered.find(syl, end)
            if nxt < 0:
                break
            end = nxt + len(syl)
        words.append(" ".join(text[start:end].split()))
        cursor = end
    return words


SEGMENTERS: dict[str, Callable[[str], list[str]]] = {
    "underthesea": _segment_underthesea,
    "pyvi": _segment_pyvi,
    "syllable": _segment_syllables,
    "auto": _segment_auto,
}


@lru_cache(maxsize=4096)
def _cached_segment(name: str, text: str) -> tuple[str, ...]:
    return tuple(SEGMENTERS[name](text))


def _locate(words: list[str], text: str, base: int) -> list[tuple[int, int]]:
    """Find each segmented word in ``text`` in order; words whose syllables cannot be found are dropped."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        syllables = word.split()
        if not syllables:
            continue
        first = text.find(syllables[0], cursor)
        if first < 0:
            continue
        end = first + len(syllables[0])
        ok = True
        for syl in syllables[1:]:
            nxt = text.find(syl, end)
            if nxt < 0 or text[end:nxt].strip():
                ok = False
                break
            end = nxt + len(syl)
        if not ok:
            end = first + len(syllables[0])
        spans.append((base + first, base + end))
        cursor = end
    return spans


def _split_at(spans: list[tuple[int, int]], cuts: set[int], text: str) -> list[tuple[int, int]]:
    """Split spans that straddle a cut point (an entity boundary), dropping the space at the cut."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        inner = sorted(c for c in cuts if start < c < end)
        for cut in [*inner, end]:
            piece_start, piece_end = start, cut
            while piece_start < piece_end and text[piece_start].isspace():
                piece_start += 1
            while piece_end > piece_start and text[piece_end - 1].isspace():
                piece_end -= 1
            if piece_start < piece_end:
                out.append((piece_start, piece_end))
            start = cut
    return out


def segment(text: str, segmenter: str = "underthesea", boundaries: frozenset[int] = frozenset()) -> list[Span]:
    """Segment ``text`` into word tokens with offsets into ``text`` as given.

    ``boundaries`` are offsets (in ``text``) where a token must end or start: at
    training time, the entity annotations, so a segmenter's word never swallows
    an entity's edge ("khai sinh online" -> "khai sinh" | "online").
    """
    if segmenter not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {segmenter!r}; choose one of {sorted(SEGMENTERS)}")
    norm, offsets = nfc_with_offsets(text)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in PROTECTED_RE.finditer(norm):
        chunk = norm[cursor : match.start()]
        spans.extend(_locate(list(_cached_segment(segmenter, chunk)), chunk, cursor) if chunk.strip() else [])
        spans.append((match.start(), match.end()))
        cursor = match.end()
    tail = norm[cursor:]
    if tail.strip():
        spans.extend(_locate(list(_cached_segment(segmenter, tail)), tail, cursor))
    if boundaries:
        back = {o: i for i, o in enumerate(offsets)}
        spans = _split_at(spans, {back[b] for b in boundaries if b in back}, norm)
    tokens: list[Span] = []
    for start, end in spans:
        piece = norm[start:end]
        if _PUNCT_ONLY.match(piece):
            continue
        o_start, o_end = offsets[start], offsets[end]
        # The token's text is NFC (so "exact word" features match whatever the keyboard sent);
        # its offsets still point into the text as received, so entity values are cut from it.
        tokens.append(Span(text=piece, start=o_start, end=o_end, lemma=fold(piece)))
    return tokens
