"""Word segmentation keeps true offsets through NFD input and keeps codes whole."""

import unicodedata

import pytest

from bot.nlu.segmentation import nfc_with_offsets, segment


@pytest.mark.parametrize("segmenter", ["underthesea", "pyvi", "syllable"])
def test_offsets_point_into_original_text(segmenter: str) -> None:
    text = "Cho em hỏi làm căn cước gắn chip cần giấy tờ gì ạ?"
    for variant in (text, unicodedata.normalize("NFD", text)):
        tokens = segment(variant, segmenter)
        assert tokens
        for tok in tokens:
            assert unicodedata.normalize("NFC", variant[tok.start : tok.end]) == tok.text
        assert [t.lemma for t in tokens][-2:] == ["gi", "a"]


def test_underthesea_joins_words_and_lemmas_fold() -> None:
    tokens = segment("Đăng ký tạm trú ONLINE")
    assert [t.lemma for t in tokens] == ["dang ky", "tam tru", "online"]


def test_codes_are_kept_whole() -> None:
    tokens = segment("tra cứu hồ sơ 000.00.12.H61-240831-0001 và thủ tục 1.004222")
    texts = [t.text for t in tokens]
    assert "000.00.12.H61-240831-0001" in texts
    assert "1.004222" in texts


def test_nfc_offsets_map_back() -> None:
    nfd = unicodedata.normalize("NFD", "hộ khẩu")
    norm, offsets = nfc_with_offsets(nfd)
    assert norm == "hộ khẩu"
    assert offsets[-1] == len(nfd)
    assert nfd[offsets[3] :] == unicodedata.normalize("NFD", "khẩu")


def test_entity_boundaries_split_segmenter_words() -> None:
    text = "đăng ký khai sinh online như thế nào"
    end = len("đăng ký khai sinh")
    forced = [t.text for t in segment(text, boundaries=frozenset({0, end}))]
    assert "khai sinh" in forced and "online" in forced
