"""Cited answers about procedures, composed from the catalogue (no Rasa imports).

Every figure in a reply comes from a :class:`~bot.catalog.domain.Procedure`;
nothing here types a fee or a processing time by hand. Every answer about a
procedure ends with its code, its source link and the date it was verified.
When the catalogue does not know, the reply says so and points to the portal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.catalog.domain import Fee, Method, Procedure
from bot.config import settings

QUESTION_INTENTS = (
    "ask_documents",
    "ask_fee",
    "ask_processing_time",
    "ask_where",
    "ask_how_online",
    "ask_procedure_info",
)
MAX_CHOICE_BUTTONS = 4
PORTAL_HOME = "https://dichvucong.gov.vn"

CHANNEL_LABELS = {"online": "Nộp trực tuyến", "direct": "Nộp trực tiếp", "postal": "Nộp qua bưu chính"}
UNIT_LABELS = {"working_day": "ngày làm việc", "day": "ngày", "hour": "giờ"}
LEVEL_LABELS = {"commune": "cấp xã", "province": "cấp tỉnh", "central": "cấp trung ương"}
PORTAL_LABELS = {
    "dichvucong": "Cổng Dịch vụ công quốc gia (dichvucong.gov.vn)",
    "vneid": "ứng dụng định danh quốc gia VNeID",
    "bocongan": "Cổng dịch vụ công Bộ Công an (dichvucong.bocongan.gov.vn)",
}
QUESTION_BUTTONS = (
    ("ask_documents", "Giấy tờ cần chuẩn bị"),
    ("ask_fee", "Lệ phí"),
    ("ask_processing_time", "Thời gian giải quyết"),
    ("ask_where", "Nộp ở đâu"),
    ("ask_how_online", "Cách nộp trực tuyến"),
)


@dataclass(frozen=True)
class Button:
    """A quick reply: the title shown and the payload sent back when pressed."""

    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """A channel-neutral reply; connectors render buttons natively and split long text."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True)
class Answer:
    """The reply plus the procedure the conversation is now about (for follow-ups)."""

    reply: Reply
    procedure_code: str | None = None
    resolved: bool = False


class CandidateLike(Protocol):
    code: str
    province: str | None
    name: str
    score: float


class CatalogLike(Protocol):
    def get(self, code: str, province: str | None = None) -> Procedure | None: ...
    def find(self, text: str, limit: int = 5) -> Sequence[CandidateLike]: ...
    def is_ambiguous(self, candidates: Sequence[CandidateLike]) -> bool: ...


def payload(intent: str, **entities: str) -> str:
    """A Rasa-style payload ``/intent{"entity": "value"}`` for a button."""
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


# ---------------------------------------------------------------- formatting


def format_vnd(amount: int) -> str:
    """10000 -> "10.000 đồng" (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + " đồng"


def format_number(value: float) -> str:
    """7.0 -> "7", 0.5 -> "0,5"."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}".replace(".", ",")


def format_time(method: Method) -> str:
    """Processing time with its unit, e.g. "7 ngày làm việc"; the note when the portal gives one."""
    parts = []
    if method.processing_time is not None and method.time_unit in UNIT_LABELS:
        parts.append(f"{format_number(method.processing_time)} {UNIT_LABELS[method.time_unit]}")
    if method.time_note:
        parts.append(method.time_note)
    return "; ".join(parts) if parts else "chưa có thông tin"


def format_fee(fee: Fee) -> str:
    """One fee with its legal basis; says so when the figure comes from the law rather than the portal."""
    amount = (
        "mức thu không cố định" if fee.amount is None else ("miễn phí" if fee.amount == 0 else format_vnd(fee.amount))
    )
    text = amount + (f" — {fee.description}" if fee.description else "")
    if fee.legal_basis:
        text += f" (căn cứ: {fee.legal_basis}"
        text += (
            "; Cổng DVC quốc gia không nêu mức thu, em lấy theo văn bản này)" if fee.source == "legal_basis" else ")"
        )
    return text


def citation(proc: Procedure) -> str:
    """The trust line that ends every answer about a procedure."""
    url = proc.source_url or settings().portal_procedure_url.format(code=proc.code)
    verified = proc.verified_on.strftime("%d/%m/%Y") if proc.verified_on else "chưa xác minh"
    return f"Mã thủ tục: {proc.code} · Nguồn: {url} · Cập nhật: {verified}"


def _with_citation(proc: Procedure, body: str) -> str:
    return f"{body.rstrip()}\n\n{citation(proc)}"


def _agency(proc: Procedure) -> str | None:
    agency = proc.competent or (proc.implementing[0] if proc.implementing else None)
    if agency is None:
        return None
    level = LEVEL_LABELS.get(agency.level)
    name = agency.name
    return name if not level or level.split()[-1] in name.lower() else f"{name} ({level})"


# ---------------------------------------------------------------- answers


def documents(proc: Procedure, case_index: int | None = None) -> Reply:
    """The documents to prepare, for one situation; other situations offered as buttons."""
    if not proc.cases:
        return _unknown_detail(proc, "thành phần hồ sơ")
    index = case_index if case_index is not None and 0 <= case_index < len(proc.cases) else None
    case = proc.cases[index] if index is not None else proc.common_case
    assert case is not None
    lines = [f"Dạ, để làm thủ tục {proc.name}, anh/chị chuẩn bị các giấy tờ sau:"]
    if len(proc.cases) > 1:
        lines[0] = f"Dạ, thủ tục {proc.name} — trường hợp: {case.name}. Anh/chị chuẩn bị:"
    lines += [f"• {_document_line(d.name, d.originals, d.copies, d.e_form, d.note)}" for d in case.documents]
    if not case.documents:
        lines.append("• Trường hợp này không yêu cầu nộp giấy tờ kèm theo.")
    buttons: list[Button] = []
    others = [(i, c) for i, c in enumerate(proc.cases) if c is not case]
    if others:
        lines.append("")
        lines.append(f"Thủ tục này còn {len(others)} trường hợp khác; anh/chị chọn nếu đúng với mình ạ.")
        for i, other in others[:MAX_CHOICE_BUTTONS]:
            buttons.append(Button(_short(other.name), payload("ask_documents", procedure_code=proc.code, case=str(i))))
    return Reply(_with_citation(proc, "\n".join(lines)), tuple(buttons))


def _document_line(name: str, originals: int, copies: int, e_form: bool, note: str | None) -> str:
    counts = []
    if originals:
        counts.append(f"{originals} bản chính")
    if copies:
        counts.append(f"{copies} bản sao")
    text = name.rstrip(" .;")
    if counts:
        text += f" ({', '.join(counts)})"
    if e_form:
        text += " — có biểu mẫu điện tử khi nộp trực tuyến"
    if note:
        text += f". {note}"
    return text


def fees(proc: Procedure) -> Reply:
    """Fees per channel with their legal basis; plain words when the procedure is free."""
    methods = [m for m in proc.methods if m.fees or proc.origin == "curated"]
    if not methods:
        return _unknown_detail(proc, "phí, lệ phí")
    if all(m.is_free or not m.fees for m in methods) and proc.origin == "curated":
        body = f"Dạ, thủ tục {proc.name} không mất phí, lệ phí ạ."
        return Reply(_with_citation(proc, body))
    lines = [f"Dạ, phí, lệ phí của thủ tục {proc.name}:"]
    # Channels with the same fees share one entry, so a long fee list is not repeated per channel.
    groups: dict[tuple[Fee, ...], list[str]] = {}
    for m in methods:
        groups.setdefault(m.fees, []).append(m.channel)
    for group_fees, channels in groups.items():
        label = _channels_label(channels)
        if not group_fees:
            lines.append(f"• {label}: không mất phí.")
        elif len(group_fees) == 1:
            lines.append(f"• {label}: {format_fee(group_fees[0])}")
        else:
            lines.append(f"• {label}:")
            lines += [f"   – {format_fee(f)}" for f in group_fees]
    cheaper = _online_saving(proc)
    if cheaper:
        lines.append(f"\nNộp trực tuyến tiết kiệm hơn {format_vnd(cheaper)} so với nộp trực tiếp ạ.")
    return Reply(_with_citation(proc, "\n".join(lines)))


def _channels_label(channels: list[str]) -> str:
    """ "Nộp trực tuyến", or "Nộp trực tuyến, trực tiếp" for channels that share their fees."""
    labels = [CHANNEL_LABELS.get(c, c) for c in channels]
    return labels[0] + "".join(", " + label.removeprefix("Nộp ").lower() for label in labels[1:])


def _online_saving(proc: Procedure) -> int | None:
    online, direct = proc.method("online"), proc.method("direct")
    if not online or not direct or len(online.fees) != 1 or len(direct.fees) != 1:
        return None
    a, b = online.fees[0].amount, direct.fees[0].amount
    return b - a if a is not None and b is not None and b > a else None


def processing_time(proc: Procedure) -> Reply:
    """Processing time per channel, with working days and calendar days told apart."""
    if not proc.methods:
        return _unknown_detail(proc, "thời gian giải quyết")
    lines = [f"Dạ, thời gian giải quyết thủ tục {proc.name}:"]
    lines += [f"• {CHANNEL_LABELS.get(m.channel, m.channel)}: {format_time(m)}" for m in proc.methods]
    if any(m.time_unit == "working_day" for m in proc.methods):
        lines.append("\n(Ngày làm việc không tính thứ Bảy, Chủ nhật và ngày lễ, Tết.)")
    return Reply(_with_citation(proc, "\n".join(lines)))


def where(proc: Procedure) -> Reply:
    """The competent agency at its level after the 2025 two-tier reform, and the ways to file."""
    agency = _agency(proc)
    if not agency:
        return _unknown_detail(proc, "cơ quan giải quyết")
    lines = [f"Dạ, thủ tục {proc.name} do {agency} giải quyết."]
    implementing = [a.name for a in proc.implementing if not proc.competent or a.name != proc.competent.name]
    if implementing:
        lines.append(f"Cơ quan tiếp nhận, thực hiện: {', '.join(implementing)}.")
    channels = [
        CHANNEL_LABELS[m.channel].removeprefix("Nộp ").lower() for m in proc.methods if m.channel in CHANNEL_LABELS
    ]
    if channels:
        lines.append(f"Anh/chị có thể nộp hồ sơ: {', '.join(channels)}.")
    if proc.method("online"):
        lines.append("Nộp trực tuyến thì không phải đến cơ quan để nộp hồ sơ ạ.")
    return Reply(_with_citation(proc, "\n".join(lines)))


def how_online(proc: Procedure) -> Reply:
    """How to file online: where, whether fully online (toàn trình), and the steps."""
    online = proc.method("online")
    if not online and proc.online_level == "none":
        body = (
            f"Dạ, hiện thủ tục {proc.name} chưa hỗ trợ nộp hồ sơ trực tuyến; "
            "anh/chị vui lòng nộp trực tiếp hoặc qua bưu chính (nếu có) ạ."
        )
        return Reply(_with_citation(proc, body))
    portals = [PORTAL_LABELS[p] for p in proc.online_portals if p in PORTAL_LABELS] or [PORTAL_LABELS["dichvucong"]]
    level = {
        "full": "Thủ tục này làm được toàn trình trực tuyến: nộp hồ sơ, nộp phí và nhận kết quả đều qua mạng.",
        "partial": "Thủ tục này mới trực tuyến một phần: anh/chị nộp hồ sơ qua mạng, "
        "nhưng vẫn cần đến cơ quan ở một bước (ví dụ đối chiếu giấy tờ hoặc nhận kết quả).",
    }.get(proc.online_level, "")
    lines = [f"Dạ, anh/chị có thể nộp trực tuyến thủ tục {proc.name} qua {' hoặc '.join(portals)}."]
    if level:
        lines.append(level)
    lines += [
        "Các bước:",
        "1. Đăng nhập bằng tài khoản định danh điện tử VNeID (mức 2).",
        f"2. Tìm thủ tục theo mã {proc.code} hoặc theo tên.",
        "3. Điền tờ khai điện tử, tải lên ảnh chụp hoặc bản điện tử của giấy tờ.",
        "4. Nộp phí, lệ phí trực tuyến (nếu có) và ghi lại mã hồ sơ để tra cứu.",
    ]
    if online:
        extra = [f"thời gian giải quyết {format_time(online)}"]
        if online.fees:
            extra.append("lệ phí " + "; ".join(format_fee(f) for f in online.fees))
        lines.append("\nKhi nộp trực tuyến: " + ", ".join(extra) + ".")
    return Reply(_with_citation(proc, "\n".join(lines)))


def overview(proc: Procedure) -> Reply:
    """A short summary with documents, fee, time and place in brief, and buttons to go deeper."""
    if not proc.is_detailed:
        return _unknown_detail(proc, "hướng dẫn chi tiết")
    lines = [f"Dạ, thủ tục {proc.name}:"]
    agency = _agency(proc)
    if agency:
        lines.append(f"• Nơi giải quyết: {agency}.")
    case = proc.common_case
    if case:
        lines.append(f"• Giấy tờ: {len(case.documents)} loại (trường hợp phổ biến: {_short(case.name, 80)}).")
    first = proc.method("online") or (proc.methods[0] if proc.methods else None)
    if first:
        lines.append(f"• Thời gian: {format_time(first)} ({CHANNEL_LABELS.get(first.channel, '').lower()}).")
        if first.fees:
            lines.append(f"• Lệ phí: {'; '.join(format_fee(f) for f in first.fees[:2])}.")
        elif proc.origin == "curated":
            lines.append("• Lệ phí: không mất phí.")
    lines.append(
        {"full": "• Làm được toàn trình trực tuyến.", "partial": "• Nộp trực tuyến được một phần."}.get(
            proc.online_level, "• Chưa hỗ trợ nộp trực tuyến."
        )
    )
    lines.append("\nAnh/chị muốn xem chi tiết phần nào ạ?")
    buttons = tuple(Button(title, payload(intent, procedure_code=proc.code)) for intent, title in QUESTION_BUTTONS)
    return Reply(_with_citation(proc, "\n".join(lines)), buttons)


def _unknown_detail(proc: Procedure, what: str) -> Reply:
    body = (
        f"Dạ, em chưa có thông tin đã xác minh về {what} của thủ tục {proc.name}. "
        f"Anh/chị vui lòng xem chi tiết trên Cổng Dịch vụ công quốc gia hoặc hỏi cán bộ hỗ trợ ạ."
    )
    return Reply(_with_citation(proc, body), (Button("Gặp cán bộ hỗ trợ", payload("request_human")),))


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


ANSWERERS = {
    "ask_documents": documents,
    "ask_fee": fees,
    "ask_processing_time": processing_time,
    "ask_where": where,
    "ask_how_online": how_online,
    "ask_procedure_info": overview,
}


# ---------------------------------------------------------------- resolution


def ask_which_procedure() -> Reply:
    """No procedure named and none earlier in the conversation."""
    return Reply(
        "Dạ, anh/chị đang hỏi về thủ tục nào ạ? Ví dụ: đăng ký tạm trú, cấp thẻ căn cước, đổi giấy phép lái xe."
    )


def unknown_procedure(mention: str) -> Reply:
    """The catalogue does not know the procedure: say so, point to the portal, offer a human."""
    return Reply(
        f'Dạ, em chưa tìm thấy thủ tục "{_short(mention, 80)}" trong danh mục em nắm được. '
        f"Anh/chị có thể tra cứu tại {PORTAL_HOME} (mục Thủ tục hành chính), "
        "hoặc để em chuyển anh/chị tới cán bộ hỗ trợ ạ.",
        (Button("Gặp cán bộ hỗ trợ", payload("request_human")),),
    )


def choose_procedure(intent: str, candidates: Sequence[CandidateLike]) -> Reply:
    """Ambiguous mention: at most four candidates as buttons that repeat the question."""
    buttons = tuple(
        Button(_short(c.name), payload(intent, procedure_code=c.code)) for c in candidates[:MAX_CHOICE_BUTTONS]
    )
    return Reply("Dạ, anh/chị muốn hỏi thủ tục nào dưới đây ạ?", buttons)


class ProcedureAdvisor:
    """Resolves which procedure a question is about and answers it from the catalogue."""

    def __init__(self, catalog: CatalogLike) -> None:
        self.catalog = catalog

    def answer(
        self,
        intent: str,
        *,
        mention: str | None = None,
        code: str | None = None,
        previous_code: str | None = None,
        case: str | None = None,
        province: str | None = None,
    ) -> Answer:
        """Answer ``intent`` about the procedure named by ``code``, ``mention`` or the previous turn."""
        if intent not in ANSWERERS:
            raise ValueError(f"not a procedure question: {intent}")
        proc = None
        if code:
            proc = self.catalog.get(code, province) or self.catalog.get(code)
        elif mention:
            candidates = list(self.catalog.find(mention, limit=MAX_CHOICE_BUTTONS))
            if not candidates:
                return Answer(unknown_procedure(mention), previous_code)
            if len(candidates) > 1 and self.catalog.is_ambiguous(candidates):
                return Answer(choose_procedure(intent, candidates), previous_code)
            proc = self.catalog.get(candidates[0].code, candidates[0].province)
        elif previous_code:
            proc = self.catalog.get(previous_code, province) or self.catalog.get(previous_code)
        if proc is None:
            return Answer(
                unknown_procedure(code or mention) if (code or mention) else ask_which_procedure(), previous_code
            )
        if intent == "ask_documents":
            text = str(case or "")
            # A button's case number: ASCII digits only ("²".isdigit() is True but int("²") fails).
            index = int(text) if text.isascii() and text.isdecimal() and len(text) <= 3 else None
            return Answer(documents(proc, index), proc.code, resolved=True)
        return Answer(ANSWERERS[intent](proc), proc.code, resolved=True)
