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
from collections.abc import Iterable

__all__ = [
    "ACCENTED_PARTICLES",
    "ACCENTED_QUESTION_PHRASES",
    "ASK_PATTERNS",
    "CHAT_ONLY",
    "CLAUSE_PARTICLES",
    "CODE_RE",
    "FILING_PHRASES",
    "FILLER_PHRASES",
    "GENERIC_WORDS",
    "GREETING_PHRASES",
    "MAX_ASKS",
    "POLITE_PHRASES",
    "QUESTION_PHRASES",
    "VARIANT_HINTS",
    "VARIANT_MARKERS",
    "asks_in",
    "codes_in",
    "in_order_typed",
    "variant_words",
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
    "mat phi", "mat tien", "ton phi", "ton tien", "mat may ngay", "mat thoi gian",  # a cost, not a loss
    "le phi", "o dau", "nop o dau", "lam o dau",
    "duoc khong", "co duoc khong", "phai khong", "khong a", "la gi", "hay khong",
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
    {"thì", "mà", "ạ", "à", "ơi", "nhé", "nhá", "vậy", "ừ", "dạ", "nhỉ", "hả", "hử", "nhen", "để", "đi", "còn"}
)

#: Question phrases that are filler only as typed with their marks: "thì sao", "thế nào" ("sao" alone may be
#: the copy of "bản sao", "thế" the pledge of "thế chấp").
ACCENTED_QUESTION_PHRASES: tuple[str, ...] = ("như thế nào", "thì sao", "thế nào", "thế còn", "ra sao", "làm sao")

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


#: What is asked, by question intent: phrases of the folded, teencode-expanded message
#: (:func:`bot.text.expand`). Real posts bundle asks ("sang tên thế nào, hết bao nhiêu"); each
#: phrase found names one ask, and the asks are answered in the order they were typed.
#: ``ask_how_online`` needs a question after the channel ("online được không", "qua VNeID thế nào"):
#: "đăng ký online mất phí bao nhiêu" asks the fee of the online filing, not how to file online.
ASK_PATTERNS: dict[str, tuple[str, ...]] = {
    "ask_documents": (
        r"giay to", r"ho so (gi|gom|can|nhu)", r"can (nhung )?(gi|j)\b", r"can nhung", r"chuan bi",
        r"mang theo", r"gom nhung", r"can mang",
    ),
    "ask_fee": (
        r"le phi", r"bao nhieu tien", r"(mat|ton|het) (phi|tien)", r"mien phi", r"chi phi",
        r"(het|mat|ton) (bao nhieu|bn)\b(?! (ngay|lau|thoi gian|buoc))", r"phi (bao nhieu|la bao nhieu)",
        r"mien giam", r"duoc mien", r"\bbao nhieu\b(?! (ngay|lau|thang|tuoi|nam|buoc|lan|nguoi|ban|to))",
    ),
    "ask_processing_time": (
        r"bao lau", r"may ngay", r"bao nhieu ngay", r"thoi gian (giai quyet|tra|lam|xu ly|cap)",
        r"khi nao (co|nhan|xong|lay)", r"\bkip\b",
    ),
    "ask_where": (
        r"o dau", r"noi nao", r"co quan nao", r"\bso nao",
        r"(nop|lam|xin|dang ky) (tai|o) (xa|phuong|huyen|tinh|so|ubnd|cong an)",
    ),
    "ask_how_online": (
        r"(online|truc tuyen|qua mang|tren mang|vneid|dich vu cong|qua app)( \w+){0,3} "
        r"(duoc khong|the nao|nhu the nao|ra sao|lam sao|tung buoc)",
        r"toan trinh( \w+){0,2} (lam sao|the nao|duoc khong)",
        r"(lam sao|the nao|cach) (de )?(\w+ ){0,5}(online|truc tuyen|qua mang|tren mang|vneid)",
    ),
    "ask_conditions": (
        r"bat buoc", r"bi phat", r"phat (khong|gi)", r"qua han", r"dieu kien", r"\bai (duoc|la nguoi|di lam|co the)",
        r"co (duoc|phai|can) (huong|lam|dang ky|doi|di|co|khai|xin|thi)", r"thoi han",
        r"het han( \w+){0,4} (duoc khong|co phai)", r"con duoc", r"lam thay", r"co mat\b(?! (tien|phi|bao|may|nhieu))",
    ),
    # How it goes, as a whole: answered by the overview, and only when nothing more precise is asked.
    "ask_procedure_info": (r"\b(the nao|nhu the nao|ra sao|lam sao)\b",),
}
#: Asks answered in one reply at most (a long post may touch everything; the rest stay as buttons).
MAX_ASKS = 3

_ASK_RES = {intent: re.compile("|".join(f"(?:{p})" for p in patterns)) for intent, patterns in ASK_PATTERNS.items()}


def in_order_typed(patterns: Iterable[tuple[str, re.Pattern[str]]], text: str) -> list[str]:
    """The names of the ``patterns`` found in ``text``, ordered by where each first matches."""
    found = [(match.start(), name) for name, pattern in patterns if (match := pattern.search(text))]
    return [name for _, name in sorted(found)]


def asks_in(expanded: str) -> list[str]:
    """The question intents a message asks, in the order typed, at most :data:`MAX_ASKS`.

    ``expanded`` is the message as :func:`bot.text.expand` gives it (folded, teencode expanded).
    Empty when the message names no ask ("thủ tục đăng ký kết hôn").
    """
    asks = in_order_typed(_ASK_RES.items(), expanded)
    if len(asks) > 1 and "ask_procedure_info" in asks:
        asks.remove("ask_procedure_info")  # the overview repeats what the precise asks answer
    return asks[:MAX_ASKS]


#: Words of a situation that choose a procedure's variant, on the folded, teencode-expanded message:
#: (pattern, the catalogue words it points to). "Mất" is a loss, not a cost ("mất phí", "mất bao lâu").
VARIANT_HINTS: tuple[tuple[str, str], ...] = (
    # A thing lost, not a person who died ("bố tôi mất") nor a cost ("mất phí", "mất bao lâu").
    (r"\b(bi|lam|danh|danh roi) mat\b|^mat\b|\bmat (the|so|giay|bang|can cuoc|ho chieu|vi|cap)\b", "cap lai"),
    # Lost or damaged beyond use: re-issued (Luật Căn cước 26/2023/QH15, Art. 24(2)).
    (r"\b(lam lai|xin lai|cap lai|that lac|bi chay|chay|hong|rach|gay)\b", "cap lai"),
    # Outdated or wrong: exchanged (Art. 24(1)); the insurance record says "đổi" too.
    (r"\b(doi|cap doi|het han|sai thong tin|doi sang)\b", "doi"),
    # A mistake to put right: the portal says "điều chỉnh" (insurance) or "cải chính" (civil status).
    (r"\b(sai|sua|dieu chinh|thay doi thong tin|ghi nham)\b", "dieu chinh"),
    (r"\b(sai|sua|cai chinh|ghi nham)\b", "cai chinh"),
    (r"\b(lan dau|chua co|moi mua|mua moi|xe moi)\b", "lan dau"),
    (r"\b(toan trinh|qua vneid|tren vneid|khong phai ra)\b", "truc tuyen toan trinh"),
    (r"\b(gia han|het han)\b", "gia han"),
    (r"\b(sua chua|cai tao|nang tang|nang them)\b", "sua chua"),
    (r"\b(tam ngung|tam nghi)\b", "tam ngung"),
    (r"\b(xoa|cat khau|chuyen di|chuyen tro)\b", "xoa"),
    (r"\b(dang ky lai|lam lai giay)\b", "dang ky lai"),
    (r"\b(lien thong|mot lan|cung luc|dong thoi)\b", "lien thong"),
    # A foreigner (the "có yếu tố nước ngoài" procedures), not a Vietnamese working abroad ("ở nước ngoài").
    (r"\b(nguoi nuoc ngoai|quoc tich nuoc ngoai|viet kieu|yeu to nuoc ngoai|lay chong nuoc ngoai)\b", "nuoc ngoai"),
)
#: Words that make a procedure a variant of another (a re-issue, a change, an extension, an end): a message
#: that says none of them means the plain procedure ("làm tạm trú" is the registration, not its extension).
VARIANT_MARKERS: tuple[str, ...] = (
    "cap lai", "doi", "dieu chinh", "gia han", "xoa", "dang ky lai", "tam ngung", "cham dut", "thu hoi",
    "thay doi", "sua chua",
)  # fmt: skip
_VARIANT_RES = tuple((re.compile(p), words) for p, words in VARIANT_HINTS)
_AGE_RE = re.compile(r"\b(?:(duoi|chua du|chua den) )?(\d{1,2}) ?(?:tuoi|t)\b")
#: Ages that decide a variant (the 2023 Law on Identification and the passport law: under 14, under 6).
_AGE_LIMITS = ((6, "duoi 6 tuoi"), (14, "duoi 14 tuoi"))


def variant_words(expanded: str) -> list[str]:
    """The catalogue words a message's situation points to ("mất" -> "cap lai", "8 tuổi" -> "duoi 14 tuoi").

    ``expanded`` is the message as :func:`bot.text.expand` gives it. Each item is a folded phrase
    that a variant's name holds; :func:`bot.catalog.resolve.resolve` favours candidates holding it.
    From 14 on, the age chooses nothing by itself (the first card, an exchange, a re-issue all apply).
    """
    found = [words for pattern, words in _VARIANT_RES if pattern.search(expanded)]
    for match in _AGE_RE.finditer(expanded):
        # "dưới 14 tuổi" is an age limit, not an age: the ages below it.
        age = int(match.group(2)) - (1 if match.group(1) else 0)
        found += [words for limit, words in _AGE_LIMITS if age < limit]
    return list(dict.fromkeys(found))
