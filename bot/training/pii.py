"""No personal data in the training data: find it in an example, or replace it with a neutral stand-in.

The detectors are :mod:`bot.privacy.masking`'s (its phone, ID-number and e-mail patterns, the same
skipping of procedure codes and dates, its name matching with and without diacritics) and
:func:`bot.dossiers.codes.code_spans` for dossier codes; nothing is re-implemented here. Texts from
the record of conversations are already masked, so what :func:`bot.privacy.mask_text` left behind
("091*****78", "*********345", "n***@gmail.com", "N*** V*** A***") is found too, as kind ``masked``.

Placeholders (:data:`PLACEHOLDERS`) are chosen to read like what a citizen types, so that an example
still trains the NLU (the regex featurizer sees a phone, a code): a phone "0900000000", a căn cước
"001000000000", an e-mail "ten@example.com", the project's example dossier code
(:data:`bot.dossiers.codes.CODE_EXAMPLE`) and the name "Nguyen Van A" (written without diacritics
because no Vietnamese may be typed in Python code; the NLU folds diacritics anyway). A placeholder is
never reported as personal data, so a placeheld example passes the writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.dossiers.codes import CODE_EXAMPLE, code_spans
from bot.privacy import mask_email, mask_id, mask_name, mask_phone
from bot.privacy.masking import _EMAIL, _NUMBER, _PROTECTED, _for_matching, _names_regex
from bot.text import nfc

__all__ = ["KINDS", "PLACEHOLDERS", "Finding", "find_personal_data", "placeholder"]

KINDS = ("phone", "id_number", "email", "dossier_code", "name", "masked")

PLACEHOLDERS: dict[str, str] = {
    "phone": "0900000000",
    "id_number": "001000000000",
    "email": "ten@example.com",
    "dossier_code": CODE_EXAMPLE,
    "name": "Nguyen Van A",
}

# What mask_text leaves: a run with at least three "*" among digits, letters or an e-mail domain.
_MASKED = re.compile(r"\+?[\w]*\*{3,}[\w]*(?:@[\w.-]+)?(?:\s+\w\*{3}){0,4}")


@dataclass(frozen=True)
class Finding:
    """Personal data in a text: its ``kind`` (one of :data:`KINDS`), where (``start``, ``end``), and a
    masked ``excerpt`` safe to show in a log or a page (never the value itself)."""

    kind: str
    start: int
    end: int
    excerpt: str


def _mask_code(code: str) -> str:
    # The agency part is public; the filing date and the sequence number identify the dossier.
    return code[:-11] + re.sub(r"\d", "*", code[-11:])


def _masked_kind(value: str) -> str:
    """The placeholder kind that stands in for a remnant of masking."""
    if "@" in value:
        return "email"
    if re.search(r"[^\W\d_]", value.replace("*", "")):
        return "name"
    return "phone" if value.lstrip("+")[:1].isdigit() else "id_number"


def _numbers(text: str, probe: str, start: int, end: int, out: list[Finding]) -> None:
    segment = probe[start:end]
    for match in _EMAIL.finditer(segment):
        s, e = start + match.start(), start + match.end()
        out.append(Finding("email", s, e, mask_email(text[s:e])))
    blank = _EMAIL.sub(lambda m: " " * len(m.group(0)), segment)  # e-mails first: their digits are theirs
    for match in _NUMBER.finditer(blank):
        s, e = start + match.start(), start + match.end()
        if match.lastgroup in ("intl", "phone"):
            out.append(Finding("phone", s, e, mask_phone(text[s:e])))
        else:
            out.append(Finding("id_number", s, e, mask_id(text[s:e])))


def _overlaps(finding: Finding, others: Iterable[Finding]) -> bool:
    return any(finding.start < o.end and o.start < finding.end for o in others)


def find_personal_data(text: str, known_names: Iterable[str] = ()) -> list[Finding]:
    """Every piece of personal data in ``text`` (taken in NFC), in order of position.

    ``known_names``: people's names to look for (e.g. dossier owners), matched with or without
    diacritics and in any case. Placeholders (:data:`PLACEHOLDERS`) are not personal data.
    """
    text = nfc(text or "")
    if not text:
        return []
    probe = _for_matching(text)
    found: list[Finding] = [Finding("dossier_code", s, e, _mask_code(text[s:e])) for s, e in code_spans(probe)]
    pos = 0
    for match in _PROTECTED.finditer(probe):  # procedure codes, dates and dossier codes are not numbers
        _numbers(text, probe, pos, match.start(), found)
        pos = match.end()
    _numbers(text, probe, pos, len(probe), found)
    pattern = _names_regex(tuple(sorted({n for n in known_names if n})))
    if pattern is not None:
        for match in pattern.finditer(text):
            found.append(Finding("name", match.start(), match.end(), mask_name(match.group(0))))
    for match in _MASKED.finditer(text):
        candidate = Finding("masked", match.start(), match.end(), match.group(0))
        if not _overlaps(candidate, found):
            found.append(candidate)
    stand_ins = {v.casefold() for v in PLACEHOLDERS.values()}
    kept: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if text[finding.start : finding.end].casefold() in stand_ins or _overlaps(finding, kept):
            continue
        kept.append(finding)
    return kept


def placeholder(text: str, findings: Iterable[Finding]) -> str:
    """``text`` (NFC) with each finding replaced by its kind's placeholder (:data:`PLACEHOLDERS`).

    ``findings`` must come from :func:`find_personal_data` on the same text.
    """
    text = nfc(text or "")
    out: list[str] = []
    pos = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < pos:
            continue
        kind = _masked_kind(text[finding.start : finding.end]) if finding.kind == "masked" else finding.kind
        out.append(text[pos : finding.start])
        out.append(PLACEHOLDERS[kind])
        pos = finding.end
    out.append(text[pos:])
    return "".join(out)
