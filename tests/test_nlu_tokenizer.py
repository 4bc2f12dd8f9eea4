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
