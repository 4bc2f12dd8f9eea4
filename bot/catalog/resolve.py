"""Which procedure a message is about: ranked candidates and a decision.

:func:`resolve` ranks the whole catalogue (:class:`bot.catalog.search.SearchIndex`: names,
aliases and the portal's service groups, case, result and document names) against the
citizen's message, after the question words and polite particles of
:mod:`bot.catalog.query` are dropped, and decides:

* :attr:`Decision.CLEAR`: one procedure: a code typed in the message, or a text match
  scoring at least :data:`CLEAR_SCORE` and :data:`CLEAR_MARGIN` above the next procedure;
* :attr:`Decision.CLOSE`: at most :data:`MAX_CHOICES` procedures to offer as buttons;
* :attr:`Decision.NONE`: nothing relevant (below :data:`RELEVANT_SCORE`): never a random procedure.

A long message whose whole text finds nothing relevant (the citizen's situation first, the question
last) is read again clause by clause (:func:`windows`); the best clause reaching :data:`CLEAR_SCORE`
on its own stands for the message, and the same decision rules apply.

The NLU's procedure entity, when there is one, is a strong signal: its own candidates rank
first, as they did before the whole message was read; candidates that both the entity and
the message find get :data:`AGREEMENT_BONUS`; candidates only the message finds count at
:data:`TEXT_ONLY_FACTOR` of their score. Thresholds were chosen on the question set of
``bench/resolve_bench.py`` (plain-named questions, not the NLU training data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from bot.catalog.query import CHAT_ONLY, CLAUSE_PARTICLES, GENERIC_WORDS, codes_in
from bot.catalog.search import AMBIGUITY_MARGIN, MIN_SCORE, Candidate, SearchIndex, analyse

__all__ = [
    "AGREEMENT_BONUS",
    "CLEAR_MARGIN",
    "CLEAR_SCORE",
    "CLOSE_WINDOW",
    "MAX_CHOICES",
    "RELEVANT_SCORE",
    "TEXT_ONLY_FACTOR",
    "WINDOW_MIN_TOKENS",
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

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    """The best candidate of each code (national and provincial variants of one code are one choice)."""
    seen: set[str] = set()
    out = []
    for c in candidates:
        if c.code not in seen:
            seen.add(c.code)
            out.append(c)
    return out


def _combine(entity: list[Candidate], message: list[Candidate]) -> list[Candidate]:
    text_scores = {(c.code, c.province): c.score for c in message}
    entity_keys = {(c.code, c.province) for c in entity}
    bonus = {key: AGREEMENT_BONUS for key in text_scores}
    merged = [
        Candidate(c.code, c.province, c.name, c.score + bonus.get((c.code, c.province), 0.0), c.matched) for c in entity
    ]
    merged += [
        Candidate(c.code, c.province, c.name, round(c.score * TEXT_ONLY_FACTOR, 2), c.matched)
        for c in message
        if (c.code, c.province) not in entity_keys
    ]
    merged.sort(key=lambda c: -c.score)
    return merged


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
    """The ranking of the whole message, or of the window whose best candidate scores highest."""
    best = index.find(text, limit=_POOL, province=province)
    top = best[0].score if best else 0.0
    if top >= RELEVANT_SCORE:
        return best
    # Only when the whole message finds nothing relevant; a clause must then reach CLEAR_SCORE alone.
    for part in windows(text):
        found = index.find(part, limit=_POOL, province=province)
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
    message = _find_best_window(index, text, province) if text.strip() else []
    if mention and mention.strip():
        entity = index.find(mention, limit=_POOL, province=province)
        ranked = _combine(entity, message) if entity else []
        floor = MIN_SCORE if entity else RELEVANT_SCORE
        clear_at = MIN_SCORE if entity else CLEAR_SCORE
    else:
        ranked, floor, clear_at = message, RELEVANT_SCORE, CLEAR_SCORE
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
