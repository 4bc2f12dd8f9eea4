"""Dialogue wording that is not about one procedure: intent labels, fallback and handoff (no Rasa imports)."""

from __future__ import annotations

from bot.answers import Button, Reply, payload
from bot.config import settings

INTENT_LABELS = {
    "ask_documents": "Hỏi giấy tờ cần chuẩn bị",
    "ask_fee": "Hỏi phí, lệ phí",
    "ask_processing_time": "Hỏi thời gian giải quyết",
    "ask_where": "Hỏi nơi nộp hồ sơ",
    "ask_how_online": "Hỏi cách nộp trực tuyến",
    "ask_procedure_info": "Hướng dẫn chung về thủ tục",
    "track_dossier": "Tra cứu tình trạng hồ sơ",
    "request_human": "Gặp cán bộ hỗ trợ",
    "greet": "Chào hỏi",
    "goodbye": "Kết thúc",
    "thank": "Cảm ơn",
    "subscribe_dossier": "Nhận thông báo khi có kết quả",
    "unsubscribe_dossier": "Hủy theo dõi hồ sơ",
}
# Intents worth offering as a guess: a button for "affirm" or "deny" would mean nothing.
GUESSABLE = tuple(INTENT_LABELS)


def clarify(ranking: list[tuple[str, float]], entities: dict[str, str]) -> Reply:
    """First step of the fallback ladder: "Ý anh/chị là …?" with the top two guesses as buttons."""
    guesses = [name for name, _ in ranking if name in GUESSABLE][:2]
    if not guesses:
        return offer_human()
    buttons = [Button(INTENT_LABELS[g], payload(g, **entities)) for g in guesses]
    buttons.append(Button("Không phải, gặp cán bộ", payload("request_human")))
    return Reply("Dạ, em chưa chắc đã hiểu đúng. Ý anh/chị là:", tuple(buttons))


def offer_human() -> Reply:
    """Second failure in a row: stop guessing and offer a person."""
    return Reply(
        "Dạ, em xin lỗi vì chưa hiểu được câu hỏi. Anh/chị có thể hỏi ngắn gọn hơn, ví dụ "
        '"đăng ký tạm trú cần giấy tờ gì", hoặc để em chuyển tới cán bộ hỗ trợ ạ.',
        (Button("Gặp cán bộ hỗ trợ", payload("request_human")),),
    )


def handoff() -> Reply:
    """Until the help-desk console exists: the hotline and office hours."""
    s = settings()
    return Reply(
        f"Dạ, anh/chị vui lòng liên hệ cán bộ hỗ trợ qua tổng đài {s.hotline}, "
        f"trong giờ làm việc: {s.office_hours}. "
        "Em rất tiếc chưa kết nối trực tiếp được ngay trong cuộc trò chuyện này ạ."
    )
