"""Answer wording from hand-made domain objects: figures come only from the procedure."""

from __future__ import annotations

from datetime import date

from bot.answers import documents, fees, format_vnd, processing_time
from bot.catalog.domain import Case, Document, Fee, Procedure, SubmissionMethod

FEE = Fee(amount=None, description="Mức thu do HĐND tỉnh quy định", legal_basis="85/2019/TT-BTC", source="legal_basis")


def proc(**kw: object) -> Procedure:
    base: dict = {
        "code": "9.999999",
        "name": "Thủ tục thử",
        "origin": "curated",
        "verified_on": date(2026, 7, 18),
        "source_url": "https://dichvucong.gov.vn/x",
    }
    base.update(kw)
    return Procedure(**base)


def test_shared_fees_are_listed_once_and_varying_fee_is_not_free() -> None:
    p = proc(methods=(SubmissionMethod("online", 3, fees=(FEE,)), SubmissionMethod("direct", 3, fees=(FEE,))))
    text = fees(p).text
    assert text.count("85/2019/TT-BTC") == 1
    assert "Nộp trực tuyến, trực tiếp" in text
    assert "không mất phí" not in text and "mức thu không cố định" in text
    assert "Mã thủ tục: 9.999999 · Nguồn: https://dichvucong.gov.vn/x · Cập nhật: 18/07/2026" in text


def test_free_procedure_and_online_saving() -> None:
    assert "không mất phí" in fees(proc(methods=(SubmissionMethod("direct", 1, fees=()),))).text
    cheaper = proc(
        methods=(
            SubmissionMethod("online", 7, fees=(Fee(10000, "", "75/2022/TT-BTC"),)),
            SubmissionMethod("direct", 7, fees=(Fee(20000, "", "75/2022/TT-BTC"),)),
        )
    )
    assert f"tiết kiệm hơn {format_vnd(10000)}" in fees(cheaper).text


def test_working_days_are_explained() -> None:
    text = processing_time(proc(methods=(SubmissionMethod("online", 0.5, "working_day"),))).text
    assert "0,5 ngày làm việc" in text and "thứ Bảy" in text


def test_documents_offer_other_cases() -> None:
    p = proc(
        cases=(
            Case("Trường hợp A", (Document("Tờ khai", 1, 0, True),), common=True),
            Case("Trường hợp B", (Document("Giấy tờ B", 0, 1),)),
        )
    )
    reply = documents(p)
    assert "Tờ khai (1 bản chính)" in reply.text and "biểu mẫu điện tử" in reply.text
    assert [b.payload for b in reply.buttons] == ['/ask_documents{"procedure_code": "9.999999", "case": "1"}']
    assert "Giấy tờ B (1 bản sao)" in documents(p, 1).text


def test_unknown_detail_and_unknown_procedure_offer_the_one_human_button() -> None:
    from bot.answers import unknown_procedure
    from bot.dialogue import offer_human
    from bot.replies import Button, human_button

    assert human_button() == Button("Gặp cán bộ hỗ trợ", "/request_human")
    for reply in (fees(proc()), unknown_procedure("mua vé máy bay"), offer_human()):
        assert reply.buttons == (human_button(),)
    assert "chưa có thông tin đã xác minh về phí, lệ phí" in fees(proc()).text


def test_reply_is_frozen_and_keeps_tuples() -> None:
    from bot.replies import Button, Reply

    reply = Reply("x", [Button("A", "/a")])  # type: ignore[arg-type]  # lists are accepted and stored as tuples
    assert reply.buttons == (Button("A", "/a"),) and reply.links == ()
    assert hash(reply) == hash(Reply("x", (Button("A", "/a"),)))


def test_name_starting_with_thu_tuc_is_said_once() -> None:
    import unicodedata

    from bot.answers import how_online, overview, where

    for name in (
        "Thủ tục đăng ký kết hôn",
        unicodedata.normalize("NFD", "Thủ tục đăng ký kết hôn"),
        "THỦ TỤC đăng ký kết hôn",
    ):
        p = proc(name=name, methods=(SubmissionMethod("direct", 5, fees=()),))
        for reply in (fees(p), processing_time(p), documents(p), where(p), how_online(p), overview(p)):
            assert "thủ tục thủ tục" not in unicodedata.normalize("NFC", reply.text).lower(), reply.text
    free = proc(name="Thủ tục đăng ký kết hôn", methods=(SubmissionMethod("direct", 5, fees=()),))
    assert "Dạ, thủ tục đăng ký kết hôn không mất phí" in fees(free).text
    assert "thủ tục Đăng ký tạm trú" in processing_time(proc(name="Đăng ký tạm trú")).text
