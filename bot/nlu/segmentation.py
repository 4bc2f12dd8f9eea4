"""Vietnamese word segmentation with true character offsets (no Rasa imports).

Citizens' messages arrive in NFC or NFD. We segment the NFC form and map every
token back to offsets in the text as received, so entity spans stay correct.
Codes (dossier codes, procedure codes, phone numbers) are kept whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache, partial
from itertools import chain
from typing import NamedTuple

from bot.text import fold, strip_diacritics

# Tokens that word segmenters would break apart: dossier codes
# (000.00.12.H61-240831-0001), procedure codes (1.004222), dates, decimals, e-mail.
#
# It runs on every chat message, so matching must stay linear in the message length.
# A token starts only where a run starts: an e-mail at the first of a run of [\w.+-]
# characters, a number at the first digit of a digit run (as in bot.dossiers.codes, a
# code glued to a longer number is not a code). The gate in front rejects every other
# position with two look-arounds before any alternative is tried; without it, each
# alternative rescanned its run from every position in it (20,000 "1"s took 16 s,
# 100,000 "a"s 83 s). The e-mail local part is bounded to 64 characters (RFC 5321).
PROTECTED_RE = re.compile(
    r"""
    (?<!\d)              # not inside a digit run
    (?!(?<=[\w.+-])\D)   # not inside a word: after [\w.+-] only a digit starts a token
    (?=[\w.+-])          # every alternative starts with one of these
    (?:
        \d{3}\s?\.?\s?\d{2}\s?\.?\s?\d{2}\s?\.?\s?[A-Za-z]\d{2}\s?-\s?\d{6}\s?-\s?\d{4}  # dossier code
      | \b\d\.\d{6}\b                                                           # procedure code
      | (?<![\w.+-])[\w.+-]{1,64}@[\w-]+\.[\w.]+                                  # e-mail
      | \d+(?:[./,:-]\d+)+                                                       # date, decimal, time
    )
    """,
    re.VERBOSE,
)
_DIGIT_RE = re.compile(r"\d")
_PUNCT_ONLY = re.compile(r"^[\W_]+$", re.UNICODE)


class Span(NamedTuple):
    """A token: its NFC text, its offsets in the text as received, and its lemma.

    A named tuple rather than a frozen dataclass: a long message makes tens of thousands
    of them, and a frozen dataclass costs several times more to build.
    """

    text: str
    start: int
    end: int
    lemma: str


# Span((text, start, end, lemma)) built in C, without the named tuple's Python-level __new__
# (what Span._make does, less its length check): segment() makes one per token.
_new_span = partial(tuple.__new__, Span)


def nfc_with_offsets(text: str) -> tuple[str, list[int]]:
    """Return the NFC form of ``text`` and, per NFC character, its offset in ``text``.

    The last entry maps the end of the NFC string to ``len(text)``.
    """
    if text.isascii() or (unicodedata.is_normalized("NFC", text) and not any(map(unicodedata.combining, text))):
        # Already NFC with no combining marks: every character is its own cluster. This is
        # what nearly every message looks like; the loop below costs about 1 µs a character.
        return text, list(range(len(text) + 1))
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


_SYLLABLE_RE = re.compile(r"\w+|[^\w\s]")
_WORD_RE = re.compile(r"\w+")


def _segment_syllables(text: str) -> list[str]:
    return _SYLLABLE_RE.findall(text)


def _is_unaccented(text: str) -> bool:
    return text.isascii() or strip_diacritics(text) == text


def _segment_auto(text: str) -> list[str]:
    """underthesea on accented text; syllables on text typed without diacritics.

    underthesea's model is trained on accented, mostly lower-case text. On "lam ho chieu
    mat bao lau" it invents words across the procedure's edge ("chieu mat"), and on
    capitals it splits at random, so the entity tagger can only return whole wrong
    tokens. Syllables keep every edge available; capitals are segmented lower-cased.
    """
    if _is_unaccented(text):
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


def _chunk_spans(segmenter: str, text: str, start: int, end: int) -> Iterable[tuple[int, int]]:
    """Spans (offsets in ``text``) of the words the segmenter cuts ``text[start:end]`` into."""
    chunk = text[start:end]
    if segmenter == "syllable" or (segmenter == "auto" and _is_unaccented(chunk)):
        # Syllables are the regex's own matches, so their spans need no search. Punctuation
        # syllables are left out: they are one character long, so no boundary splits them,
        # and segment() drops punctuation-only tokens anyway.
        return map(re.Match.span, _WORD_RE.finditer(text, start, end))
    return _locate(list(_cached_segment(segmenter, chunk)), chunk, start)


def _span_runs(segmenter: str, text: str) -> Iterator[Iterable[tuple[int, int]]]:
    """Token spans of ``text``, a run at a time: a protected token, or the text up to the next one."""
    cursor = 0
    # Every protected token has a digit, or an "@" and a dot; most messages have neither.
    maybe = _DIGIT_RE.search(text) or ("@" in text and "." in text)
    protected = PROTECTED_RE.finditer(text) if maybe else ()
    for match in protected:
        if text[cursor : match.start()].strip():
            yield _chunk_spans(segmenter, text, cursor, match.start())
        yield (match.span(),)
        cursor = match.end()
    if text[cursor:].strip():
        yield _chunk_spans(segmenter, text, cursor, len(text))


def _spans(segmenter: str, text: str) -> Iterator[tuple[int, int]]:
    """Token spans of ``text``: protected tokens whole, the text between them segmented.

    Lazy, and chained in C: a long message's spans are never all alive at once (each live
    tuple is work for the garbage collector), and no Python frame runs per syllable.
    """
    return chain.from_iterable(_span_runs(segmenter, text))


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


class _Lemmas(dict[str, "str | None"]):
    """Piece -> its lemma, or None for punctuation. Words repeat: each is folded once."""

    def __missing__(self, piece: str) -> str | None:
        if _PUNCT_ONLY.match(piece):
            lemma = None
        elif piece.isascii():
            # fold() strips diacritics character by character in Python; on ASCII that
            # (and NFC) is the identity, so only lower-casing and space-squeezing remain.
            lemma = " ".join(piece.lower().split())
        else:
            lemma = fold(piece)
        self[piece] = lemma
        return lemma


def segment(text: str, segmenter: str = "underthesea", boundaries: frozenset[int] = frozenset()) -> list[Span]:
    """Segment ``text`` into word tokens with offsets into ``text`` as given.

    ``boundaries`` are offsets (in ``text``) where a token must end or start: at
    training time, the entity annotations, so a segmenter's word never swallows
    an entity's edge ("khai sinh online" -> "khai sinh" | "online").
    """
    if segmenter not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {segmenter!r}; choose one of {sorted(SEGMENTERS)}")
    norm, offsets = nfc_with_offsets(text)
    spans: Iterable[tuple[int, int]] = _spans(segmenter, norm)
    if boundaries:
        back = {o: i for i, o in enumerate(offsets)}
        spans = _split_at(list(spans), {back[b] for b in boundaries if b in back}, norm)
    lemmas = _Lemmas()
    # The token's text is NFC (so "exact word" features match whatever the keyboard sent);
    # its offsets still point into the text as received, so entity values are cut from it.
    # Punctuation-only pieces (lemma None) are not tokens.
    return [
        _new_span((piece, offsets[start], offsets[end], lemma))
        for start, end in spans
        if (lemma := lemmas[(piece := norm[start:end])]) is not None
    ]
