"""Masking of phone numbers, ID numbers, e-mails and names in text and logs."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from bot.privacy import (
    PIIMaskingFilter,
    install_log_masking,
    mask_email,
    mask_id,
    mask_name,
    mask_phone,
    mask_text,
)

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
