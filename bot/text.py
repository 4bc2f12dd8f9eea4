"""Vietnamese text normalisation shared by search, NLU and the dossier code parser.

Citizens type in NFC or NFD, with or without diacritics, in any case, with
teencode ("ko", "dc") and abbreviations ("cccd", "gplx"). Everything that
compares Vietnamese text goes through :func:`fold` so that all of these meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

_MAP_FILE = Path(__file__).with_name("teencode.yml")
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
# đ/Đ are letters of their own, not d plus a combining mark, so NFD does not split them.
_D_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


# C0/C1 control characters except tab and newline, and lone UTF-16 surrogates: nothing a citizen types.
UNWANTED_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Entity values are short (a code, a case number, a procedure's words); longer ones are not ours.
MAX_ENTITY_CHARS = 300


def entity_text(value: object) -> str | None:
    """An entity value as text when it is one we could have sent, else None.

    Strings and numbers (not booleans) of at most ``MAX_ENTITY_CHARS`` characters, without
    control characters or lone surrogates: a payload typed by hand can carry any JSON value.
    Used by the channels (button payloads) and the actions (entities from the tracker).
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value)
    return text if len(text) <= MAX_ENTITY_CHARS and not UNWANTED_CHARS.search(text) else None


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC (iPhone keyboards often send NFD)."""
    return unicodedata.normalize("NFC", text)


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese tone and vowel marks: "Đăng ký" -> "Dang ky"."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_D_TABLE)


def fold(text: str) -> str:
    """Lower-case, diacritic-free, single-spaced form used for matching."""
    return _SPACE_RE.sub(" ", strip_diacritics(nfc(text)).lower()).strip()


def words(text: str) -> list[str]:
    """Split folded text into word tokens."""
    return _WORD_RE.findall(fold(text))


@lru_cache(maxsize=1)
def _maps() -> tuple[dict[str, list[str]], dict[str, str]]:
    data = yaml.safe_load(_MAP_FILE.read_text(encoding="utf-8"))
    return data.get("teencode", {}), data.get("abbreviations", {})


def teencode_map() -> dict[str, list[str]]:
    """Full word -> short forms typed for it (from ``bot/teencode.yml``)."""
    return dict(_maps()[0])


def abbreviation_map() -> dict[str, str]:
    """Abbreviation -> what it stands for (from ``bot/teencode.yml``)."""
    return dict(_maps()[1])


@lru_cache(maxsize=1)
def _folded_expansions() -> dict[str, str]:
    """Folded short form -> folded expansion, for single-token short forms.

    Abbreviations win over teencode on a clash, and ambiguous one-letter
    teencode ("a", "c", "t", "m", "b", "v") is not expanded: it means too many things.
    """
    table: dict[str, str] = {}
    for full, shorts in _maps()[0].items():
        for short in shorts:
            key = fold(short)
            if " " in key or len(key) == 1 or key == fold(full):
                continue
            table.setdefault(key, fold(full))
    for short, full in _maps()[1].items():
        table[fold(short)] = fold(full)
    return table


def expand(text: str) -> str:
    """Fold ``text`` and expand teencode and abbreviations word by word.

    >>> expand("Lam CCCD ko dc a")
    'lam can cuoc cong dan khong duoc a'
    """
    table = _folded_expansions()
    return " ".join(table.get(w, w) for w in words(text))


_PARAGRAPH_RE = re.compile(r"\n\s*\n")
_NON_SPACE_RE = re.compile(r"\S")


def split_message(text: str, limit: int = 1200) -> list[str]:
    """Split a reply into chat-sized parts of at most ``limit`` characters.

    Breaks at paragraph boundaries first, then lines, then sentences, then
    spaces, so a list of documents never breaks mid-item where it can be avoided.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for piece in _pieces(text, limit):
        sep = "\n\n" if current else ""
        if len(current) + len(sep) + len(piece) <= limit:
            current += sep + piece
        else:
            if current:
                parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, limit: int) -> list[str]:
    """Paragraphs no longer than ``limit``, cutting oversized ones at lines, sentences or spaces.

    Walks each paragraph with an index instead of re-slicing the remainder after every cut, which
    copied the rest of the paragraph each time (quadratic for a long text and a small ``limit``).
    """
    out: list[str] = []
    for para in _PARAGRAPH_RE.split(text):
        para = para.strip()
        start, end = 0, len(para)
        while end - start > limit:
            stop = start + limit
            cut = max(para.rfind("\n", start, stop), para.rfind(". ", start, stop) + 1, para.rfind(" ", start, stop))
            if cut <= start:
                cut = stop
            out.append(para[start:cut].strip())
            next_word = _NON_SPACE_RE.search(para, cut, end)
            start = next_word.start() if next_word else end
        if start < end:
            out.append(para[start:end])
    return out
