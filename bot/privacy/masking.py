"""Masking of personal data (phone numbers, ID numbers, e-mails, names) in text and logs.

The last 4 digits of a phone number are the dossier-lookup secret, so masked phones
show only the last 2: a log reader must not learn 3 of the 4 digits.
"""

from __future__ import annotations

import logging
import re
import threading
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

# Spans that look numeric but are not personal data; masked text keeps them intact.
_DOSSIER_CODE = (
    r"(?<![\w.])\d{3}\s*\.?\s*\d{2}\s*\.?\s*\d{2}\s*\.?\s*[A-Za-z]\s*\d{2}\s*[-–]?\s*\d{6}\s*[-–]?\s*\d{4}(?!\w)"
)
_PROTECTED = re.compile(
    _DOSSIER_CODE
    + r"""
    | (?<![\w.])\d{1,2}\.\d{6}(?:\.\d{1,3})?(?![\w.])                 # procedure / case code 1.004222(.01)
    | (?<![\w/.-])\d{1,2}[/-]\d{1,2}[/-]\d{2,4}(?![\w/.-])           # dates 26/11/2026, 26-11-2026
    | (?<![\w/.-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?![\w/.-])  # ISO date(-time)
    """,
    re.VERBOSE,
)

_PHONE = re.compile(
    r"""
    (?<![\w+.,])
    (?:
        (?:\(?\+\s?84\)?|\(?0084\)?)[ .\-]?\(?0?\)?   # +84 / 0084, sometimes "+84 (0)"
      | 84(?=\d{9,10}(?!\d))                        # 84912345678 typed without the plus
      | 0
    )
    (?:\d[ .\-]?){8,9}\d
    (?![\w]|[.,/]\d)
    """,
    re.VERBOSE,
)

# 12-digit căn cước (also grouped 3-3-3-3 or 4-4-4) and 9-digit CMND, not part of a longer number.
_ID = re.compile(
    r"""
    (?<![\w.,+-])
    (?:\d{12}|\d{3}\ \d{3}\ \d{3}\ \d{3}|\d{4}\ \d{4}\ \d{4}|\d{9})
    (?![\w]|[.,/-]\d)
    """,
    re.VERBOSE,
)

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def mask_phone(phone: str) -> str:
    """Mask a phone number: ``0912345678`` -> ``091******78``; ``+84912345678`` -> ``+8491******78``."""
    digits = _digits(phone)
    if len(digits) < 6:
        return "*" * len(digits) if digits else phone
    international = phone.lstrip(" (").startswith("+") or digits.startswith("0084")
    if digits.startswith("0084"):
        digits = digits[2:]
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


def _mask_unprotected(segment: str) -> str:
    segment = _EMAIL.sub(lambda m: mask_email(m.group(0)), segment)
    segment = _ID.sub(lambda m: mask_id(m.group(0)), segment)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), segment)


def mask_text(text: str, names: Iterable[str] | None = None) -> str:
    """Mask phone numbers, ID numbers, e-mails and the given ``names`` in free ``text``.

    Dossier codes (000.00.00.H99-261120-0001), procedure codes (1.004222) and dates are left intact.
    """
    if not text:
        return text
    text = nfc(text)
    out: list[str] = []
    pos = 0
    for match in _PROTECTED.finditer(text):
        out.append(_mask_unprotected(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_mask_unprotected(text[pos:]))
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
