"""The Rasa tokenizer component keeps token offsets true on NFD input (entity values are cut from them)."""

import unicodedata

import pytest

pytest.importorskip("rasa")

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.tokenizer import VietnameseTokenizer


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_token_offsets_slice_the_message_as_received(form: str) -> None:
    text = unicodedata.normalize(form, "đăng ký khai tử có thu đồng nào không ạ")
    tokenizer = VietnameseTokenizer({**VietnameseTokenizer.get_default_config()})
    tokens = tokenizer.tokenize(Message(data={TEXT: text}), TEXT)
    assert tokens
    for token in tokens:
        assert unicodedata.normalize("NFC", text[token.start : token.end]) == token.text
    assert tokens[0].text == "đăng ký" and tokens[0].end == len(unicodedata.normalize(form, "đăng ký"))


def test_auto_segmenter_keeps_procedure_edges_without_diacritics() -> None:
    from bot.nlu.segmentation import segment

    # underthesea alone glues "chieu mat" across the procedure's edge on accent-free text.
    assert [t.text for t in segment("lam ho chieu mat bao lau", "auto")] == ["lam", "ho", "chieu", "mat", "bao", "lau"]
    # Accented text keeps underthesea's words; capitals are segmented as lower case, offsets stay true.
    assert [t.text for t in segment("làm hộ chiếu mất bao lâu", "auto")] == ["làm", "hộ chiếu", "mất", "bao lâu"]
    text = "GIẤY PHÉP XÂY DỰNG BAO LÂU"
    tokens = segment(text, "auto")
    assert [t.text for t in tokens] == ["GIẤY PHÉP", "XÂY DỰNG", "BAO LÂU"]
    assert all(text[t.start : t.end] == t.text for t in tokens)
