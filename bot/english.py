"""Questions written in English by foreigners living in Vietnam (no Rasa imports, no translation service).

Nothing leaves the machine: an English message is recognised by its function words
(:func:`is_english`), its topic is looked up in a glossary of English phrases that maps them to
the Vietnamese words the catalogue search understands (``bot/catalog/english.yml``,
:func:`vietnamese_query`), the procedure is resolved over the catalogue as a Vietnamese message
would be (:func:`english_resolution`), and the answer quotes the catalogue's Vietnamese facts under
English labels (:func:`english_answer`). The official texts are in Vietnamese; every answer says so.
Sentences live in ``bot/wording/citizen.en.yml`` (namespace ``citizen_en``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot.answers import (
    BULLETS,
    MAX_CHOICE_BUTTONS,
    PORTAL_HOME,
    Answer,
    agency_label,
    citation,
    fetch,
    format_fee,
    format_time,
    shorten,
    source_url,
)
from bot.catalog.domain import Case, Fee, Procedure
from bot.catalog.query import in_order_typed
from bot.catalog.resolve import CLEAR_MARGIN, CLEAR_SCORE, Decision, Resolution
from bot.replies import Button, Link, Reply, human_button, payload
from bot.text import nfc
from bot.wording import catalogue

__all__ = [
    "GLOSSARY_FILE",
    "Glossary",
    "answer_in_english",
    "english_answer",
    "english_asks",
    "english_not_found",
    "english_resolution",
    "glossary",
    "is_english",
    "vietnamese_query",
]

GLOSSARY_FILE = Path(__file__).parent / "catalog" / "english.yml"

_en = catalogue("citizen_en")

# --------------------------------------------------------------------------- telling English apart

_WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
# An English message needs this much evidence (a distinct English-only word counts 1, an ambiguous one 0.5) ...
_MIN_ENGLISH = 2.0
# ... at least one English-only word, and this many times the Vietnamese evidence.
_ENGLISH_OVER_VIETNAMESE = 1.5


def _words(text: str) -> list[str]:
    """Lower-case words; typographic apostrophes made plain ("driver’s" -> "driver's")."""
    text = nfc(text).replace("\u2019", "'").replace("\u2018", "'").lower()
    return _WORD_RE.findall(text)


def _without_phrases(words: list[str], phrases: tuple[tuple[str, ...], ...]) -> list[str]:
    """``words`` with every occurrence of ``phrases`` (word tuples, longest first) removed."""
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase in phrases:
            if tuple(words[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def is_english(text: str) -> bool:
    """True for a message written in English, False for Vietnamese (with or without diacritics).

    Several distinct English words are needed, at least one that is not also a Vietnamese syllable
    typed without marks ("the", "do", "can", "to" are both), and clearly more English evidence than
    Vietnamese (syllables such as "lam", "dau", "gi", or any word typed with Vietnamese marks).
    Place names spelt like Vietnamese ("Ha Noi", "HCMC") are ignored.
    """
    gloss = glossary()
    words = _without_phrases(_words(text or ""), gloss.neutral)
    if not words:
        return False
    strong: set[str] = set()
    weak: set[str] = set()
    vietnamese: set[str] = set()
    for word in words:
        plain = word.replace("'", "")
        if not word.isascii():
            vietnamese.add(word)  # a word with Vietnamese marks (place names were removed above)
        elif word in gloss.ambiguous:
            weak.add(word)
        elif word in gloss.english_only or plain in gloss.english_only or word in gloss.english_words:
            strong.add(word)
        elif plain in gloss.vietnamese:
            vietnamese.add(word)
    english = len(strong) + 0.5 * len(weak)
    return bool(strong) and english >= _MIN_ENGLISH and english >= _ENGLISH_OVER_VIETNAMESE * len(vietnamese)


# --------------------------------------------------------------------------- the glossary


@dataclass(frozen=True)
class _Entry:
    words: tuple[str, ...]
    tier: str  # procedures | things | actions | foreign_signals | reissue_signals
    query: str = ""
    foreign: str = ""


@dataclass(frozen=True)
class Glossary:
    """``english.yml`` read into word tuples, longest phrase first."""

    entries: tuple[_Entry, ...]
    neutral: tuple[tuple[str, ...], ...]
    reissue_words: frozenset[str]
    english_only: frozenset[str] = frozenset()  # English words that are not Vietnamese syllables
    ambiguous: frozenset[str] = frozenset()  # English words that are also Vietnamese syllables without marks
    vietnamese: frozenset[str] = frozenset()  # Vietnamese syllables without marks that English does not use

    @property
    def english_words(self) -> frozenset[str]:
        """Every word of an English glossary phrase (evidence for :func:`is_english`)."""
        return frozenset(w for e in self.entries for w in e.words)

    def matches(self, text: str) -> list[_Entry]:
        """The entries whose phrase is in ``text``, in the order typed; overlapping phrases: the longest wins."""
        words = _phrase_words(text)
        found: list[_Entry] = []
        i = 0
        while i < len(words):
            for entry in self.entries:
                if tuple(words[i : i + len(entry.words)]) == entry.words:
                    found.append(entry)
                    i += len(entry.words)
                    break
            else:
                i += 1
        return found


def _phrase_words(text: str) -> list[str]:
    # "driver's" -> "driver s", "one-member" -> "one member": the glossary writes plain words.
    return re.findall(r"[a-z0-9]+", nfc(text).lower().replace("\u2019", "'"))


def _entries(data: dict[str, Any]) -> list[_Entry]:
    entries: list[_Entry] = []
    for tier in ("procedures", "things", "actions"):
        for phrase, value in (data.get(tier) or {}).items():
            query, foreign = (value, "") if isinstance(value, str) else (value["query"], value.get("foreign", ""))
            entries.append(_Entry(tuple(_phrase_words(phrase)), tier, nfc(query), nfc(foreign)))
    for tier in ("foreign_signals", "reissue_signals"):
        entries += [_Entry(tuple(_phrase_words(phrase)), tier) for phrase in data.get(tier) or ()]
    return entries


@cache
def glossary(path: Path = GLOSSARY_FILE) -> Glossary:
    """The glossary in ``path`` (read once per process)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = sorted(_entries(data), key=lambda e: -len(e.words))  # stable: file order among equals
    neutral = sorted((tuple(_phrase_words(p)) for p in data.get("neutral") or ()), key=lambda p: -len(p))
    reissue = frozenset(nfc(w).lower() for w in data.get("reissue_words") or ())

    def words(key: str) -> frozenset[str]:
        return frozenset(str(w).lower() for w in data.get(key) or ())

    english, ambiguous = words("english_words"), words("ambiguous_words")
    vietnamese = words("vietnamese_syllables") - english - ambiguous
    return Glossary(tuple(entries), tuple(neutral), reissue, english - ambiguous, ambiguous, vietnamese)


def vietnamese_query(text: str) -> str:
    """The Vietnamese search words for an English message; "" when no glossary phrase names a topic.

    Procedure phrases win over documents and verbs ("certified copies of my passport" asks for the
    certification, not a passport); without one, verbs and documents combine ("exchange" + "driving
    licence" -> "đổi giấy phép lái xe"). A foreigner signal picks a procedure's foreign variant.
    """
    found = glossary().matches(text or "")
    foreign = any(e.tier == "foreign_signals" for e in found)
    procedures = [(e.foreign if foreign and e.foreign else e.query) for e in found if e.tier == "procedures"]
    if procedures:
        return " ".join(dict.fromkeys(procedures))
    things = [e.query for e in found if e.tier == "things"]
    if not things:
        return ""  # a verb alone ("exchange", "renew") names no procedure
    actions = [e.query for e in found if e.tier == "actions"]
    return " ".join(dict.fromkeys([*actions[:1], *things]))


# --------------------------------------------------------------------------- resolution


class _Resolver(Protocol):
    def resolve(self, text: str | None, mention: str | None = None, province: str | None = None) -> Resolution: ...


def _words_of_name(name: str) -> set[str]:
    return set(re.findall(r"\w+", nfc(name).lower()))


def english_resolution(catalog: _Resolver, text: str, province: str | None = None) -> Resolution:
    """Which procedure an English message is about (:meth:`ProcedureCatalog.resolve` on its Vietnamese query).

    The portal lists a second issue beside many procedures ("đăng ký lại kết hôn" beside "đăng ký kết
    hôn"); both match the query and the bot would ask which one. Unless the message asks for a second
    issue ("again", "lost"), a candidate whose name only adds such a word to the best one's is set aside,
    and the usual rule (:data:`CLEAR_SCORE`, :data:`CLEAR_MARGIN`) decides again.
    """
    query = vietnamese_query(text)
    if not query:
        return Resolution(Decision.NONE)
    found = catalog.resolve(query, province=province)
    gloss = glossary()
    if found.decision is not Decision.CLOSE:
        return found
    again = any(e.tier == "reissue_signals" for e in gloss.matches(text)) or bool(
        _words_of_name(query) & gloss.reissue_words  # "lost", "replace" already gave "cấp lại"
    )
    best = found.candidates[0]
    base = _words_of_name(best.name)

    def other_issue(name: str) -> bool:
        # Without "again"/"lost": a name that only adds "lại" to the best one's; with it, one that only lacks it.
        words = _words_of_name(name)
        extra = (base - words) if again else (words - base)
        same_rest = (words - extra) == base if not again else words == base - extra
        return bool(extra) and extra <= gloss.reissue_words and same_rest

    kept = [c for c in found.candidates if c.code == best.code or not other_issue(c.name)]
    if len(kept) == len(found.candidates):
        return found
    others = [c for c in kept if c.code != best.code]
    if best.score >= CLEAR_SCORE and (not others or best.score - others[0].score >= CLEAR_MARGIN):
        return Resolution(Decision.CLEAR, tuple(kept))
    return Resolution(Decision.CLOSE, tuple(kept))


# --------------------------------------------------------------------------- what is asked

# (intent, pattern) in no particular order: the asks come back in the order the message types them.
_ASK_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (intent, re.compile(pattern, re.IGNORECASE))
    for intent, pattern in (
        ("ask_documents", r"\b(?:documents?|papers?|paperwork|what do (?:i|we) (?:need|have to bring|bring)"
                          r"|what (?:should|must) (?:i|we) (?:bring|prepare)|bring|prepare)\b"),
        ("ask_fee", r"\b(?:how much|fees?|costs?|price|charges?|pay)\b"),
        ("ask_processing_time", r"\b(?:how long|how many (?:working )?(?:days|weeks|months)|how (?:quickly|soon)"
                                r"|processing time|when will|take to process)\b"),
        ("ask_where", r"\b(?:where|which (?:office|agency|authority)|what (?:office|agency|authority))\b"),
        ("ask_how_online", r"\b(?:online|on the internet|website|electronically|vneid)\b"),
        # A yes/no question at the start of a clause ("Can I exchange it", "Do I need to register"), or
        # the words of eligibility; "how can I", "what do I need" are other questions.
        ("ask_conditions", r"(?:^|[.?!,;:]\s*|\b(?:and|but|so|or|also)\s+)(?:can|could|may|must|do|does|am|is|are)"
                           r"\s+(?:i|we|my|our|it|he|she|they)\b|\b(?:eligible|eligibility|allowed|permitted"
                           r"|conditions?|qualify|requirements?|have to|required to)\b"),
    )
)  # fmt: skip


def english_asks(text: str) -> list[str]:
    """The question intents an English message asks, in the order typed; ``["ask_procedure_info"]`` when none."""
    return in_order_typed(_ASK_PATTERNS, text or "") or ["ask_procedure_info"]


# --------------------------------------------------------------------------- answers


def _method(kind: str) -> str:
    """ "Online" for ``online``; an unknown kind as it is."""
    # Literal keys at the call (not a table of keys): tests/test_wording.py sees them used in citizen_en.
    labels = {
        "online": _en.text("english.method.online"),
        "direct": _en.text("english.method.direct"),
        "postal": _en.text("english.method.postal"),
    }
    return labels.get(kind, kind)


def _portal(name: str) -> str | None:
    labels = {
        "dichvucong": _en.text("english.portal.dichvucong"),
        "vneid": _en.text("english.portal.vneid"),
        "bocongan": _en.text("english.portal.bocongan"),
    }
    return labels.get(name)


def _clean(name: str) -> str:
    return " ".join(name.split()).strip().lstrip(BULLETS).strip().rstrip(" .;")


def _documents(proc: Procedure) -> list[str]:
    case: Case | None = proc.common_case
    if case is None:
        return [_en.text("english.documents.heading"), f"• {_en.text('english.not_stated')}"]
    # The portal lists some dossiers in parts ("* Giấy tờ phải nộp:"): show every part, under its title.
    parts = [c for c in proc.cases if c.name.rstrip().endswith(":")] if case.name.rstrip().endswith(":") else [case]
    situations = [c for c in proc.cases if not c.name.rstrip().endswith(":")]
    if len(situations) > 1 and parts == [case]:
        lines = [_en.text("english.documents.heading_case", case=_clean(case.name))]
    else:
        lines = [_en.text("english.documents.heading")]
    for part in parts:
        if len(parts) > 1:
            lines.append(_clean(part.name))
        for d in part.documents:
            counts = _en.text("english.documents.counts", originals=d.originals, copies=d.copies)
            lines.append(f"• {_clean(d.name)}" + (f" ({counts})" if d.originals or d.copies else ""))
    if not any(part.documents for part in parts):
        lines.append(f"• {_en.text('english.documents.none')}")
    if len(situations) > 1:
        lines.append(_en.text("english.documents.other_cases", count=len(situations) - 1))
    return lines


def _fee_text(fees: tuple[Fee, ...]) -> str:
    if all(f.amount == 0 for f in fees):
        return _en.text("english.fee.free")
    # Amounts stay as the Vietnamese formatter writes them ("200.000 đồng"), with their legal basis.
    return "; ".join(format_fee(f) for f in fees)


def _fees(proc: Procedure) -> list[str]:
    lines = [_en.text("english.fee.heading")]
    # A portal record without fees says nothing about them; a curated one without fees is free.
    methods = [m for m in proc.methods if m.fees or proc.origin == "curated"]
    if not methods:
        return [*lines, f"• {_en.text('english.not_stated')}"]
    groups: dict[tuple[Fee, ...], list[str]] = {}
    for m in methods:
        groups.setdefault(m.fees, []).append(_method(m.kind))
    for fees, labels in groups.items():
        if len(fees) > 1 and not all(f.amount == 0 for f in fees):
            # Several fees (full rate, reduced rate, per extra copy): one line each, as the Vietnamese answer does.
            lines.append(f"• {', '.join(labels)}:")
            lines += [f"   – {format_fee(f)}" for f in fees]
        else:
            lines.append(f"• {', '.join(labels)}: {_fee_text(fees) if fees else _en.text('english.fee.free')}")
    return lines


def _time(proc: Procedure) -> list[str]:
    lines = [_en.text("english.time.heading")]
    if not proc.methods:
        return [*lines, f"• {_en.text('english.not_stated')}"]
    lines += [f"• {_method(m.kind)}: {format_time(m)}" for m in proc.methods]
    if any(m.time_unit == "working_day" for m in proc.methods):
        lines.append(_en.text("english.time.working_days"))
    return lines


def _where(proc: Procedure) -> list[str]:
    agency = agency_label(proc)
    lines = [_en.text("english.where.agency", agency=agency or _en.text("english.not_stated"))]
    kinds = [_method(m.kind) for m in proc.methods]
    if kinds:
        lines.append(_en.text("english.where.methods", methods=", ".join(kinds)))
    return lines


def _online(proc: Procedure) -> list[str]:
    if not proc.method("online") and proc.online_level in ("none", "unknown"):
        return [_en.text("english.online.unsupported")]
    portals = [label for p in proc.online_portals if (label := _portal(p))]
    portals = portals or [_en.text("english.portal.dichvucong")]
    lines = [_en.text("english.online.supported", portals=_en.text("english.or").join(portals))]
    if proc.online_level == "full":
        lines.append(_en.text("english.online.full"))
    elif proc.online_level == "partial":
        lines.append(_en.text("english.online.partial"))
    return lines


def _conditions(proc: Procedure) -> list[str]:
    if not proc.requirements or not proc.requirements.strip():
        return [_en.text("english.conditions.none")]
    return [_en.text("english.conditions.heading"), proc.requirements.strip()]


def _overview(proc: Procedure) -> list[str]:
    return [*_where(proc), "", *_documents(proc), "", *_fees(proc), "", *_time(proc)]


_SECTIONS = {
    "ask_documents": _documents,
    "ask_fee": _fees,
    "ask_processing_time": _time,
    "ask_where": _where,
    "ask_how_online": _online,
    "ask_conditions": _conditions,
    "ask_procedure_info": _overview,
}


def english_answer(proc: Procedure, asks: list[str] | tuple[str, ...]) -> Reply:
    """The answer in English to ``asks`` about ``proc``: its Vietnamese name and code, one section per ask
    with the catalogue's facts under English labels, the note that the official texts are in Vietnamese,
    and the citation line the Vietnamese answers end with.

    A catalogue-only row (no detail record) gives name, code, agency and the portal link instead.
    """
    lines = [_en.text("english.intro", name=" ".join(nfc(proc.name).split()), code=proc.code)]
    if not proc.is_detailed:
        agency = ", ".join(proc.departments) or proc.promulgated_by or agency_label(proc)
        if agency:
            lines.append(_en.text("english.where.agency", agency=agency))
        lines += [_en.text("english.catalogue_only", url=source_url(proc)), "", _en.text("english.vietnamese_note")]
        body = "\n".join(lines) + f"\n\n{citation(proc)}"
        return Reply(body, (human_button(),), (Link(_en.text("english.link"), source_url(proc)),))
    for ask in dict.fromkeys(a for a in asks if a in _SECTIONS) or ("ask_procedure_info",):
        lines += ["", *_SECTIONS[ask](proc)]
    lines += ["", _en.text("english.vietnamese_note")]
    return Reply("\n".join(lines) + f"\n\n{citation(proc)}")


def english_not_found() -> Reply:
    """No procedure found for an English message: say so, point to the national portal, offer a person."""
    return Reply(_en.text("english.not_found", portal=PORTAL_HOME), (human_button(),))


class _Catalog(_Resolver, Protocol):
    def get(self, code: str, province: str | None = None) -> Procedure | None: ...


def answer_in_english(
    catalog: _Catalog, message: str | None, *, previous_code: str | None = None, province: str | None = None
) -> Answer | None:
    """The whole English turn: None when ``message`` is not English (the Vietnamese path goes on).

    A clear procedure is answered (:func:`english_answer`); close ones are offered as buttons; with a
    procedure from the previous turn and no new topic ("how much is it?"), the ask is answered about it;
    otherwise the reply says nothing was found and points to the portal.
    """
    if not message or not is_english(message):
        return None
    asks = english_asks(message)
    resolution = english_resolution(catalog, message, province=province)
    best = resolution.best
    if resolution.decision is Decision.NONE and previous_code and not vietnamese_query(message):
        proc = fetch(catalog, previous_code, province)
        if proc is not None:
            return Answer(english_answer(proc, asks), proc.code, resolved=True)
    if resolution.decision is Decision.CLEAR and best is not None:
        proc = fetch(catalog, best.code, best.province)
        if proc is not None:
            return Answer(english_answer(proc, asks), proc.code, resolved=True)
    if resolution.decision is Decision.CLOSE:
        buttons = tuple(
            Button(shorten(c.name), payload(asks[0], procedure_code=c.code))
            for c in resolution.candidates[:MAX_CHOICE_BUTTONS]
        )
        return Answer(Reply(_en.text("english.choose"), buttons), previous_code)
    return Answer(english_not_found(), previous_code)
