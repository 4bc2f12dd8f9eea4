"""The national portal's dossier status vocabulary (1..10), next steps for the citizen, and overdue.

"Quá hạn" is never stored: it is computed from the promised return date and today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import IntEnum

from bot.text import fold

__all__ = [
    "CLOSED_STATUSES",
    "VN_TZ",
    "DossierStatus",
    "StatusInfo",
    "days_overdue",
    "is_overdue",
    "parse_status",
    "status_info",
    "today_vn",
]

# Vietnam has no daylight saving time; a fixed offset avoids depending on tzdata.
VN_TZ = timezone(timedelta(hours=7), "ICT")


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


_INFO: dict[DossierStatus, tuple[str, str]] = {
    DossierStatus.NEW: (
        "Mới đăng ký",
        "Hồ sơ đã được gửi và đang chờ cơ quan kiểm tra để tiếp nhận. Anh/chị chưa cần làm gì thêm; "
        "vui lòng theo dõi tin nhắn hoặc thư điện tử để biết hồ sơ đã được tiếp nhận hay cần bổ sung ạ.",
    ),
    DossierStatus.RECEIVED: (
        "Được tiếp nhận",
        "Cơ quan đã tiếp nhận hồ sơ và chuyển sang giải quyết. Anh/chị giữ Giấy tiếp nhận hồ sơ và hẹn "
        "trả kết quả, và chờ đến ngày hẹn trả ạ.",
    ),
    DossierStatus.NOT_RECEIVED: (
        "Không được tiếp nhận",
        "Hồ sơ không được tiếp nhận, thường vì còn thiếu giấy tờ, kê khai chưa đúng hoặc không đúng cơ quan "
        "có thẩm quyền. Anh/chị xem lý do trong thông báo từ chối (trên Cổng Dịch vụ công hoặc phiếu từ chối), "
        "chuẩn bị lại cho đủ rồi nộp một hồ sơ mới ạ.",
    ),
    DossierStatus.PROCESSING: (
        "Đang xử lý",
        "Hồ sơ đang được cán bộ giải quyết. Anh/chị chưa cần làm gì thêm, vui lòng chờ đến ngày hẹn trả kết quả ạ.",
    ),
    DossierStatus.NEEDS_DOCUMENTS: (
        "Yêu cầu bổ sung giấy tờ",
        "Cơ quan cần anh/chị nộp thêm hoặc sửa lại một số giấy tờ thì mới giải quyết tiếp được. Anh/chị xem "
        "nội dung cần bổ sung trong thông báo (trên Cổng Dịch vụ công, tin nhắn hoặc phiếu yêu cầu bổ sung), "
        "chuẩn bị đúng các giấy tờ được nêu và nộp bổ sung trực tuyến hoặc tại nơi đã nộp hồ sơ. Thời gian chờ "
        "anh/chị bổ sung thường không tính vào thời hạn giải quyết ạ.",
    ),
    DossierStatus.NEEDS_PAYMENT: (
        "Yêu cầu thực hiện nghĩa vụ tài chính",
        "Anh/chị cần nộp phí, lệ phí hoặc thuế theo thông báo thì hồ sơ mới được giải quyết tiếp. Anh/chị có "
        "thể thanh toán trực tuyến trên Cổng Dịch vụ công hoặc nộp tại cơ quan, ngân hàng theo hướng dẫn trong "
        "thông báo, và giữ lại biên lai ạ.",
    ),
    DossierStatus.WITHDRAWN: (
        "Công dân yêu cầu rút hồ sơ",
        "Hồ sơ đã được rút theo yêu cầu của người nộp nên không được giải quyết tiếp. Nếu vẫn cần làm thủ tục "
        "này, anh/chị vui lòng nộp một hồ sơ mới ạ.",
    ),
    DossierStatus.STOPPED: (
        "Dừng xử lý",
        "Cơ quan đã dừng giải quyết hồ sơ. Anh/chị xem lý do trong thông báo, hoặc liên hệ bộ phận một cửa nơi "
        "đã nộp hồ sơ để được hướng dẫn ạ.",
    ),
    DossierStatus.DONE: (
        "Đã xử lý xong",
        "Hồ sơ đã giải quyết xong và đang chờ trả kết quả. Anh/chị mang Giấy tiếp nhận hồ sơ và hẹn trả kết "
        "quả cùng giấy tờ tùy thân đến nơi nộp hồ sơ để nhận, hoặc chờ nhận qua bưu điện hay bản điện tử nếu "
        "đã đăng ký hình thức đó ạ.",
    ),
    DossierStatus.RETURNED: (
        "Đã trả kết quả",
        "Kết quả đã được trả. Nếu anh/chị chưa nhận được hoặc thấy kết quả có sai sót, vui lòng liên hệ bộ phận "
        "một cửa nơi đã nộp hồ sơ ạ.",
    ),
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

_BY_FOLDED_LABEL = {fold(label): status for status, (label, _) in _INFO.items()}


def status_info(status: int | DossierStatus) -> StatusInfo:
    """Label and next step of ``status`` (1..10); ValueError for anything else."""
    st = DossierStatus(int(status))
    label, step = _INFO[st]
    return StatusInfo(st, label, step)


def parse_status(value: object) -> DossierStatus:
    """A status from a number (``4``, ``"4"``) or a portal label (``"Đang xử lý"``, any case/diacritics)."""
    if isinstance(value, bool):
        raise ValueError(f"not a dossier status: {value!r}")
    if isinstance(value, int):
        return DossierStatus(value)
    text = str(value).strip()
    if text.isascii() and text.isdecimal() and len(text) <= 2:  # not "²" or "٤", which isdigit() accepts
        return DossierStatus(int(text))
    found = _BY_FOLDED_LABEL.get(fold(text))
    if found is None:
        raise ValueError(f"not a dossier status: {value!r}")
    return found


def today_vn(now: datetime | None = None) -> date:
    """Today's date in Vietnam (promised dates are Vietnamese calendar dates)."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(VN_TZ).date()


def is_overdue(status: int | DossierStatus, promised: date | None, today: date) -> bool:
    """True when the promised return date has passed and the dossier is still open."""
    if promised is None or DossierStatus(int(status)) in CLOSED_STATUSES:
        return False
    return today > promised


def days_overdue(status: int | DossierStatus, promised: date | None, today: date) -> int:
    """Days past the promised date (0 when not overdue)."""
    return (today - promised).days if promised is not None and is_overdue(status, promised, today) else 0
