"""Segmentation stays linear in the message length: one chat message must not stall the server.

PROTECTED_RE used to rescan a run of letters or digits from every position in it, so
20,000 "1"s took 16 s and 100,000 "a"s 83 s. Each input here is 100 KB, fifty times the
server's message cap.

Times are CPU time of this process (``time.process_time``), best of three runs, with the
segmenter cache cleared before each: on a shared test machine wall time mostly measures
the neighbours, while a quadratic stage still costs seconds of CPU.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest

from bot.nlu.segmentation import PROTECTED_RE, _cached_segment, segment
from bot.text import fold
from tests.hostile_inputs import best_time, repeat

# Runs that made the old pattern backtrack, and plain text typed without diacritics.
INPUTS = {
    "letters": repeat("a"),
    "digits": repeat("1"),
    "dots": repeat("."),
    "digit-dot": repeat("1."),
    "at-signs": repeat("a@"),
    "code-prefix": repeat("000.00.00."),
    "unaccented": repeat("dang ky thuong tru can giay to gi "),
}


def _best_of_3(run: Callable[[], object]) -> tuple[float, float]:
    return best_time(run, before=_cached_segment.cache_clear)


@pytest.mark.parametrize("name", INPUTS)
def test_protected_re_is_linear(name: str) -> None:
    text = INPUTS[name]
    cpu, wall = _best_of_3(lambda: PROTECTED_RE.findall(text))
    print(f"PROTECTED_RE.findall {name}: {cpu * 1000:.1f} ms CPU, {wall * 1000:.1f} ms wall")
    assert cpu < 0.05


@pytest.mark.parametrize("segmenter", ["syllable", "auto"])
@pytest.mark.parametrize("name", INPUTS)
def test_segment_is_linear(name: str, segmenter: str) -> None:
    # All inputs are free of diacritics, so "auto" takes the syllable path too.
    text = INPUTS[name]
    cpu, wall = _best_of_3(lambda: segment(text, segmenter))
    print(f"segment {name} ({segmenter}): {cpu * 1000:.1f} ms CPU, {wall * 1000:.1f} ms wall")
    assert cpu < 0.1


def test_accented_message_at_the_cap_is_fast() -> None:
    text = repeat("đăng ký thường trú cần giấy tờ gì ", 2000)
    segment("đăng ký", "auto")  # loads underthesea's model, once per process
    cpu, wall = _best_of_3(lambda: segment(text, "auto"))
    print(f"segment 2,000 accented characters (auto): {cpu * 1000:.1f} ms CPU, {wall * 1000:.1f} ms wall")
    assert cpu < 1.0
    assert wall < 1.0
    assert [t.text for t in segment(text, "auto")][:4] == ["đăng ký", "thường trú", "cần", "giấy tờ"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tra cứu hồ sơ 000.00.12.H61-240831-0001 nhé", "000.00.12.H61-240831-0001"),
        ("mã 000 . 00 . 12 . H61 - 240831 - 0001 ạ", "000 . 00 . 12 . H61 - 240831 - 0001"),
        ("thủ tục 1.004222 là gì", "1.004222"),
        ("hẹn ngày 26/11/2026 nhé", "26/11/2026"),
        ("lệ phí 1.500.000 đồng", "1.500.000"),
        ("mở cửa lúc 7:30 sáng", "7:30"),
        ("gửi về nguyen.van-a+hs@mail.gov.vn giúp em", "nguyen.van-a+hs@mail.gov.vn"),
    ],
)
def test_protected_tokens_stay_whole(text: str, expected: str) -> None:
    for segmenter in ("syllable", "auto", "underthesea"):
        assert expected in [t.text for t in segment(text, segmenter)], segmenter


def test_tokens_start_only_where_a_run_starts() -> None:
    # A code inside a longer number is no code (as in bot.dossiers.codes); after letters it still is.
    # An e-mail's local part is at most 64 characters (RFC 5321).
    assert PROTECTED_RE.findall("3000 . 00 . 12 . H61 - 240831 - 0001") == []
    assert PROTECTED_RE.findall("hs000.00.12.H61-240831-0001") == ["000.00.12.H61-240831-0001"]
    assert PROTECTED_RE.findall("a" * 65 + "@mail.gov.vn") == []
    assert PROTECTED_RE.findall("a" * 64 + "@mail.gov.vn") == ["a" * 64 + "@mail.gov.vn"]


@pytest.mark.parametrize(
    "text",
    [
        "Đăng Ký THƯỜNG TRÚ online ở Hà Nội, 2 bản!",
        unicodedata.normalize("NFD", "Hộ chiếu mất bao lâu? 000.00.12.H61-240831-0001"),
        "ABC.def@Mail.Gov.VN\x1c7:30",
        "Mã 000 . 00 . 12 . H61 - 240831 - 0001 hả?",
    ],
)
def test_lemmas_are_folded_text(text: str) -> None:
    for segmenter in ("syllable", "auto", "underthesea"):
        tokens = segment(text, segmenter)
        assert tokens
        for tok in tokens:
            assert tok.lemma == fold(tok.text)
            assert unicodedata.normalize("NFC", text[tok.start : tok.end]) == tok.text
