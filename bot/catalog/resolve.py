"""Which procedure a message is about: ranked candidates and a decision.

:func:`resolve` ranks the whole catalogue (:class:`bot.catalog.search.SearchIndex`: names,
aliases and the portal's service groups, case, result and document names) against the
citizen's message, after the question words and polite particles of
:mod:`bot.catalog.query` are dropped, and decides:

* :attr:`Decision.CLEAR`: one procedure: a code typed in the message, or a text match
  scoring at least :data:`CLEAR_SCORE` and :data:`CLEAR_MARGIN` above the next procedure;
* :attr:`Decision.CLOSE`: at most :data:`MAX_CHOICES` procedures to offer as buttons;
* :attr:`Decision.NONE`: nothing relevant (below :data:`RELEVANT_SCORE`): never a random procedure.

A long message (the citizen's situation first, the question last) is also read clause by clause
(:func:`windows`); a clause reaching :data:`CLEAR_SCORE` on its own and scoring above the whole
message stands for it, and the same decision rules apply.

Words typed with marks that match only once the marks are dropped ("đặt" for "đất") take their
share off a match (:func:`_check_marks`), and the citizen's situation chooses among variants of
one procedure (:func:`_favour_variants`: a loss, an age, an extension, "toàn trình").

The NLU's procedure entity, when the NLU mapped it to a catalogue name, is a strong signal: a
candidate both it and the message find scores the better of the two plus :data:`AGREEMENT_BONUS`,
one only the message finds counts at :data:`TEXT_ONLY_FACTOR`. An entity that is a span as typed
only confirms the message's own candidates. Thresholds were chosen on the question set of
``bench/resolve_bench.py`` and tuned with ``tests/eval/realistic_questions.yml`` (so that set's
figure is optimistic; ``tests/eval/fresh_questions.yml`` was written afterwards, untuned).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from bot.catalog.query import CHAT_ONLY, CLAUSE_PARTICLES, GENERIC_WORDS, VARIANT_MARKERS, codes_in, variant_words
from bot.catalog.search import AMBIGUITY_MARGIN, MIN_SCORE, Candidate, SearchIndex, analyse
from bot.text import expand, fold, nfc, words

__all__ = [
    "AGREEMENT_BONUS",
    "CLEAR_MARGIN",
    "CLEAR_SCORE",
    "CLOSE_WINDOW",
    "MAX_CHOICES",
    "RELEVANT_SCORE",
    "TEXT_ONLY_FACTOR",
    "UNSAID_PENALTY",
    "VARIANT_BONUS",
    "VARIANT_WINDOW",
    "WINDOW_MIN_TOKENS",
    "WINDOW_SKIP_SCORE",
    "Decision",
    "Resolution",
    "resolve",
    "topic_words",
    "windows",
]

#: A free-text match (no NLU entity) below this is not about a procedure: near-topic chat
#: ("bạn tên gì" -> "đổi tên") reaches the high 40s on the full catalogue.
RELEVANT_SCORE = 50.0
#: A free-text winner needs at least this score ...
CLEAR_SCORE = 60.0
#: ... and this lead over the next different procedure.
CLEAR_MARGIN = AMBIGUITY_MARGIN
#: Close candidates: those within this many points of the best.
CLOSE_WINDOW = 12.0
#: Buttons offered at most.
MAX_CHOICES = 4
#: Points for a candidate that both the NLU entity and the whole message find.
AGREEMENT_BONUS = 3.0
#: With an NLU entity, a candidate that only the whole message finds counts at this share of its score.
TEXT_ONLY_FACTOR = 0.9

#: How far above the old best the variant the situation names is lifted (a loss -> "cấp lại", an age) ...
VARIANT_BONUS = CLEAR_MARGIN
#: ... when it is within this many points of the best.
VARIANT_WINDOW = 40.0
#: Points off a variant (a re-issue, an extension …) that the message does not ask for.
UNSAID_PENALTY = 4.0

#: A whole message scoring this much is not read clause by clause (a clause would rarely do better).
WINDOW_SKIP_SCORE = 85.0
#: A message with more search tokens than this is also read clause by clause (see :func:`windows`).
WINDOW_MIN_TOKENS = 6
# A clause needs at least this many search tokens to be read alone.
_WINDOW_MIN_WORDS = 2
# Clause boundaries: punctuation and the linking particles (as typed with their marks).
_CLAUSE_RE = re.compile(r"[.?!,;:\n()]+|\s(?:" + "|".join(CLAUSE_PARTICLES) + r")\s", re.IGNORECASE)

_CODE_SCORE = 100.0
_POOL = 12  # candidates read from the index before deciding


class Decision(str, Enum):
    CLEAR = "clear"
    CLOSE = "close"
    NONE = "none"


@dataclass(frozen=True)
class Resolution:
    """The decision and the candidates behind it, best first (CLOSE: the choices to offer)."""

    decision: Decision
    candidates: tuple[Candidate, ...] = ()
    by_code: bool = False  # True when a code typed in the message decided
    unknown_code: str | None = None  # a code typed in the message that the catalogue does not hold

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@lru_cache(maxsize=8192)
def _folded(name: str) -> str:
    """A catalogue name's folded words, space-separated (names repeat from one message to the next)."""
    return " ".join(words(name))


@lru_cache(maxsize=8192)
def _expanded_words(name: str) -> frozenset[str]:
    """A catalogue name's words with abbreviations written out ("BHYT" -> "bao hiem y te")."""
    return frozenset(expand(name).split())


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    """The best candidate of each procedure, as a citizen tells them apart: national and provincial
    variants of one code are one choice, and so are two codes under the same name (the portal lists
    some procedures once per level); the first, best ranked, stands for them.
    """
    seen: set[str] = set()
    out = []
    for c in candidates:
        keys = {c.code, _folded(c.name)}
        if not keys & seen:
            out.append(c)
        seen |= keys
    return out


def _combine(entity: list[Candidate], message: list[Candidate]) -> list[Candidate]:
    """One ranking from the entity's candidates and the whole message's.

    A candidate both find scores the better of its two scores plus :data:`AGREEMENT_BONUS`; one
    only the entity finds keeps its score; one only the message finds counts at
    :data:`TEXT_ONLY_FACTOR`. The message's words thus still count for a candidate the entity names
    weakly ("xe lần đầu" for the fully online registration the message asks for).
    """
    text_scores = {(c.code, c.province): c.score for c in message}
    entity_keys = {(c.code, c.province) for c in entity}
    merged = []
    for c in entity:
        text_score = text_scores.get((c.code, c.province))
        score = c.score if text_score is None else max(c.score, text_score) + AGREEMENT_BONUS
        merged.append(Candidate(c.code, c.province, c.name, round(score, 2), c.matched))
    merged += [
        Candidate(c.code, c.province, c.name, round(c.score * TEXT_ONLY_FACTOR, 2), c.matched)
        for c in message
        if (c.code, c.province) not in entity_keys
    ]
    merged.sort(key=lambda c: -c.score)
    return merged


def _typed_words(text: str) -> tuple[dict[str, set[str]], set[str]]:
    """The words typed with marks (folded -> as typed, lower case NFC) and those typed without any."""
    marked: dict[str, set[str]] = {}
    plain: set[str] = set()
    for word in re.findall(r"\w+", nfc(text).lower()):
        folded = fold(word)
        if folded != word:
            marked.setdefault(folded, set()).add(word)
        else:
            plain.add(word)
    return marked, plain


def _rescored(ranked: list[Candidate], delta: Callable[[Candidate], float]) -> list[Candidate]:
    """``ranked`` with ``delta(candidate)`` points added to each score, best first (stable on ties)."""
    out = []
    for c in ranked:
        points = delta(c)
        out.append(Candidate(c.code, c.province, c.name, round(c.score + points, 2), c.matched) if points else c)
    out.sort(key=lambda c: -c.score)
    return out


def _check_marks(ranked: list[Candidate], text: str) -> list[Candidate]:
    """Take off the share of a match made of words whose marks differ from the typed word's.

    "Đặt lịch" matching the alias "cho con đất" loses a third of its score: only two of its three
    words were typed; "là" is not the "La" of "La Hay". Only for a message typed with marks (a
    message without any is read folded).
    """
    marked, plain = _typed_words(text)
    if not marked:
        return ranked

    def other_word(word: str) -> bool:
        folded = fold(word)
        return folded in marked and word not in marked[folded] and not (word == folded and word in plain)

    def penalty(c: Candidate) -> float:
        matched = re.findall(r"\w+", nfc(c.matched).lower())
        wrong = sum(other_word(w) for w in matched)
        return -c.score * wrong / len(matched) if matched else 0.0

    return _rescored(ranked, penalty)


def _unsaid_markers(c: Candidate, hints: list[str], said: str) -> bool:
    """True when ``c``'s name makes it a variant (:data:`~bot.catalog.query.VARIANT_MARKERS`) not asked for."""
    name = f" {_folded(c.name)} "
    return any(f" {m} " in name and m not in hints and f" {m} " not in said for m in VARIANT_MARKERS)


def _favour_variants(ranked: list[Candidate], hints: list[str], said: str = "") -> list[Candidate]:
    """Move the variant the situation names above its family (see :func:`~bot.catalog.query.variant_words`).

    ``said`` is the message as :func:`bot.text.expand` gives it, padded with spaces. First, a variant
    the message does not ask for (its name holds a :data:`~bot.catalog.query.VARIANT_MARKERS` word the
    message does not say) loses :data:`UNSAID_PENALTY`: "làm tạm trú" is the registration. Then the
    family is every relevant candidate within :data:`VARIANT_WINDOW` points of the best. When some of them
    hold more of the hints in their names than the best does ("mất" -> "Cấp lại …", "8 tuổi" -> "… dưới
    14 tuổi"), those are lifted so that the first of them leads the old best by :data:`VARIANT_BONUS`;
    their order among themselves is kept. A generic alias ("tạm trú") then no longer hides the variant
    the message asks for ("tạm trú sắp hết hạn, xin gia hạn").
    """
    if not ranked:
        return ranked
    ranked = _rescored(ranked, lambda c: -UNSAID_PENALTY if _unsaid_markers(c, hints, said) else 0.0)
    if not hints:
        return ranked

    def held(c: Candidate) -> int:
        # The name, or the alias or case name that matched ("làm căn cước lần đầu").
        named = f" {_folded(c.name)} | {_folded(c.matched)} "
        return sum(f" {h} " in named for h in hints)

    top = ranked[0].score
    # The family: candidates near the best that are relevant on their own (a weak pool is no family).
    family = [c for c in ranked if top - c.score <= VARIANT_WINDOW and c.score >= RELEVANT_SCORE]
    if not family:
        return ranked
    most = max(held(c) for c in family)
    if most == 0:
        return ranked
    if held(ranked[0]) == most:
        # The best is the variant named; each hint it holds widens its lead over those without.
        return _rescored(ranked, lambda c: VARIANT_BONUS * held(c))
    # Only a variant of the same thing is lifted: it shares a word of the message with the best
    # ("tạm trú" for an extension of "Đăng ký tạm trú"), so "cho bé 5 tuổi" does not turn a passport
    # question into the under-14 identity card.
    asked = set(said.split()) - GENERIC_WORDS
    same = _expanded_words(ranked[0].name) & asked
    lifted = [c for c in family if held(c) == most and _expanded_words(c.name) & same]
    if not lifted:
        return ranked
    lift = top - lifted[0].score + VARIANT_BONUS
    return _rescored(ranked, lambda c: lift if c in lifted else 0.0)


def windows(text: str) -> list[str]:
    """The clauses of a long message, which may name the procedure on their own.

    Citizens tell their situation before the question ("Công ty tôi có 15 lao động, vừa ban hành nội
    quy. Đăng ký nội quy lao động cần hồ sơ gì?"): the whole message then matches the procedure name
    poorly. Its clauses (split at punctuation and at "thì", "mà") are read on their own; clauses
    with fewer than :data:`_WINDOW_MIN_WORDS` search tokens are skipped (too little evidence). Empty
    for a message of at most :data:`WINDOW_MIN_TOKENS` tokens or of one clause.

    Word n-grams were tried too and rejected: on a bag-of-words ranking they cross word boundaries
    ("bảo hiểm | y tế của con", "đăng ký | cho mèo") and drop the words that choose a variant.
    """
    if len(analyse(text)) <= WINDOW_MIN_TOKENS:
        return []
    clauses = [c.strip() for c in _CLAUSE_RE.split(text) if c and c.strip()]
    if len(clauses) < 2:
        return []
    return list(dict.fromkeys(c for c in clauses if len(analyse(c)) >= _WINDOW_MIN_WORDS))


def _find_best_window(index: SearchIndex, text: str, province: str | None) -> list[Candidate]:
    """The ranking of the whole message, or of the clause whose best candidate scores higher.

    A clause must reach :data:`CLEAR_SCORE` on its own: the question ("… Hồ sơ hưởng chế độ thai sản
    gồm những gì?") then outweighs a situation that names another document ("công ty có đóng bảo
    hiểm xã hội").
    """
    best = _check_marks(index.find(text, limit=_POOL, province=province), text)
    top = best[0].score if best else 0.0
    if top >= WINDOW_SKIP_SCORE:
        return best  # the whole message already names a procedure this well
    for part in windows(text):
        found = _check_marks(index.find(part, limit=_POOL, province=province), part)
        if found and found[0].score >= CLEAR_SCORE and found[0].score > top:
            best, top = found, found[0].score
    return best


def resolve(
    index: SearchIndex, text: str | None, *, mention: str | None = None, province: str | None = None
) -> Resolution:
    """Rank the catalogue for a message (and the NLU's procedure ``mention``, if any) and decide."""
    text = text or ""
    typed = codes_in(text) or codes_in(mention or "")
    if typed:
        hits = [c for c in index.find(" ".join(typed), limit=_POOL, province=province) if c.score >= _CODE_SCORE]
        choices = _distinct(hits)
        if len(choices) == 1:
            return Resolution(Decision.CLEAR, tuple(hits), by_code=True)
        if choices:
            return Resolution(Decision.CLOSE, tuple(choices[:MAX_CHOICES]), by_code=True)
        # A code the catalogue does not hold names no procedure we know: say so, never rank the rest.
        return Resolution(Decision.NONE, unknown_code=f"{typed[0][0]}.{typed[0][1:]}")
    hints = variant_words(expand(text))
    message = _find_best_window(index, text, province) if text.strip() else []
    if mention and mention.strip():
        entity = index.find(mention, limit=_POOL, province=province)
        if entity and message and fold(mention) in fold(text):
            # The entity is a span of the message as typed (no synonym named a procedure for it): the
            # whole message already holds its words, so it only confirms the message's own candidates.
            confirmed = {(c.code, c.province) for c in entity}
            ranked = _rescored(message, lambda c: AGREEMENT_BONUS if (c.code, c.province) in confirmed else 0.0)
        else:
            # An entity the catalogue does not know ("kinh doanh vĩnh viễn") leaves the message to decide.
            ranked = _combine(entity, message) if entity else message
        floor = MIN_SCORE if entity else RELEVANT_SCORE
        clear_at = MIN_SCORE if entity else CLEAR_SCORE
    else:
        ranked, floor, clear_at = message, RELEVANT_SCORE, CLEAR_SCORE
    # The situation's words (a loss, an age) and the typed marks move candidates before deciding.
    ranked = _favour_variants(ranked, hints, f" {expand(text)} ")
    ranked = [c for c in ranked if c.score >= floor]
    if not ranked:
        return Resolution(Decision.NONE)
    choices = _distinct(ranked)
    best = choices[0]
    runner_up = choices[1].score if len(choices) > 1 else None
    if best.score >= clear_at and (runner_up is None or best.score - runner_up >= CLEAR_MARGIN):
        return Resolution(Decision.CLEAR, tuple(c for c in ranked if c.code == best.code) + tuple(choices[1:]))
    close = [c for c in choices if best.score - c.score <= CLOSE_WINDOW]
    return Resolution(Decision.CLOSE, tuple(close[:MAX_CHOICES]))


def topic_words(text: str | None) -> list[str]:
    """The words of a message that could name a procedure (folded), without question words, particles and
    :data:`~bot.catalog.query.GENERIC_WORDS`.

    Empty for a bare question ("cần giấy tờ gì", "còn lệ phí thì sao") or chat ("vâng ạ"); a message
    with topic words that :func:`resolve` finds nothing for is about something the catalogue does not hold.
    """
    tokens = analyse(text or "")
    if " ".join(tokens) in CHAT_ONLY:
        return []
    return [t for t in tokens if t not in GENERIC_WORDS and not t.isdecimal()]
