"""Masking of phone numbers, ID numbers, e-mails and names in text and logs."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.privacy import (
    PIIMaskingFilter,
    install_log_masking,
    mask_email,
    mask_id,
    mask_name,
    mask_phone,
    mask_text,
)
from tests.hostile_inputs import PROSE, SIZE, best_time, repeat

PHONE_DIGITS = re.compile(r"\d{7,}")


def test_mask_phone_keeps_at_most_prefix_and_two_last_digits() -> None:
    assert mask_phone("0912345678") == "091*****78"
    assert mask_phone("0912 345 678") == "091*****78"
    assert mask_phone("+84912345678") == "+8491*****78"
    assert mask_phone("0084912345678") == "+8491*****78"
    assert mask_phone("02438234567") == "024******67"
    # The last 4 digits are the lookup secret: never 3 of them in a log.
    assert "678" not in mask_phone("0912345678")[-3:]


def test_mask_id_and_email_and_name() -> None:
    assert mask_id("001099012345") == "*********345"
    assert mask_id("123456789") == "******789"
    assert mask_email("nguyenvana@gmail.com") == "n***@gmail.com"
    assert mask_name("Nguyễn Văn A") == "N*** V*** A***"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("SĐT của tôi là 0912345678", "0912345678"),
        ("gọi 0912 345 678 giúp", "345 678"),
        ("0912.345.678", "345.678"),
        ("0912-345-678", "345-678"),
        ("+84 912 345 678", "912 345 678"),
        ("(+84) 912.345.678", "912.345.678"),
        ("+84912345678", "912345678"),
        ("84912345678", "912345678"),
        ("0084912345678", "912345678"),
        ("tel:0987654321.", "0987654321"),
        ("máy bàn 024.3823.4567", "3823.4567"),
        ("02438234567", "02438234567"),
        ("CCCD 001099012345", "001099012345"),
        ("căn cước số 001 099 012 345", "001 099 012 345"),
        ("CMND: 123456789", "123456789"),
        ("mail nguyenvana@gmail.com nhé", "nguyenvana@gmail.com"),
        ("a.b+c@so.gov.vn", "a.b+c@so.gov.vn"),
        ("hai số 0912345678, 0987654321", "0987654321"),
        ("hồ sơ 000.00.12.H61-240831-0001 của số 0912345678", "0912345678"),
    ],
)
def test_mask_text_hides_personal_data(text: str, secret: str) -> None:
    masked = mask_text(text)
    assert secret not in masked
    assert "*" in masked


@pytest.mark.parametrize(
    "text",
    [
        "tra cứu hồ sơ 000.00.00.H99-261120-0001",
        "000.00.12.H61-040831-0001",  # the 10 digits after the letter start with 0 like a phone
        "000.00.12.h61 - 040831 - 0001",
        "thủ tục 1.004222 và trường hợp 1.004222.01, 2.000908",
        "ngày hẹn 01/12/2026, nộp 20-11-2026",
        "cập nhật 2026-11-27T08:30:00",
        "lệ phí 1.000.000 đồng, 100.000 đ, 20.000đ",
        "năm 2024, 15 ngày làm việc, 7h30",
        "84 người, 12 hồ sơ",
        "số tiền 12.345.678",
        "tờ khai CT01, mẫu TK1-TS",
        "",
    ],
)
def test_mask_text_leaves_codes_dates_and_amounts_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_masks_known_names_with_and_without_diacritics() -> None:
    text = "Ông Nguyễn Văn Demo (NGUYỄN VĂN DEMO, nguyen van demo) hỏi hồ sơ"
    masked = mask_text(text, ["NGUYỄN VĂN DEMO"])
    assert "demo" not in masked.lower()
    assert masked.count("N*** V*** D***") == 2
    assert "n*** v*** d***" in masked
    # Part of a longer word is not a name.
    assert mask_text("Nguyễn Văn Demonstration", ["Nguyễn Văn Demo"]) == "Nguyễn Văn Demonstration"
    assert mask_text("không có tên", None) == "không có tên"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s %(request)s"))
    handler.addFilter(PIIMaskingFilter(names=lambda: ["Trần Thị Mẫu"]))
    logger = logging.getLogger("test.privacy.capture")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_filter_masks_message_args_extras_and_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("lookup by %s for %s", "0912345678", "Trần Thị Mẫu", extra={"request": "GET /u/001099012345"})
    try:
        raise ValueError("bad id 001099012345 phone +84912345678")
    except ValueError:
        logger.exception("failed for %(who)s", {"who": "a@b.vn"}, extra={"request": "-"})
    out = stream.getvalue()
    for secret in ("0912345678", "001099012345", "912345678", "Trần Thị Mẫu", "a@b.vn"):
        assert secret not in out, out
    assert "091*****78" in out and "ValueError" in out and "T*** T*** M***" in out


def test_filter_survives_broken_format_args(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.warning("two %s %s", "0912345678", extra={"request": "-"})  # one arg missing
    assert "0912345678" not in stream.getvalue()


def test_install_log_masking_covers_root_and_rasa_handlers() -> None:
    root_stream, sanic_stream = io.StringIO(), io.StringIO()
    root_handler = logging.StreamHandler(root_stream)
    sanic_handler = logging.StreamHandler(sanic_stream)
    sanic_logger = logging.getLogger("sanic.access")
    logging.getLogger().addHandler(root_handler)
    sanic_logger.addHandler(sanic_handler)
    old_factory = logging.getLogRecordFactory()
    try:
        install_log_masking()
        install_log_masking()  # idempotent: one filter per handler
        assert sum(isinstance(f, PIIMaskingFilter) for f in root_handler.filters) == 1
        logging.getLogger("rasa.core").warning("sender 0912345678 said CCCD 001099012345")
        sanic_logger.warning("POST /webhooks/rest from 0987654321")
        # A handler added afterwards is covered by the record factory.
        late_stream = io.StringIO()
        late = logging.StreamHandler(late_stream)
        logging.getLogger("late.module").addHandler(late)
        logging.getLogger("late.module").warning("phone %s", "0912 345 678")
        logging.getLogger("late.module").removeHandler(late)
    finally:
        logging.getLogger().removeHandler(root_handler)
        sanic_logger.removeHandler(sanic_handler)
        logging.setLogRecordFactory(old_factory)
        import bot.privacy.masking as masking

        masking._installed_factory = False
    combined = root_stream.getvalue() + sanic_stream.getvalue() + late_stream.getvalue()
    assert not PHONE_DIGITS.search(combined.replace(" ", "")), combined
    assert "091*****78" in combined


def test_many_names_use_one_cached_pattern() -> None:
    names = [f"Nguyễn Văn Thử{i}" for i in range(2000)] + ["Lê Thị Mẫu"]
    masked = mask_text("Lê Thị Mẫu và le thi mau, Nguyễn Văn Thử1999", names)
    assert masked == "L*** T*** M*** và l*** t*** m***, N*** V*** T***"


# --- Numbers written the ways citizens type them -------------------------------------------------


def _shown_digits(text: str) -> str:
    """Every digit left in ``text``, in ASCII (full-width and other Unicode digits included)."""
    return "".join(str(unicodedata.decimal(ch)) for ch in text if ch.isdecimal())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # phone glued to a letter prefix
        ("sdt0912345678", "sdt091*****78"),
        ("SĐT:0912345678", "SĐT:091*****78"),
        ("đt0912345678", "đt091*****78"),
        ("sđt0912345678 nhé", "sđt091*****78 nhé"),
        # ID glued to a prefix
        ("cccd001099012345", "cccd*********345"),
        ("CCCD:001099012345", "CCCD:*********345"),
        # grouped phones
        ("(091) 234-5678", "091*****78"),
        ("gọi (091) 234-5678 giúp em", "gọi 091*****78 giúp em"),
        ("091 234 5678", "091*****78"),
        ("0912.345.678", "091*****78"),
        ("ĐT (024) 3823 4567", "ĐT 024******67"),
        ("+84 (0) 912 345 678", "+8491*****78"),
        ("84 912345678", "8491*****78"),  # a phone, not "84" and a 9-digit CMND
        ("840912345678", "8491*****78"),
        # 12-digit ID grouped with - or .
        ("001-099-012-345", "*********345"),
        ("001.099.012.345", "*********345"),
        ("0010 9901 2345", "*********345"),
        ("001099 012345", "*********345"),
        ("ngày 01 0912345678", "ngày 01 091*****78"),  # a day and a phone, not a 12-digit ID
        ("năm 2024 0912 3456 78", "năm 2024 091*****78"),
        # digits separated by single spaces
        ("0 9 1 2 3 4 5 6 7 8", "091*****78"),
        ("số 0 9 1 2 3 4 5 6 7 8 ạ", "số 091*****78 ạ"),
        ("001 099 012 345", "*********345"),
        # full-width and other Unicode decimal digits; the rest of the text is kept as typed
        ("０９１２３４５６７８", "091*****78"),
        ("Ｓđt ０９１２ ３４５ ６７８ ạ", "Ｓđt 091*****78 ạ"),
        ("căn cước ００１０９９０１２３４５", "căn cước *********345"),
        ("٠٩١٢٣٤٥٦٧٨", "091*****78"),  # Arabic-Indic
        ("०९१२३४५६७८", "091*****78"),  # Devanagari
        ("0912\u200b345678", "091*****78"),  # a zero-width space inside the number
        ("0912\u00a0345\u00a0678", "091*****78"),  # no-break spaces
        ("0912–345–678", "091*****78"),  # en dashes
        # lists without spaces
        ("0987654321,0912345678", "098*****21,091*****78"),
        ("0912345678/0987654321", "091*****78/098*****21"),
        ("001099012345,001099012346", "*********345,*********346"),
    ],
)
def test_mask_text_masks_glued_grouped_and_unicode_numbers(text: str, expected: str) -> None:
    assert mask_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "000.00.12.H61-240831-0001",
        "hồ sơ 000 . 00 . 12 . H61 - 240831 - 0001 ạ",
        "000.00.12.H61 240831 0001",
        "0000012H612408310001",
        "０００.００.１２.Ｈ６１-２４０８３１-０００１",
        "thủ tục 1.004222",
        "hẹn 26/11/2026, nộp 2026-11-26, ngày ２６/１１/２０２６",
        "lệ phí 100.000 đồng, ５０.０００ đồng, 100.000.000.000 đồng",
        "năm 2026, 1900 1234, mã bưu chính 700000",
        "điểm 0.912345678 và 0.12345678901",  # decimals, not a phone or an ID
        "portal id 00000000-0000-7000-8000-000000000001",  # a UUID, not an ID grouped with dashes
    ],
)
def test_mask_text_keeps_codes_dates_amounts_and_decimals(text: str) -> None:
    assert mask_text(text) == text


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_CODE = "000.00.12.H61-240831-0001"
_BEFORE = st.sampled_from(["", "Số của tôi là ", "gọi giúp em ", "liên hệ: ", "Ông Nguyễn Văn A, "])
_AFTER = st.sampled_from(["", " ạ", ", cảm ơn", " nhé!", f". Hồ sơ {_CODE} của tôi", "\nxin cảm ơn"])


def _group(digits: str, sep: str, cuts: set[int]) -> str:
    return "".join(ch + (sep if i + 1 in cuts else "") for i, ch in enumerate(digits))


@st.composite
def _phones(draw: st.DrawFn) -> tuple[str, str, str]:
    """(national number, how it is written, digits the masked form may show)."""
    if draw(st.booleans()):  # mobile: 0 + 9 digits
        subscriber = draw(st.sampled_from("35789")) + draw(st.text("0123456789", min_size=8, max_size=8))
    else:  # landline: 02 + 9 digits
        subscriber = "2" + draw(st.text("0123456789", min_size=9, max_size=9))
    national = "0" + subscriber
    prefix = draw(st.sampled_from(["0", "+84", "84"]))
    sep = draw(st.sampled_from(["", " ", ".", "-"]))
    body = national if prefix == "0" else subscriber
    # Any grouping, except a lone dot right after the leading 0: "0.912345678" is a decimal number.
    first_cut = 2 if prefix == "0" and sep == "." else 1
    cuts = draw(st.sets(st.integers(first_cut, len(body) - 1))) if sep else set()
    written = _group(body, sep, cuts)
    if prefix != "0":
        written = prefix + draw(st.sampled_from(["", sep])) + written
    glue = draw(st.sampled_from(["", "sdt", "đt", "SĐT:", "sđt ", "ĐT: "]))
    if draw(st.booleans()):
        written = written.translate(_FULL_WIDTH)
    shown = (national[:3] if prefix == "0" else "84" + subscriber[:2]) + national[-2:]
    return national, glue + written, shown


@st.composite
def _ids(draw: st.DrawFn) -> tuple[str, str]:
    """(12-digit căn cước number, how it is written)."""
    number = f"{draw(st.integers(1, 96)):03d}" + draw(st.text("0123456789", min_size=9, max_size=9))
    sep = draw(st.sampled_from(["", " ", ".", "-"]))
    # Any grouping that keeps the 3-digit province code together, or every digit apart.
    every_digit = set(range(1, 12))
    cuts = (every_digit if draw(st.booleans()) else draw(st.sets(st.integers(3, 11)))) if sep else set()
    written = draw(st.sampled_from(["", "cccd", "CCCD:", "CCCD ", "căn cước số ", "CMND/CCCD: "]))
    written += _group(number, sep, cuts)
    if draw(st.booleans()):
        written = written.translate(_FULL_WIDTH)
    return number, written


@settings(max_examples=400, deadline=None)
@given(phone=_phones(), before=_BEFORE, after=_AFTER)
def test_property_masked_phone_never_shows_its_tail(phone: tuple[str, str, str], before: str, after: str) -> None:
    national, written, shown = phone
    masked = mask_text(before + written + after)
    assert (_CODE in masked) == (_CODE in after)  # the dossier code stays as it was
    left = _shown_digits(masked.replace(_CODE, ""))
    assert national[2:10] not in left, (written, masked)  # digits 3..10 never together
    assert left == shown, (written, masked)  # at most the last 2 digits, after the prefix


@settings(max_examples=400, deadline=None)
@given(number=_ids(), before=_BEFORE, after=_AFTER)
def test_property_masked_id_shows_at_most_last_three_digits(number: tuple[str, str], before: str, after: str) -> None:
    digits, written = number
    masked = mask_text(before + written + after)
    assert (_CODE in masked) == (_CODE in after)
    left = _shown_digits(masked.replace(_CODE, ""))
    assert digits not in left and left == digits[-3:], (written, masked)


# --- Every pattern runs in linear time: no input makes mask_text backtrack ------------------------



@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("a", repeat("a")),
        ("1", repeat("1")),
        ("'1 '", repeat("1 ")),
        (".", repeat(".")),
        ("'0.'", repeat("0.")),
        ("Vietnamese prose", repeat(PROSE)),
        # inputs that were or could be slow: 3 digits then a long run of spaces (was quadratic),
        # numbers that keep almost matching, full-width digits, e-mail-like runs
        ("'000' + spaces", "000" + " " * SIZE),
        ("'000 .' + spaces", "000 ." + " " * SIZE + "x"),
        ("'0 '", repeat("0 ")),
        ("'0084 '", repeat("0084 ")),
        ("'(+84) '", repeat("(+84) ")),
        ("full-width '０ '", repeat("０ ")),
        ("'000.00.00.'", repeat("000.00.00.")),
        ("'x@a1.'", "x@" + repeat("a1.")),
    ],
)
def test_mask_text_runs_in_linear_time(label: str, text: str) -> None:
    elapsed, _ = best_time(lambda: mask_text(text), runs=1)
    print(f"mask_text on {len(text) // 1000} KB of {label}: {elapsed:.3f} s")
    assert elapsed < 1.0, f"{label}: {elapsed:.2f} s"
