"""Personal data in would-be training examples: the Vietnamese forms, and placeholders that pass."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.training.pii import PLACEHOLDERS, find_personal_data, placeholder


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("cccd của tôi 001099012345", "id_number", "001099012345"),
        ("số căn cước 001 099 012 345 nhé", "id_number", "001 099 012 345"),
        ("cmnd 123456789 hết hạn", "id_number", "123456789"),
        ("gọi cho tôi +84 912 345 678", "phone", "+84 912 345 678"),
        ("sđt 0912345678", "phone", "0912345678"),
        ("sđt 0912.345.678 ạ", "phone", "0912.345.678"),
        ("email nguyenvana@gmail.com", "email", "nguyenvana@gmail.com"),
        ("hồ sơ 000.00.00.H99-261120-0001 đến đâu", "dossier_code", "000.00.00.H99-261120-0001"),
        ("số 091*****78 của tôi", "masked", "091*****78"),
    ],
)
def test_finds_each_form(text: str, kind: str, value: str) -> None:
    findings = find_personal_data(text)
    assert [(f.kind, text[f.start : f.end]) for f in findings] == [(kind, value)]
    assert value not in findings[0].excerpt or kind == "masked"


@pytest.mark.parametrize("text", ["tôi là Nguyễn Văn An", "toi la nguyen van an", "NGUYỄN VĂN AN đây"])
def test_known_names_with_or_without_diacritics(text: str) -> None:
    findings = find_personal_data(text, known_names=["Nguyễn Văn An"])
    assert [f.kind for f in findings] == ["name"]
    assert "An" not in findings[0].excerpt.replace("A***", "")


def test_no_false_alarms_on_codes_dates_and_placeholders() -> None:
    assert find_personal_data("thủ tục 1.004222 nộp ngày 26/11/2026, lệ phí 50.000 đồng") == []
    assert find_personal_data(" ".join(PLACEHOLDERS.values())) == []


def test_placeholder_reads_naturally_and_is_clean() -> None:
    text = "tôi Nguyễn Văn An, sđt 0912 345 678, cccd 001099012345, mail an@x.vn, hồ sơ 000.00.00.H99-261120-0001"
    findings = find_personal_data(text, known_names=["Nguyễn Văn An"])
    assert [f.kind for f in findings] == ["name", "phone", "id_number", "email", "dossier_code"]
    clean = placeholder(text, findings)
    assert clean == ("tôi Nguyen Van A, sđt 0900000000, cccd 001000000000, mail ten@example.com, "
                     "hồ sơ 000.00.12.H61-240831-0001")  # fmt: skip
    assert find_personal_data(clean, known_names=["Nguyễn Văn An"]) == []


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.sampled_from(["09", "03", "07", "08", "05"]),
    digits=st.text(alphabet="0123456789", min_size=8, max_size=8),
    style=st.sampled_from(["{a}{b}{c}", "{a} {b} {c}", "{a}.{b}.{c}", "{a}-{b}-{c}", "+84 {a1} {b} {c}"]),
)
def test_mobile_numbers_in_any_grouping(prefix: str, digits: str, style: str) -> None:
    number = prefix + digits
    assume(number != PLACEHOLDERS["phone"])  # the placeholder is never reported
    a, b, c = number[:4], number[4:7], number[7:]
    written = style.format(a=a, b=b, c=c, a1=a[1:])
    text = f"liên hệ {written} giúp em"
    findings = find_personal_data(text)
    assert [f.kind for f in findings] == ["phone"], written
    assert text[findings[0].start : findings[0].end] == written
