"""The national portal's dossier status vocabulary (1..10), next steps for the citizen, and overdue.

Two vocabularies on purpose: :data:`PORTAL_LABELS` are the labels other systems send (the
portal, one-door systems), fixed here so :func:`parse_status` keeps reading them; what a citizen
is shown comes from the wording catalogue (``dossier.status.*``) and may be reworded freely.

"Quá hạn" is never stored: it is computed from the promised return date and today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import IntEnum

from bot.text import fold
from bot.wording import text

__all__ = [
    "CLOSED_STATUSES",
    "PORTAL_LABELS",
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


# The labels the national portal (and one-door systems copying it) use for each status: what
# parse_status reads in data from other systems. Not citizen wording: never edit to reword a reply.
PORTAL_LABELS: dict[DossierStatus, str] = {
    DossierStatus.NEW: "Mới đăng ký",
    DossierStatus.RECEIVED: "Được tiếp nhận",
    DossierStatus.NOT_RECEIVED: "Không được tiếp nhận",
    DossierStatus.PROCESSING: "Đang xử lý",
    DossierStatus.NEEDS_DOCUMENTS: "Yêu cầu bổ sung giấy tờ",
    DossierStatus.NEEDS_PAYMENT: "Yêu cầu thực hiện nghĩa vụ tài chính",
    DossierStatus.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    DossierStatus.STOPPED: "Dừng xử lý",
    DossierStatus.DONE: "Đã xử lý xong",
    DossierStatus.RETURNED: "Đã trả kết quả",
}
_BY_FOLDED_LABEL: dict[str, DossierStatus] = {fold(label): status for status, label in PORTAL_LABELS.items()}

# Wording keys of each status's label as shown to citizens and its next step
# (bot/wording/citizen.vi.yml, dossier.status.*).
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


def status_info(status: int | DossierStatus) -> StatusInfo:
    """The citizen's label and next step of ``status`` (1..10), from the wording; ValueError for anything else."""
    st = DossierStatus(int(status))
    label, step = _INFO[st]
    return StatusInfo(st, text(label), text(step))


def parse_status(value: object) -> DossierStatus:
    """A status from a number (``4``, ``"4"``) or a :data:`PORTAL_LABELS` label (``"Đang xử lý"``, any case/diacritics).

    ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a dossier status: {value!r}")
    if isinstance(value, int):
        return DossierStatus(value)
    raw = str(value).strip()
    if raw.isascii() and raw.isdecimal() and len(raw) <= 2:  # not "²" or "٤", which isdigit() accepts
        return DossierStatus(int(raw))
    found = _BY_FOLDED_LABEL.get(fold(raw))
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
