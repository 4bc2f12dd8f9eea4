"""What a citizen's question says besides the procedure: the word lists, as data, in one place.

Citizens wrap a procedure in a question ("cho em hỏi thủ tục đăng ký kết hôn cần giấy
tờ gì ạ"). Before ranking, :mod:`bot.catalog.search` drops the question words, polite
particles and chat phrases listed here, and reads procedure codes typed anywhere in the
message (:func:`codes_in`). Everything is folded (no diacritics, lower case, "đ" -> "d")
and written after teencode expansion ("cần j" -> "cần gì"), except
:data:`ACCENTED_PARTICLES`, which are filler only when typed with their marks.

A phrase is removed from names and aliases too (the same pipeline runs at build time),
so a word that is also a meaningful catalogue word ("thẻ"/"thế", "căn"/"cần",
"hồi"/"hỏi") appears here only inside an unambiguous phrase.
"""

from __future__ import annotations

import re

__all__ = [
    "ACCENTED_PARTICLES",
    "CHAT_ONLY",
    "CLAUSE_PARTICLES",
    "CODE_RE",
    "FILING_PHRASES",
    "FILLER_PHRASES",
    "GENERIC_WORDS",
    "GREETING_PHRASES",
    "POLITE_PHRASES",
    "QUESTION_PHRASES",
    "codes_in",
    "without_codes",
]

#: A procedure code typed in a message: "1.004222", "1004222", "1_004222" (not part of a longer number).
CODE_RE = re.compile(r"(?<![\d.])(\d)[._]?(\d{6})(?![\d])")

#: Who asks and how politely: "cho em hỏi", "xin hỏi", "giúp", "ạ" (folded).
POLITE_PHRASES: tuple[str, ...] = (
    "cho em hoi", "cho minh hoi", "cho toi hoi", "cho chau hoi", "cho hoi", "xin hoi", "muon hoi",
    "em hoi", "minh hoi", "hoi chut", "hoi ve", "cho em", "cho minh", "cho toi",
    "toi can", "em can", "minh can", "dang can", "can phai",
    "a", "ah", "ak", "oi", "nhe", "nhi", "vay", "em", "minh", "toi", "tui",
    "muon", "giup", "xin", "huong dan", "voi", "ad", "admin",
)  # fmt: skip

#: What is asked about the procedure (documents, fee, time, place, how): the intent says it, not the ranking.
QUESTION_PHRASES: tuple[str, ...] = (
    "lam sao", "lam the nao de", "lam the nao", "nhu the nao", "the nao", "nhu nao", "ra sao", "thi sao",
    "can nhung giay to gi", "can giay to gi", "can ho so gi", "can chuan bi gi", "can nhung gi", "can gi",
    "can lam gi", "giay to gi", "ho so gi", "nhung gi", "chuan bi gi", "can nhung", "gom nhung",
    "het bao nhieu tien", "mat bao nhieu tien", "bao nhieu tien",
    "het bao nhieu", "mat bao nhieu", "bao nhieu", "mat bao lau", "bao lau",
    "le phi", "o dau", "nop o dau", "lam o dau",
    "duoc khong", "co duoc khong", "phai khong", "khong a",
    "gi", "nao", "lam",  # "lâm"/"làm" is a loss we accept
)  # fmt: skip

#: How to file is not what to file: the submission method is chosen later in the dialogue.
FILING_PHRASES: tuple[str, ...] = (
    "nop truc tuyen", "lam truc tuyen", "truc tuyen", "qua mang", "tren mang",
)  # fmt: skip

#: Words that name the kind of thing, not which one ("thủ tục", "dịch vụ công").
FILLER_PHRASES: tuple[str, ...] = ("thu tuc hanh chinh", "thu tuc", "dich vu cong")

#: Greetings and thanks around a question.
GREETING_PHRASES: tuple[str, ...] = (
    "xin chao", "chao ban", "chao em", "chao anh", "chao chi", "cam on", "alo", "hello", "tam biet", "chuc ngu ngon",
)  # fmt: skip

#: Particles that are filler only as typed with their marks: "thì" is filler, but "thi" may be the
#: exam in "thi bằng lái"; "dạ" is politeness, "đa" is not; "để" (in order to) and "đi" (go) are not "đề", "di".
ACCENTED_PARTICLES: frozenset[str] = frozenset(
    {"thì", "mà", "ạ", "à", "ơi", "nhé", "nhá", "vậy", "ừ", "dạ", "nhỉ", "hả", "hử", "nhen", "để", "đi"}
)

#: Linking particles that end a clause in a long message ("… nay ảnh đã mờ thì đổi thẻ ở đâu"), as typed
#: with their marks only (folded "thi" may be the exam); :mod:`bot.catalog.resolve` reads clauses alone.
CLAUSE_PARTICLES: tuple[str, ...] = ("thì", "mà")

#: Whole messages that are chat, not a procedure ("vâng ạ" would otherwise find "tạm vắng").
CHAT_ONLY: frozenset[str] = frozenset(
    {"vang", "vang a", "da", "da vang", "ok", "oke", "okay", "uh", "um", "u", "co", "khong", "roi", "duoc",
     "dung roi", "sai roi", "tam biet", "chuc ngu ngon", "bye", "hi", "chao", "test"}
)  # fmt: skip


#: Words that can stay in a question once the phrases above are dropped and still say nothing about
#: which procedure ("còn … thì sao", "có bắt buộc không", "khi nào có kết quả", "con 8 tuổi"). A message
#: made only of these is a bare question (ask which procedure); a message with any other word has a
#: topic, and when that topic matches nothing the catalogue does not have it (say so, never guess).
#: Not used for ranking.
GENERIC_WORDS: frozenset[str] = frozenset(
    {"con", "sao", "nay", "do", "kia", "ve", "viec", "cai", "o", "dau", "di", "den", "tu", "tai", "cho", "ai",
     "khi", "luc", "bay", "gio", "hien", "truoc", "sau", "moi", "cu", "lai", "lan", "nua", "them", "roi", "chua",
     "da", "se", "dang", "co", "khong", "duoc", "phai", "bi", "can", "mang", "theo", "nop", "nhan", "ket", "qua",
     "ho", "so", "giay", "to", "thoi", "gian", "ngay", "thang", "nam", "tuoi", "gai", "trai", "be", "chau",
     "the", "nhu", "vay", "het", "han", "mat", "bao", "nhieu", "lau", "tien", "dong", "phi", "mien", "phat",
     "bat", "buoc", "dieu", "kien", "truc", "tiep", "online", "phuong", "xa", "tinh", "thanh", "pho",
     "nguoi", "nha", "minh", "ban", "anh", "chi", "ong", "ba", "ma", "la", "va", "hay", "hoac", "cua", "voi"}
)  # fmt: skip


def codes_in(text: str) -> list[str]:
    """Procedure codes typed in ``text``, normalised to digits ("1004222"), in order, without repeats."""
    return list(dict.fromkeys(m.group(1) + m.group(2) for m in CODE_RE.finditer(text or "")))


def without_codes(text: str) -> str:
    """``text`` with every procedure code blanked out."""
    return CODE_RE.sub(" ", text or "")
