"""Dossier codes (mã hồ sơ): validation, normalisation and extraction from free text.

The national format is ``V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX``: three groups of digits
identifying the receiving agency, a letter and two digits (e.g. ``H61``), the filing
date and a 4-digit sequence number, e.g. ``000.00.12.H61-240831-0001``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

__all__ = [
    "CODE_EXAMPLE",
    "CODE_FORMAT",
    "IMPOSSIBLE_DATE",
    "InvalidDossierCode",
    "extract_code",
    "filing_date",
    "find_codes",
    "is_valid_code",
    "normalise_dossier_code",
]

CODE_FORMAT = "V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX"
CODE_EXAMPLE = "000.00.12.H61-240831-0001"
# The reason of an InvalidDossierCode whose YYMMDD part is not a real date (the reply explains that part).
IMPOSSIBLE_DATE = "impossible filing date"

_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "_": "-"})

# After spaces are removed and letters upper-cased. Every separator may be missing because the
# groups have fixed widths, so a code without dots or hyphens is still unambiguous.
_STRICT = re.compile(r"(\d{3})\.?(\d{2})\.?(\d{2})\.?([A-Z]\d{2})-?(\d{2})(\d{2})(\d{2})-?(\d{4})")

# In a sentence: the same shape, spaces allowed around separators, not glued to other words.
# "\s*(?:\.\s*)?" and not the equivalent "\s*\.?\s*": two adjacent \s* share every space of a run,
# and on three digits followed by a long run of spaces the engine tried every split (quadratic time).
_IN_TEXT = re.compile(
    r"(?<![\w.])\d{3}\s*(?:\.\s*)?\d{2}\s*(?:\.\s*)?\d{2}\s*(?:\.\s*)?[A-Za-z]\s*\d{2}"
    r"\s*(?:-\s*)?\d{6}\s*(?:-\s*)?\d{4}(?!\w)"
)


class InvalidDossierCode(ValueError):
    """A dossier code that is not in the national format; ``reason`` says why (English, for logs and audit).

    :func:`bot.dossiers.render.invalid_code_text` words it for the citizen (format, example, where to find it).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(text.split()).upper()


def normalise_dossier_code(text: str) -> str:
    """Return ``text`` as a canonical dossier code, or raise :class:`InvalidDossierCode`.

    Tolerates spaces, lower case, missing dots or hyphens and typographic dashes;
    rejects an impossible filing date (YYMMDD).
    """
    if text is None or not str(text).strip():
        raise InvalidDossierCode("empty code")
    cleaned = _clean(str(text))
    match = _STRICT.fullmatch(cleaned)
    if match is None:
        raise InvalidDossierCode("not in the national format")
    v, z, y, m, yy, mm, dd, seq = match.groups()
    try:
        date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        raise InvalidDossierCode(IMPOSSIBLE_DATE) from None
    return f"{v}.{z}.{y}.{m}-{yy}{mm}{dd}-{seq}"


def is_valid_code(text: str) -> bool:
    """True when ``text`` normalises to a dossier code."""
    try:
        normalise_dossier_code(text)
    except InvalidDossierCode:
        return False
    return True


def filing_date(code: str) -> date:
    """The filing date encoded in a (valid) code: ``...-240831-...`` -> 2024-08-31."""
    yymmdd = normalise_dossier_code(code).split("-")[1]
    return date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:]))


def find_codes(text: str) -> list[str]:
    """Every dossier code in a free sentence, normalised, in order, without duplicates."""
    if not text:
        return []
    found: dict[str, None] = {}  # ordered set: a list's "in" made many distinct codes quadratic
    for match in _IN_TEXT.finditer(unicodedata.normalize("NFKC", text).translate(_DASHES)):
        try:
            found.setdefault(normalise_dossier_code(match.group(0)))
        except InvalidDossierCode:
            continue
    return list(found)


def code_spans(text: str) -> list[tuple[int, int]]:
    """Where dossier codes stand in ``text`` as typed: ``(start, end)`` offsets, in order."""
    return [match.span() for match in _IN_TEXT.finditer(text or "")]


def extract_code(text: str) -> str | None:
    """The first dossier code in ``text``, or None ("tra cứu hồ sơ 000.00.12.H61-240831-0001")."""
    codes = find_codes(text)
    return codes[0] if codes else None
