"""Find administrative procedures from what a citizen types.

Citizens name a procedure loosely: "lam cccd", "đk tạm trú", "gplx hết hạn",
"sang tên sổ đỏ", or a whole question ("cho em hỏi làm giấy khai sinh cho con
cần gì ạ"). :class:`SearchIndex` ranks catalogue entries (name + aliases)
against such text. It is pure Python + numpy + rapidfuzz: no Rasa, no database.

How a query is scored
---------------------
1. A procedure code in the text ("1.004222", "1004222") short-circuits: the
   entries with that code come first with score 100.
2. The text is folded (case, diacritics, NFC/NFD) and teencode/abbreviations
   are expanded (:func:`bot.text.expand`); a few citizen phrasings are mapped to
   the portal's wording ("sổ đỏ" -> "giấy chứng nhận quyền sử dụng đất"), and
   conversational filler ("cho em hỏi", "cần gì", "ạ", "thủ tục", "làm") is dropped.
   Names and aliases go through the same pipeline at build time.
3. Every remaining word is weighted by its rarity in the catalogue (IDF over
   entries), so words that appear in half the catalogue ("cấp", "thủ tục",
   "giấy") count little and distinctive ones ("khai sinh", "tạm trú") a lot.
   Misspelt words are mapped to the closest catalogue word with rapidfuzz; words
   unknown to the catalogue keep a fixed weight, so an off-topic question
   ("mua vé máy bay") cannot be fully explained by any entry.
4. A token inverted index gives each name/alias the weight of the query words it
   contains; ``recall`` (share of the query explained) and ``precision`` (share of
   the name covered) combine into a word score. The best few hundred names are
   re-scored with rapidfuzz's ``token_sort_ratio`` (character-level, order-free)
   and the two are blended.

What scores mean
----------------
* ``100``: the text contains the procedure's code. Nothing else scores 100.
* ``90–99``: the query is a name or alias of the entry, in any case, accents,
  NFC/NFD, word order or teencode (exact: 96 for a portal row, 99 curated).
* ``65–90``: every distinctive word of the query is in the name or alias, which
  says more ("cấp hộ chiếu phổ thông" against "Cấp hộ chiếu phổ thông ở trong
  nước (thực hiện tại cấp tỉnh)"), or a small typo.
* ``MIN_SCORE``–65: a partial match, typically a two-word mention against a long
  portal name ("hộ chiếu" -> 51 without a curated alias); offer it as a question
  ("Dạ, có phải anh/chị muốn hỏi…?"), and check :meth:`SearchIndex.is_ambiguous`.
* below :data:`MIN_SCORE` (45): not returned. Off-topic messages measured on the
  full catalogue stay below 35 ("mua vé máy bay" 27, "thời tiết hôm nay" < 25);
  near-topic chit-chat can reach the mid 40s ("bạn tên gì" 47 -> "đổi tên"), so
  the NLU's intent should gate the search, not the score alone.

Curated entries get :data:`CURATED_BOOST` points, enough to win ties and
near-ties against portal rows but not a clearly better match.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml
from rapidfuzz import fuzz, process

from bot.catalog.codes import normalise_procedure_code
from bot.catalog.query import (
    ACCENTED_PARTICLES,
    ACCENTED_QUESTION_PHRASES,
    CHAT_ONLY,
    CODE_RE,
    FILING_PHRASES,
    FILLER_PHRASES,
    GREETING_PHRASES,
    POLITE_PHRASES,
    QUESTION_PHRASES,
)
from bot.text import expand, fold, nfc

__all__ = [
    "AMBIGUITY_MARGIN",
    "CURATED_BOOST",
    "MIN_SCORE",
    "Candidate",
    "SearchEntry",
    "SearchIndex",
    "index_from_curated_dir",
    "load_curated_entries",
]

#: Candidates below this score are not returned (see the module docstring).
MIN_SCORE = 45.0
#: Points added to curated entries' scores (capped at 99) so they win ties.
CURATED_BOOST = 3.0
#: Default score gap under which the two best procedures count as ambiguous.
AMBIGUITY_MARGIN = 6.0
#: Share of a name's score that a match on a case or result name gets (see SearchEntry.context).
CONTEXT_FACTOR = 0.85
#: Share of a name's score that a match on a document name gets (see SearchEntry.documents).
DOCUMENT_FACTOR = 0.7

_CODE_SCORE = 100.0
# Text scores are scaled into 0.._TEXT_CAP (not clipped, which would erase the
# difference between two near-perfect matches) so that the curated boost still
# separates two perfect matches and a text match never reaches a code's 100.
_TEXT_CAP = 99.0 - CURATED_BOOST
# Word score = recall^a * (floor + (1 - floor) * precision): citizens name a
# procedure partially ("hộ chiếu" for "Cấp hộ chiếu phổ thông ở trong nước (thực
# hiện tại cấp tỉnh)"), so explaining the query matters more than covering the
# whole portal name; precision mostly orders names that explain the query equally.
_RECALL_EXP = 1.5
_PRECISION_FLOOR = 0.5
# A name the message contains (see _text_search): its word score is precision^exp, up to this share,
# once the matched words weigh this many times the minimum evidence.
_CONTAIN_EXP = 2.0
_CONTAIN_SHARE = 0.9
_CONTAIN_EVIDENCE = 2.0
# A query word this rare (idf; about 1 entry in 400 of the national catalogue) names a topic by itself;
# a string holding every such word scores _RARE_SHARE * (floor + (1 - floor) * precision) at least.
_RARE_IDF = 6.0
_RARE_SHARE = 0.9
_RARE_FLOOR = 0.6
# Share of the final score from rapidfuzz's character-level similarity.
_FUZZ_SHARE = 0.25
_FUZZ_SCORER = fuzz.token_sort_ratio
# Names re-scored with rapidfuzz after the word prefilter.
_SHORTLIST = 200
# Typo correction: only words this long, and only this close, are mapped.
_TYPO_MIN_LEN = 4
_TYPO_CUTOFF = 80.0

_CODE_RE = CODE_RE

# Short forms whose meaning in a procedure mention differs from bot.text's
# general chat reading ("đk" is "được" in chat, but "đăng ký" in "đk tạm trú").
_SEARCH_OVERRIDES: dict[str, str] = {
    "dk": "dang ky",
    "dki": "dang ky",
    "dky": "dang ky",
}

# Citizen wording -> the portal's wording (folded). Applied to queries and to
# names/aliases alike, longest phrase first.
PHRASE_SYNONYMS: dict[str, str] = {
    "sang ten so do": "nhan chuyen nhuong quyen su dung dat",
    "sang ten nha dat": "nhan chuyen nhuong quyen su dung dat quyen so huu nha o",
    "sang ten dat": "nhan chuyen nhuong quyen su dung dat",
    "so do": "giay chung nhan quyen su dung dat",
    "so hong": "giay chung nhan quyen su dung dat quyen so huu nha o",
    "bang lai xe": "giay phep lai xe",
    "bang lai": "giay phep lai xe",
    "doc than": "tinh trang hon nhan",
    "nhap ho khau": "dang ky thuong tru",
    "nhap khau": "dang ky thuong tru",
    "chuyen khau": "dang ky thuong tru",
    "cat khau": "xoa dang ky thuong tru",
    "chuyen ten so do": "nhan chuyen nhuong quyen su dung dat",
    "chuyen ho khau": "dang ky thuong tru",
    "cat ho khau": "xoa dang ky thuong tru",
    "ho khau": "thuong tru",
    "mo ho kinh doanh": "thanh lap ho kinh doanh",
    "mo cong ty": "thanh lap doanh nghiep",
    "mo doanh nghiep": "thanh lap doanh nghiep",
    # Civil-status law says "có yếu tố nước ngoài" where citizens say "với người nước ngoài".
    "voi nguoi nuoc ngoai": "co yeu to nuoc ngoai",
    # Since the 2023 Law on Identification the card is "thẻ căn cước"; citizens
    # still say CCCD or even CMND.
    "can cuoc cong dan": "the can cuoc",
    "chung minh nhan dan": "the can cuoc",
    "chung minh thu": "the can cuoc",
    "giay khai tu": "khai tu",
    "lam giay khai sinh": "dang ky khai sinh",
    "xin giay phep": "cap giay phep",
    "xin phep xay dung": "cap giay phep xay dung",
    "giay phep sua chua": "giay phep xay dung sua chua",
    # A business household that stops for a while, for good, or moves: the portal's words.
    "tam nghi ban": "tam ngung kinh doanh",
    "tam nghi kinh doanh": "tam ngung kinh doanh",
    "tam nghi": "tam ngung",
    "dong cua ho kinh doanh": "cham dut hoat dong ho kinh doanh",
    "doi dia chi": "thay doi noi dung",
    # Citizens say "công chứng" for a certified copy, which the commune certifies (chứng thực).
    "cong chung photo": "chung thuc ban sao",
    "photo cong chung": "chung thuc ban sao",
    "cong chung ban sao": "chung thuc ban sao",
}

# Conversational filler (folded, after teencode expansion), from bot.catalog.query: dropped from
# queries and names alike.
_STOP_PHRASES: tuple[str, ...] = (
    *POLITE_PHRASES,
    *QUESTION_PHRASES,
    *FILING_PHRASES,
    *FILLER_PHRASES,
    *GREETING_PHRASES,
)


@dataclass(frozen=True)
class SearchEntry:
    """One searchable procedure record."""

    code: str  # mã TTHC, e.g. "1.004222"
    province: str | None  # None for national records
    name: str
    aliases: tuple[str, ...] = ()
    curated: bool = False  # curated records get a small boost on ties
    # What else the catalogue says the procedure is about: the portal's case names and result
    # names (what the citizen obtains), ranked at :data:`CONTEXT_FACTOR` of a name's score, and
    # document names, ranked at :data:`DOCUMENT_FACTOR` (a document is what one brings, not what one asks for).
    context: tuple[str, ...] = ()
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A ranked search hit; ``score`` is 0..100 (see the module docstring)."""

    code: str
    province: str | None
    name: str
    score: float
    matched: str  # the name or alias that matched best


def _by_first_word(phrases: dict[str, tuple[str, ...]]) -> dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]:
    """Phrase table keyed by first word, longest phrase first, for a one-lookup-per-word scan."""
    table: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for phrase, replacement in phrases.items():
        key = tuple(phrase.split())
        table.setdefault(key[0], []).append((key, replacement))
    for options in table.values():
        options.sort(key=lambda kv: -len(kv[0]))
    return table


_SYNONYMS = _by_first_word({k: tuple(v.split()) for k, v in PHRASE_SYNONYMS.items()})
_STOPS = _by_first_word({k: () for k in _STOP_PHRASES})
_RAW_WORD_RE = re.compile(r"\w+", re.UNICODE)

_ACCENTED_FILLER = ACCENTED_PARTICLES
# Question phrases as typed with their marks ("thì sao"): "sao" alone may be the copy of "bản sao".
_ACCENTED_PHRASES_RE = re.compile(
    r"\b(?:" + "|".join(sorted(ACCENTED_QUESTION_PHRASES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_CHAT_ONLY = CHAT_ONLY


def _replace_phrases(
    words_: list[str], table: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]
) -> list[tuple[str, int]]:
    """Replace phrases of ``table`` (longest first).

    Returns (word, i) pairs: ``i`` is the word's position in ``words_`` when it
    passed through unchanged, -1 when it comes from a replacement.
    """
    out: list[tuple[str, int]] = []
    i, n = 0, len(words_)
    while i < n:
        for key, replacement in table.get(words_[i], ()):
            end = i + len(key)
            if end <= n and tuple(words_[i:end]) == key:
                out.extend((w, -1) for w in replacement)
                i = end
                break
        else:
            out.append((words_[i], i))
            i += 1
    return out


def _synonyms(tokens: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Replace citizen phrasings; a replacement is final (never read as teencode)."""
    replaced = _replace_phrases([t for t, _ in tokens], _SYNONYMS)
    return [(w, i >= 0 and tokens[i][1]) for w, i in replaced]


def _drop_filler(tokens: list[str]) -> list[str]:
    return [w for w, i in _replace_phrases(tokens, _STOPS) if i >= 0]


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> tuple[str, bool]:
    lower = word.lower()
    folded = fold(lower)
    return folded, folded == lower.replace("đ", "d")


@lru_cache(maxsize=65536)
def _expand_word(token: str) -> tuple[str, ...]:
    return tuple((_SEARCH_OVERRIDES.get(token) or expand(token)).split())


def _fold_words(text: str) -> list[tuple[str, bool]]:
    """Folded words of ``text``, each flagged True when it may be teencode.

    A word typed with tone or vowel marks is a real Vietnamese word ("hỏng",
    "hồng"), never teencode, even though it folds to a teencode form ("hong").
    """
    text = _ACCENTED_PHRASES_RE.sub(" ", nfc(text))
    return [_fold_word(raw) for raw in _RAW_WORD_RE.findall(text) if raw.lower() not in _ACCENTED_FILLER]


def analyse(text: str, *, keep_filler_only: bool = False) -> list[str]:
    """The search tokens of ``text``: folded, expanded, rewritten, without filler.

    Order matters: citizen phrasings are matched before teencode expansion (so
    "so hong" stays "sổ hồng" rather than "số không") and again after it (so
    "cccd" -> "căn cước công dân" -> "thẻ căn cước"). With ``keep_filler_only``
    (names and aliases), text made only of filler keeps its tokens so that it
    still has something to match; a query made only of filler yields nothing.
    """
    marked = _synonyms(_fold_words(text))
    expanded: list[tuple[str, bool]] = []
    for tok, may_be_short in marked:
        if may_be_short:
            expanded.extend((t, False) for t in _expand_word(tok))
        else:
            expanded.append((tok, False))
    tokens = [t for t, _ in _synonyms(expanded)]
    kept = _drop_filler(tokens)
    return tokens if not kept and keep_filler_only else kept


class SearchIndex:
    """An in-memory ranked search over procedure names and aliases.

    Build once (≈0.25 s for the 5,670-row portal catalogue) and share: ``find``
    only reads the index, so concurrent calls are safe.
    """

    def __init__(self, entries: Iterable[SearchEntry]) -> None:
        self._entries: list[SearchEntry] = list(entries)
        str_entry: list[int] = []
        str_text: list[str] = []
        str_tokens: list[tuple[str, ...]] = []
        str_factor: list[float] = []
        by_code: dict[str, list[int]] = {}
        for ei, entry in enumerate(self._entries):
            by_code.setdefault(normalise_procedure_code(entry.code), []).append(ei)
            seen: set[tuple[str, ...]] = set()
            texts = [(t, 1.0) for t in (entry.name, *entry.aliases)]
            texts += [(t, CONTEXT_FACTOR) for t in entry.context]
            texts += [(t, DOCUMENT_FACTOR) for t in entry.documents]
            for text, factor in texts:
                toks = tuple(analyse(text, keep_filler_only=factor == 1.0))
                if not toks or toks in seen:
                    continue
                seen.add(toks)
                str_entry.append(ei)
                str_text.append(text)
                str_tokens.append(toks)
                str_factor.append(factor)
        self._by_code = by_code
        self._str_entry = np.asarray(str_entry, dtype=np.int32)
        self._str_text = str_text
        self._str_joined = [" ".join(t) for t in str_tokens]
        self._str_factor = np.asarray(str_factor, dtype=np.float64)

        # Document frequency over entries (not strings): an alias repeating the
        # name must not make its words look common.
        df: dict[str, int] = {}
        postings: dict[str, list[int]] = {}
        last_entry: dict[str, int] = {}
        for si, toks in enumerate(str_tokens):
            ei = str_entry[si]
            for tok in set(toks):
                postings.setdefault(tok, []).append(si)
                if last_entry.get(tok) != ei:
                    last_entry[tok] = ei
                    df[tok] = df.get(tok, 0) + 1
        n = max(len(self._entries), 1)
        self._idf = {tok: math.log(1.0 + n / d) for tok, d in df.items()}
        self._postings = {tok: np.asarray(ids, dtype=np.int32) for tok, ids in postings.items()}
        self._vocab = sorted(self._idf)
        # A word the catalogue has never seen weighs like a fairly rare one: it is
        # part of what the citizen asks and no entry explains it.
        self._oov_weight = math.log(1.0 + n / 40.0) if self._entries else 1.0
        # Matched weight below this (about one word found in 1 % of entries) scales the score down.
        self._min_evidence = math.log(1.0 + n / 60.0) if self._entries else 1.0
        self._str_weight = np.asarray([sum(self._idf[t] for t in set(toks)) for toks in str_tokens], dtype=np.float64)
        self._entry_curated = np.asarray([e.curated for e in self._entries], dtype=bool)
        self._entry_province = [e.province for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    # -- query side ----------------------------------------------------------

    def _resolve(self, token: str) -> list[tuple[str, float]]:
        """Catalogue words for a query word, each with how sure we are (1.0 = exact); [] if none.

        Tried in order: the word itself, two catalogue words typed without a
        space ("khaisinh", "dangky"), then the closest catalogue word (a typo).
        """
        if token in self._idf:
            return [(token, 1.0)]
        for i in range(2, len(token) - 1):
            left, right = token[:i], token[i:]
            if left in self._idf and right in self._idf:
                return [(left, 1.0), (right, 1.0)]
        if len(token) >= _TYPO_MIN_LEN and not token.isdigit():
            best = process.extractOne(token, self._vocab, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF)
            if best is not None:
                return [(best[0], best[1] / 100.0)]
        return []

    def _query_terms(self, tokens: Sequence[str]) -> tuple[list[tuple[str, float, float]], float]:
        """(catalogue word, weight, certainty) per distinct query word, and the query's total weight."""
        terms: list[tuple[str, float, float]] = []
        total = 0.0
        seen: set[str] = set()
        for tok in dict.fromkeys(tokens):
            resolved = self._resolve(tok)
            if not resolved:
                total += self._oov_weight
                continue
            for word, certainty in resolved:
                if word in seen:
                    continue
                seen.add(word)
                weight = self._idf[word]
                terms.append((word, weight, certainty))
                total += weight
        return terms, total

    def find(self, text: str, limit: int = 5, province: str | None = None) -> list[Candidate]:
        """Rank entries for ``text``, best first; at most ``limit``, none below :data:`MIN_SCORE`.

        With ``province``, only national entries and that province's entries are
        considered; the province's own variant ranks above the national one.
        """
        if limit <= 0 or not self._entries:
            return []
        results: list[Candidate] = []
        taken: set[int] = set()
        for match in _CODE_RE.finditer(text):
            for ei in self._by_code.get(match.group(1) + match.group(2), ()):
                entry = self._entries[ei]
                if ei in taken or not _province_ok(entry.province, province):
                    continue
                taken.add(ei)
                results.append(Candidate(entry.code, entry.province, entry.name, _CODE_SCORE, entry.code))
        if results:
            # National record first, unless the caller's province has its own variant.
            results.sort(key=lambda c: (c.province is None) if province else (c.province is not None))
            text = _CODE_RE.sub(" ", text)
        if len(results) >= limit:
            return results[:limit]
        for ei, cand in self._text_search(text, limit + len(taken), province):
            if ei in taken:
                continue
            results.append(cand)
            if len(results) >= limit:
                break
        return results

    def _text_search(self, text: str, limit: int, province: str | None) -> list[tuple[int, Candidate]]:
        if " ".join(t for t, _ in _fold_words(text)) in _CHAT_ONLY:
            return []
        tokens = analyse(text)
        if not tokens:
            return []
        terms, q_weight = self._query_terms(tokens)
        if not terms or q_weight <= 0:
            return []
        n_str = len(self._str_text)
        matched = np.zeros(n_str, dtype=np.float64)
        matched_rare = np.zeros(n_str, dtype=np.float64)
        rare_weight = 0.0
        for word, weight, certainty in terms:
            matched[self._postings[word]] += weight * certainty
            if weight >= _RARE_IDF and certainty == 1.0:
                matched_rare[self._postings[word]] += weight
                rare_weight += weight
        hits = np.flatnonzero(matched)
        if hits.size == 0:
            return []
        recall = matched[hits] / q_weight
        precision = np.minimum(matched[hits] / self._str_weight[hits], 1.0)
        word_score = np.power(recall, _RECALL_EXP) * (_PRECISION_FLOOR + (1.0 - _PRECISION_FLOOR) * precision)
        # One common word ("không", "tên") is too little evidence, however well it matches.
        word_score *= np.minimum(matched[hits] / self._min_evidence, 1.0)
        # A long message that tells the citizen's situation around the name ("tạm trú sắp hết hạn, tôi vẫn
        # thuê nhà ở đó, xin gia hạn thì làm gì") explains little of itself, but holds the whole name:
        # a name (or alias) the message contains scores by how much of it is found, given enough evidence.
        contained = np.power(precision, _CONTAIN_EXP) * np.minimum(
            matched[hits] / (_CONTAIN_EVIDENCE * self._min_evidence), 1.0
        )
        word_score = np.maximum(word_score, _CONTAIN_SHARE * contained)
        if rare_weight > 0:
            # Every rare word of the question found ("karaoke", "di chúc", "tách thửa"): strong evidence
            # even in a long portal name the message covers only in part.
            # ... and at least one more word of the question ("karaoke" + "giấy phép"; not "tiết" alone).
            found_rare = (matched_rare[hits] >= rare_weight - 1e-9) & (
                matched[hits] - matched_rare[hits] >= 0.75 * self._min_evidence
            )
            rare_score = _RARE_SHARE * (_RARE_FLOOR + (1.0 - _RARE_FLOOR) * precision)
            word_score = np.where(found_rare, np.maximum(word_score, rare_score), word_score)
        # The fuzzy share can add at most _FUZZ_SHARE; prune what cannot reach MIN_SCORE.
        keep = word_score * (1.0 - _FUZZ_SHARE) * 100.0 + _FUZZ_SHARE * 100.0 + CURATED_BOOST >= MIN_SCORE
        hits, word_score = hits[keep], word_score[keep]
        if province is not None:
            ok = np.fromiter(
                (_province_ok(self._entry_province[e], province) for e in self._str_entry[hits]),
                dtype=bool,
                count=hits.size,
            )
            hits, word_score = hits[ok], word_score[ok]
        if hits.size == 0:
            return []
        if hits.size > _SHORTLIST:
            top = np.argpartition(-word_score, _SHORTLIST)[:_SHORTLIST]
            hits, word_score = hits[top], word_score[top]
        query_str = " ".join(tokens)
        fz = process.cdist([query_str], [self._str_joined[i] for i in hits], scorer=_FUZZ_SCORER, dtype=np.float32)[0]
        final = ((1.0 - _FUZZ_SHARE) * word_score * 100.0 + _FUZZ_SHARE * fz) * (_TEXT_CAP / 100.0)
        final = final * self._str_factor[hits]
        entries = self._str_entry[hits]
        final = final + np.where(self._entry_curated[entries], CURATED_BOOST, 0.0)

        best: dict[int, tuple[float, int]] = {}
        for pos in np.argsort(-final, kind="stable"):
            score = float(final[pos])
            if score < MIN_SCORE:
                break
            ei = int(entries[pos])
            if ei not in best:
                best[ei] = (score, int(hits[pos]))
                if len(best) >= limit * 3:
                    break
        entries_ = self._entries
        if province is not None:
            # The province's own variant of a procedure is what applies there: it
            # takes the national record's score and, on the tie, goes first.
            national = {entries_[ei].code: sc for ei, (sc, _) in best.items() if entries_[ei].province is None}
            for ei, (sc, si) in list(best.items()):
                if entries_[ei].province == province and entries_[ei].code in national:
                    best[ei] = (max(sc, national[entries_[ei].code]), si)
        # Equal scores: province-specific first, then curated, then the shorter (more general) name.
        ranked = sorted(
            best.items(),
            key=lambda item: (
                -round(item[1][0], 6),
                entries_[item[0]].province is None,
                not entries_[item[0]].curated,
                len(entries_[item[0]].name),
            ),
        )
        out: list[tuple[int, Candidate]] = []
        for ei, (score, si) in ranked[:limit]:
            entry = self._entries[ei]
            out.append((ei, Candidate(entry.code, entry.province, entry.name, round(score, 2), self._str_text[si])))
        return out

    def is_ambiguous(self, candidates: list[Candidate], margin: float = AMBIGUITY_MARGIN) -> bool:
        """True when the best two *different* procedures are within ``margin`` points.

        A code match (score 100) is never ambiguous; variants of the same code
        (national and provincial) do not compete with each other.
        """
        if not candidates or candidates[0].score >= _CODE_SCORE:
            return False
        top = candidates[0]
        for other in candidates[1:]:
            if other.code == top.code:
                continue
            return top.score - other.score < margin
        return False


def _province_ok(entry_province: str | None, wanted: str | None) -> bool:
    return wanted is None or entry_province is None or entry_province == wanted


def load_curated_entries(directory: str | Path) -> list[SearchEntry]:
    """Read code, province, name and aliases from curated YAML files (no validation).

    For tooling and benchmarks; the application loads the catalogue through
    ``bot.catalog`` and builds its entries from the database.
    """
    entries: list[SearchEntry] = []
    for path in sorted(Path(directory).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict) or not data.get("code") or not data.get("name"):
            continue
        province = data.get("province")
        entries.append(
            SearchEntry(
                code=str(data["code"]),
                province=str(province) if province is not None else None,
                name=str(data["name"]),
                aliases=tuple(str(a) for a in data.get("aliases") or ()),
                curated=True,
            )
        )
    return entries


def index_from_curated_dir(directory: str | Path, extra: Iterable[SearchEntry] = ()) -> SearchIndex:
    """Build an index from curated YAML files plus ``extra`` entries (curated win on (code, province))."""
    curated = load_curated_entries(directory)
    keys = {(e.code, e.province) for e in curated}
    return SearchIndex([*curated, *(e for e in extra if (e.code, e.province) not in keys)])
