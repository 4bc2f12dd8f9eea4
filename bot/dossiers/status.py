"""The national portal's dossier status vocabulary (1..10), next steps for the citizen, and overdue.

"Quá hạn" is never stored: it is computed from the promised return date and today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from functools import lru_cache

from bot.text import fold
from bot.wording import text

__all__ = [
    "CLOSED_STATUSES",
    "DossierStatus",
    "StatusInfo",
    "days_overdue",
    "is_overdue",
    "parse_status",
    "status_info",
]


class DossierStatus(IntEnum):
    """Status codes as used by the National Public Service Portal."""

    NEW = 1
    RECEIVED = 2
    NOT_RECEIVED = 3
    PROCESSING = 4
    NEEDS_DOCUMENTS = 5
    NEEDS_PAYMENT = 6
    WITHDRAWN = 7
    STOPPED = 8
    DONE = 9
    RETURNED = 10


@dataclass(frozen=True)
class StatusInfo:
    """A status with its portal label and what the citizen should do next."""

    status: DossierStatus
    label: str
    next_step: str


# Wording keys of each status's portal label and next step (bot/wording/vi.yml, dossier.status.*).
_INFO: dict[DossierStatus, tuple[str, str]] = {
    DossierStatus.NEW: ("dossier.status.new.label", "dossier.status.new.next_step"),
    DossierStatus.RECEIVED: ("dossier.status.received.label", "dossier.status.received.next_step"),
    DossierStatus.NOT_RECEIVED: ("dossier.status.not_received.label", "dossier.status.not_received.next_step"),
    DossierStatus.PROCESSING: ("dossier.status.processing.label", "dossier.status.processing.next_step"),
    DossierStatus.NEEDS_DOCUMENTS: (
        "dossier.status.needs_documents.label",
        "dossier.status.needs_documents.next_step",
    ),
    DossierStatus.NEEDS_PAYMENT: ("dossier.status.needs_payment.label", "dossier.status.needs_payment.next_step"),
    DossierStatus.WITHDRAWN: ("dossier.status.withdrawn.label", "dossier.status.withdrawn.next_step"),
    DossierStatus.STOPPED: ("dossier.status.stopped.label", "dossier.status.stopped.next_step"),
    DossierStatus.DONE: ("dossier.status.done.label", "dossier.status.done.next_step"),
    DossierStatus.RETURNED: ("dossier.status.returned.label", "dossier.status.returned.next_step"),
}

# Statuses after which the promised date no longer matters: finished, refused, withdrawn or stopped.
CLOSED_STATUSES = frozenset(
    {
        DossierStatus.NOT_RECEIVED,
        DossierStatus.WITHDRAWN,
        DossierStatus.STOPPED,
        DossierStatus.DONE,
        DossierStatus.RETURNED,
    }
)


@lru_cache(maxsize=1)
def _by_folded_label() -> dict[str, DossierStatus]:
    return {fold(text(label)): status for status, (label, _) in _INFO.items()}


def status_info(status: int | DossierStatus) -> StatusInfo:
    """Label and next step of ``status`` (1..10); ValueError for anything else."""
    st = DossierStatus(int(status))
    label, step = _INFO[st]
    return StatusInfo(st, text(label), text(step))


def parse_status(value: object) -> DossierStatus:
    """A status from a number (``4``, ``"4"``) or a portal label (``"Đang xử lý"``, any case/diacritics)."""
    if isinstance(value, bool):
        raise ValueError(f"not a dossier status: {value!r}")
    if isinstance(value, int):
        return DossierStatus(value)
    raw = str(value).strip()
    if raw.isascii() and raw.isdecimal() and len(raw) <= 2:  # not "²" or "٤", which isdigit() accepts
        return DossierStatus(int(raw))
    found = _by_folded_label().get(fold(raw))
    if found is None:
        raise ValueError(f"not a dossier status: {value!r}")
    return found


def is_overdue(status: int | DossierStatus, promised: date | None, today: date) -> bool:
    """True when the promised return date has passed and the dossier is still open."""
    if promised is None or DossierStatus(int(status)) in CLOSED_STATUSES:
        return False
    return today > promised


def days_overdue(status: int | DossierStatus, promised: date | None, today: date) -> int:
    """Days past the promised date (0 when not overdue)."""
    return (today - promised).days if promised is not None and is_overdue(status, promised, today) else 0
