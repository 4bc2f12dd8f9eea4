"""Vietnamese folding: NFC/NFD, diacritics, case, teencode."""

import unicodedata

from bot.text import expand, fold, strip_diacritics


def test_fold_meets_nfc_nfd_and_case() -> None:
    nfc = "Đăng ký Tạm trú"
    nfd = unicodedata.normalize("NFD", nfc)
    assert fold(nfc) == fold(nfd) == fold("DANG KY TAM TRU") == "dang ky tam tru"


def test_strip_diacritics_handles_d_bar() -> None:
    assert strip_diacritics("Đường đi") == "Duong di"


def test_expand_teencode_and_abbreviations() -> None:
    assert expand("lam CCCD ko dc a") == "lam can cuoc cong dan khong duoc a"
    assert expand("đổi gplx") == "doi giay phep lai xe"


def test_split_message_respects_limit_and_keeps_text() -> None:
    from bot.text import split_message

    items = "\n".join(f"- Giấy tờ số {i}: bản chính hoặc bản sao có chứng thực" for i in range(60))
    text = "Dạ, hồ sơ gồm:\n\n" + items + "\n\nMã thủ tục: 1.004222"
    parts = split_message(text, 500)
    assert all(len(p) <= 500 for p in parts)
    assert len(parts) > 1
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())
    assert split_message("ngắn", 10) == ["ngắn"]
