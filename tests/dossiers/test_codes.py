"""Dossier codes and the status vocabulary."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dossiers.codes import (
    CODE_EXAMPLE,
    CODE_FORMAT,
    InvalidDossierCode,
    extract_code,
    filing_date,
    find_codes,
    is_valid_code,
    normalise_dossier_code,
)
from bot.dossiers.render import invalid_code_text
from bot.dossiers.status import (
    CLOSED_STATUSES,
    DossierStatus,
    days_overdue,
    is_overdue,
    parse_status,
    status_info,
)

CANON = "000.00.12.H61-240831-0001"


@pytest.mark.parametrize(
    "typed",
    [
        "000.00.12.H61-240831-0001",
        "000.00.12.h61-240831-0001",
        " 000.00.12.H61-240831-0001 ",
        "000 . 00 . 12 . H61 - 240831 - 0001",
        "000.0012.H61-240831-0001",  # a missing dot
        "00000.12.H61-240831-0001",
        "000.00.12H61-240831-0001",
        "000.00.12.H61–240831–0001",  # en dashes from a phone keyboard
        "000.00.12.H61 240831 0001",
        "0000012H612408310001",
    ],
)
def test_normalise_tolerates_spacing_case_and_missing_separators(typed: str) -> None:
    assert normalise_dossier_code(typed) == CANON


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "1.004222",
        "0912345678",
        "000.00.12.H61-240831-001",  # sequence too short
        "000.00.12.H61-24083-0001",
        "000.00.12.61-240831-0001",  # letter missing
        "000.00.12.HH1-240831-0001",
        "00.00.12.H61-240831-0001",
        "000.00.12.H61-241331-0001",  # month 13
        "000.00.12.H61-240230-0001",  # 30 February
        "000.00.12.H61-240831-0001-0002",
        "hồ sơ 000.00.12.H61-240831-0001",  # a sentence is for find_codes
    ],
)
def test_normalise_rejects_with_vietnamese_format_and_example(typed: str) -> None:
    with pytest.raises(InvalidDossierCode) as err:
        normalise_dossier_code(typed)
    msg = invalid_code_text(err.value)
    assert CODE_FORMAT in msg and CODE_EXAMPLE in msg
    assert msg.startswith("Dạ,") and "anh/chị" in msg
    assert not is_valid_code(typed)


def test_impossible_date_is_explained() -> None:
    with pytest.raises(InvalidDossierCode) as err:
        normalise_dossier_code("000.00.12.H61-241331-0001")
    assert "YYMMDD" in invalid_code_text(err.value)


def test_find_codes_in_free_sentences() -> None:
    assert extract_code("tra cứu hồ sơ 000.00.12.H61-240831-0001") == CANON
    assert extract_code("Hồ sơ số 000.00.12.h61-240831-0001 của tôi đến đâu rồi?") == CANON
    assert extract_code("mã: 000.00.00.H99-261120-0001.") == "000.00.00.H99-261120-0001"
    assert find_codes(
        "hai hồ sơ 000.00.12.H61-240831-0001 và 000.00.00.H99 - 261120 - 0001, lại 000.00.12.H61-240831-0001"
    ) == [
        CANON,
        "000.00.00.H99-261120-0001",
    ]
    assert extract_code("tôi muốn hỏi thủ tục 1.004222, sđt 0912345678") is None
    assert extract_code("mã 000.00.12.H61-241331-0001 sai ngày") is None
    assert find_codes("") == []


def test_find_codes_allows_any_run_of_spaces_around_separators() -> None:
    # The sentence pattern was rewritten from "\s*\.?\s*" to "\s*(?:\.\s*)?" (same language, no
    # quadratic backtracking): runs of spaces, tabs and line breaks are still accepted.
    assert find_codes("mã  000  .  00 .12 .\tH61  -  240831 -\n 0001  nhé") == [CANON]
    assert find_codes("000 00 12 H61 240831 0001") == [CANON]
    assert find_codes("000" + " " * 5000 + ".00.12.H61-240831-0001") == [CANON]
    assert find_codes("000" + " " * 5000) == []
    assert find_codes("000 . 00 . 12 . H61 - - 240831 - 0001") == []  # two dashes


def test_filing_date() -> None:
    assert filing_date(CANON) == date(2024, 8, 31)


def test_status_vocabulary_has_ten_labels_and_polite_next_steps() -> None:
    labels = [status_info(s).label for s in range(1, 11)]
    assert labels == [
        "Mới đăng ký",
        "Được tiếp nhận",
        "Không được tiếp nhận",
        "Đang xử lý",
        "Yêu cầu bổ sung giấy tờ",
        "Yêu cầu thực hiện nghĩa vụ tài chính",
        "Công dân yêu cầu rút hồ sơ",
        "Dừng xử lý",
        "Đã xử lý xong",
        "Đã trả kết quả",
    ]
    for s in range(1, 11):
        step = status_info(s).next_step
        assert "anh/chị" in step.lower() and step.endswith("ạ.")
    assert "bổ sung" in status_info(5).next_step
    with pytest.raises(ValueError):
        status_info(11)


def test_parse_status_from_numbers_and_labels() -> None:
    assert parse_status(4) is DossierStatus.PROCESSING
    assert parse_status("10") is DossierStatus.RETURNED
    assert parse_status("yeu cau bo sung giay to") is DossierStatus.NEEDS_DOCUMENTS
    assert parse_status("Đã trả kết quả") is DossierStatus.RETURNED
    for bad in ("0", "abc", True, None):
        with pytest.raises(ValueError):
            parse_status(bad)


def test_overdue_is_computed_and_ignores_closed_statuses() -> None:
    promised, today = date(2026, 12, 1), date(2026, 12, 3)
    assert is_overdue(4, promised, today) and days_overdue(4, promised, today) == 2
    assert is_overdue(5, promised, today)
    assert not is_overdue(4, promised, promised)  # due today is not late yet
    assert not is_overdue(4, None, today)
    for closed in (3, 7, 8, 9, 10):
        assert DossierStatus(closed) in CLOSED_STATUSES
        assert not is_overdue(closed, promised, today) and days_overdue(closed, promised, today) == 0
