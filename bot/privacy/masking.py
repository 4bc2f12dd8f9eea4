"""Masking of personal data (phone numbers, ID numbers, e-mails, names) in text and logs.

The last 4 digits of a phone number are the dossier-lookup secret, so masked phones
show only the last 2: a log reader must not learn 3 of the 4 digits.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

from bot.text import fold, nfc

__all__ = [
    "PIIMaskingFilter",
    "install_log_masking",
    "mask_email",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_text",
]

# Matching runs on a copy of the text in which every character that stands for an ASCII one is
# replaced by it, one character for one, so a span found in the copy is the same span in the
# original and the output keeps the citizen's own characters outside the masked spans:
# Unicode decimal digits (full-width ０-９, Arabic-Indic, ...) become 0-9, full-width letters and
# punctuation their ASCII forms (NFKC), typographic dashes "-", and exotic or zero-width spaces
# " " (so "0912\u200b345678" is read as a grouped number, not as two short ones).
_DASH_LIKE = frozenset("‐‑‒–—―−﹣－")
_MAX_CACHED_CHARS = 4096


def _ascii_equivalent(ch: str) -> int:
    if ch.isdecimal():
        return ord(str(unicodedata.decimal(ch)))
    if ch in _DASH_LIKE:
        return ord("-")
    if unicodedata.category(ch) == "Cf":  # zero-width space/joiners, soft hyphen, direction marks
        return ord(" ")
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) == 1 and folded.isascii():
        return ord(" ") if folded.isspace() else ord(folded)
    return ord(" ") if ch.isspace() else ord(ch)


class _AsciiTable(dict[int, int]):
    """``str.translate`` table computed on demand for the non-ASCII characters actually seen."""

    def __missing__(self, codepoint: int) -> int:
        value = codepoint if codepoint < 128 else _ascii_equivalent(chr(codepoint))
        if len(self) < _MAX_CACHED_CHARS:
            self[codepoint] = value
        return value


_ASCII_TABLE = _AsciiTable()


def _for_matching(text: str) -> str:
    """``text`` with the same length, digits and separators in ASCII (see ``_ascii_equivalent``)."""
    return text if text.isascii() else text.translate(_ASCII_TABLE)


# Spans that look numeric but are not personal data; masked text keeps them intact. A procedure code
# starts with neither 0 nor 84 nor goes on with more digits, and a date has a real day and month (an
# ISO date a year 19xx/20xx), so a phone grouped "09.123456.78", "84.912345.678", "(+84) 30.000000 0",
# "02-00-00 00000" or "0912-34-56 78" is not taken for one.
# No two unbounded repeats may compete for the same characters: "\s*(?:\.\s*)?" rather than
# "\s*\.?\s*", which backtracks quadratically over a long run of spaces after three digits.
_DOSSIER_CODE = (
    r"(?<![\w.])\d{3}\s*(?:\.\s*)?\d{2}\s*(?:\.\s*)?\d{2}\s*(?:\.\s*)?[A-Za-z]\s*\d{2}"
    r"\s*(?:[-–]\s*)?\d{6}\s*(?:[-–]\s*)?\d{4}(?!\w)"
)
_PROTECTED = re.compile(
    _DOSSIER_CODE
    + r"""
    | (?<![\w.+)])(?!84)[1-9]\d?\.\d{6}(?:\.\d{1,3})?(?![\w.]|[\ -]\d)  # procedure / case code 1.004222(.01)
    | (?<![\w/.-])(?:0?[1-9]|[12]\d|3[01])[/-](?:0?[1-9]|1[0-2])[/-]\d{2,4}(?![\w/.-])  # dates 26/11/2026, 26-11-2026
    | (?<![\w/.-])(?:19|20)\d\d-[01]\d-[0-3]\d(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?![\w/.-])  # ISO date(-time)
    """,
    re.VERBOSE,
)

# Between two digits of a phone or ID number: nothing, one space, ")" (after an area code, with an
# optional space) or a dot/dash with optional spaces around it. Every alternative must be followed
# by a digit, so at most one of them can succeed at a given place: the bounded repeats below never
# backtrack more than a constant amount per starting position (no nested or adjacent unbounded repeats).
_SEP = r"(?:\)\ ?|\ ?[.\-]\ ?|\ )?"
# Right after a leading 0 a bare dot is not a separator: "0.912345678" is a decimal number.
_SEP_AFTER_0 = r"(?:\)\ ?|\ ?-\ ?|\ (?:[.\-]\ ?)?)?"

_PHONE_INTERNATIONAL = rf"""
    (?:\(\ ?(?:(?:\+|00)\ ?)?84\ ?\)|(?:\+|00)\ ?84)    # +84, 0084, (+84), (84)
    (?:{_SEP}\(?0\)?)?                                  # sometimes "+84 (0)" or "+84 0"
    (?:{_SEP}\d){{9,10}}
  | 84(?:{_SEP}\d){{9,10}}                              # 84912345678 typed without the plus
"""
_PHONE_NATIONAL = rf"\(?0{_SEP_AFTER_0}\d(?:{_SEP}\d){{8,9}}"  # 0912345678, (091) 234-5678, 0 9 1 2 3 ...

# 12-digit căn cước (or 12-digit CMND). It starts with its 3-digit province code 001-096, so a
# 12-digit number starting with 0 is taken in any grouping that keeps those 3 digits together
# (001.099.012.345, 001-099-012-345, 0010 9901 2345, 001099 012345) or with every digit apart
# (0 0 1 0 9 9 ...); amounts such as 100.000.000.000 never start with 0. Keeping the province code
# whole means "ngày 01 0912345678" is a day and a phone, not an ID. A grouped number must not go on
# with a dot or dash and more digits (a UUID such as 00000000-0000-7000-...), and one starting with
# 84 or 0084 and long enough for a phone is one (that rule is tried first).
_CCCD = r"""
    (?<!\d-)
    (?:
        \d{12}(?!\d)
      | (?:0\d\d(?:[\ .\-]?\d){9}|0(?:[\ .\-]\d){11})(?!\d|[.\-]\d)
    )
"""
_CMND = r"(?<!\d-)\d{9}(?!\w|[.,/\-]\d)"  # 9-digit chứng minh nhân dân

# One scan for both, tried in this order at each position, so that neither can start inside the
# other: "0912 345 678 12" is one 12-digit number, "84 912345678" a phone and not "84" + a CMND,
# "008412345678" a 12-digit number but "0084 912 345 678" a phone.
# Not inside a longer number (nor after a decimal point: "3.0912345678"), but right after a letter
# or other punctuation: "sdt0912345678", "SĐT:0912345678", "cccd001099012345", "0987654321,0912345678".
# A phone followed by more digits after a separator ("02438234567-1") is still masked: masking a
# little too much is better than leaving a number whole.
_NUMBER = re.compile(
    rf"""(?<![\d+])(?<!\d\.)
    (?:
        (?P<intl>(?:{_PHONE_INTERNATIONAL})(?!\d))
      | (?P<id>{_CCCD})
      | (?P<phone>{_PHONE_NATIONAL}(?!\d))
      | (?P<cmnd>{_CMND})
    )""",
    re.VERBOSE,
)

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")


def _digits(value: str) -> str:
    """The digits of ``value`` in ASCII (full-width and other Unicode digits included)."""
    return "".join(ch if ch.isascii() else str(unicodedata.digit(ch)) for ch in value if ch.isdigit())


def mask_phone(phone: str) -> str:
    """Mask a phone number: ``0912345678`` -> ``091*****78``; ``+84912345678`` -> ``+8491*****78``."""
    digits = _digits(phone)
    if len(digits) < 6:
        return "*" * len(digits) if digits else phone
    international = _for_matching(phone).lstrip(" (").startswith("+") or digits.startswith("0084")
    if digits.startswith("0084"):
        digits = digits[2:]
    if digits.startswith("840") and (international or len(digits) >= 12):
        digits = "84" + digits[3:]  # "+84 (0) 912 ...": the trunk 0 is not part of the number
    if international or (digits.startswith("84") and len(digits) >= 11):
        head = ("+" if international else "") + digits[:4]
        rest = digits[4:]
        return head + "*" * (len(rest) - 2) + rest[-2:]
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def mask_id(number: str) -> str:
    """Mask a căn cước (12 digits) or CMND (9 digits) number, keeping only the last 3 digits."""
    digits = _digits(number)
    if len(digits) <= 3:
        return "*" * len(digits)
    return "*" * (len(digits) - 3) + digits[-3:]


def mask_email(email: str) -> str:
    """Mask an e-mail address: ``nguyenvana@gmail.com`` -> ``n***@gmail.com``."""
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return (local[:1] or "*") + "***@" + domain


def mask_name(name: str) -> str:
    """Mask a person's name to initials: ``Nguyễn Văn A`` -> ``N*** V*** A***``."""
    return " ".join(part[:1] + "***" for part in nfc(name).split())


@lru_cache(maxsize=8)
def _names_regex(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation over every name and its diacritic-free form (cached: the list rarely changes)."""
    variants: set[str] = set()
    for raw in names:
        name = " ".join(nfc(raw or "").split())
        if len(name) >= 3:
            variants.add(name.casefold())
            variants.add(fold(name))
    if not variants:
        return None
    alternatives = [r"\s+".join(re.escape(p) for p in v.split()) for v in sorted(variants, key=len, reverse=True)]
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _mask_names(text: str, names: Iterable[str]) -> str:
    pattern = _names_regex(tuple(sorted({n for n in names if n})))
    return pattern.sub(lambda m: mask_name(m.group(0)), text) if pattern is not None else text


def _mask_number(number: re.Match[str]) -> str:
    return mask_phone(number.group(0)) if number.lastgroup in ("intl", "phone") else mask_id(number.group(0))


# E-mails first (their local part may hold digits), then phone and ID numbers. Each rule is run only
# on a segment holding a character every match needs (most log lines and replies have no "@").
_HAS_DIGIT = re.compile(r"\d")
_RULES: tuple[tuple[re.Pattern[str], re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_EMAIL, re.compile("@"), lambda email: mask_email(email.group(0))),
    (_NUMBER, _HAS_DIGIT, _mask_number),
)
_FILLER = "*"  # stands in for a span already masked, so later rules neither match nor see its digits


def _pii_spans(probe: str, start: int, end: int, spans: list[tuple[int, int, str]]) -> None:
    """Append ``(start, end, replacement)`` for personal data in ``probe[start:end]``."""
    segment = probe[start:end]
    for pattern, needed, mask in _RULES:
        if not needed.search(segment):
            continue

        def _record(match: re.Match[str], mask: Callable[[re.Match[str]], str] = mask) -> str:
            spans.append((start + match.start(), start + match.end(), mask(match)))
            return _FILLER * (match.end() - match.start())

        segment = pattern.sub(_record, segment)


# Every phone, ID number and e-mail holds a character that reads as a digit or an "@" for matching
# (_ascii_equivalent): a Unicode decimal digit, or one whose NFKC form is an ASCII digit or "@"
# (superscripts, subscripts, circled digits, full-width and small "@"). Text without one has nothing
# to mask, and skips the matching copy and the scans: most slot values, button titles and words.
# tests/privacy/test_masked_at_rest.py checks this class against the whole of Unicode.
_MAY_HOLD_PII = re.compile(r"[\d@\u00b2\u00b3\u00b9\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u24ea\ufe6b\uff20]")


def mask_text(text: str, names: Iterable[str] | None = None) -> str:
    """Mask phone numbers, ID numbers, e-mails and the given ``names`` in free ``text``.

    Dossier codes (000.00.00.H99-261120-0001), procedure codes (1.004222) and dates are left intact.
    Numbers are recognised in full-width and other Unicode digits too; the masked replacement is
    in ASCII, the rest of the text is returned as given (in NFC).
    """
    if not text:
        return text
    text = nfc(text)
    if not names and not _MAY_HOLD_PII.search(text):
        return text
    probe = _for_matching(text)
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for match in _PROTECTED.finditer(probe):
        _pii_spans(probe, pos, match.start(), spans)
        pos = match.end()
    _pii_spans(probe, pos, len(probe), spans)
    if not spans:
        masked = text
    else:
        out: list[str] = []
        pos = 0
        for start, end, replacement in sorted(spans):
            out.append(text[pos:start])
            out.append(replacement)
            pos = end
        out.append(text[pos:])
        masked = "".join(out)
    return _mask_names(masked, names) if names else masked


NamesSource = Iterable[str] | Callable[[], Iterable[str]] | None


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class PIIMaskingFilter(logging.Filter):
    """A logging filter that masks personal data in a record's message, arguments and traceback.

    The record is rendered once (``getMessage``), masked, and its ``args`` dropped, so
    formatters downstream see only masked text. ``names`` may be a list or a callable
    returning the names currently known (e.g. dossier owners).
    """

    def __init__(self, names: NamesSource = None) -> None:
        super().__init__()
        self._names = names

    def _current_names(self) -> list[str]:
        if self._names is None:
            return []
        try:
            names = self._names() if callable(self._names) else self._names
            return list(names)
        except Exception:  # a failing name source must never break logging
            return []

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_masked", False):
            return True
        names = self._current_names()
        try:
            message = record.getMessage()
        except Exception:  # malformed %-args: mask what we have rather than drop the record
            message = f"{record.msg} {record.args!r}"
        record.msg = mask_text(message, names)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text, names)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, names)
        # Sanic's access log passes the request line and host as ``extra`` attributes.
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, mask_text(value, names))
        record._pii_masked = True  # type: ignore[attr-defined]
        return True


# Loggers whose handlers are set up by Rasa / Sanic / the SDK rather than by the root logger.
THIRD_PARTY_LOGGERS = (
    "rasa",
    "rasa_sdk",
    "sanic",
    "sanic.root",
    "sanic.error",
    "sanic.access",
    "aiohttp",
    "aiohttp.access",
    "telegram",
    "httpx",
    "urllib3",
)

_install_lock = threading.Lock()
_installed_factory = False
_current_filter: PIIMaskingFilter | None = None


def install_log_masking(
    names: NamesSource = None, extra_loggers: Iterable[str] = (), record_factory: bool = True
) -> PIIMaskingFilter:
    """Attach one :class:`PIIMaskingFilter` to the handlers of the root, Rasa and Sanic loggers.

    Call at process start (and again after a framework reconfigures logging: it is idempotent).
    With ``record_factory`` the log-record factory also masks every record as it is created,
    which covers handlers added later.
    """
    global _installed_factory, _current_filter
    with _install_lock:
        masking = PIIMaskingFilter(names)
        _current_filter = masking
        loggers = [logging.getLogger(), *(logging.getLogger(n) for n in (*THIRD_PARTY_LOGGERS, *extra_loggers))]
        for logger in loggers:
            for handler in logger.handlers:
                for old in [f for f in handler.filters if isinstance(f, PIIMaskingFilter)]:
                    handler.removeFilter(old)
                handler.addFilter(masking)
        if record_factory and not _installed_factory:
            previous = logging.getLogRecordFactory()

            def _factory(*args: object, **kwargs: object) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                if _current_filter is not None:
                    _current_filter.filter(record)
                return record

            logging.setLogRecordFactory(_factory)
            _installed_factory = True
        return masking
