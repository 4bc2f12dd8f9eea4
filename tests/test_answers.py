"""Answer wording from hand-made domain objects: figures come only from the procedure."""

from __future__ import annotations

from datetime import date

from bot.answers import documents, fees, format_vnd, processing_time
from bot.catalog.domain import Case, Document, Fee, Method, Procedure

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
    p = proc(methods=(Method("online", 3, fees=(FEE,)), Method("direct", 3, fees=(FEE,))))
    text = fees(p).text
    assert text.count("85/2019/TT-BTC") == 1
    assert "Nộp trực tuyến, trực tiếp" in text
    assert "không mất phí" not in text and "mức thu không cố định" in text
    assert "Mã thủ tục: 9.999999 · Nguồn: https://dichvucong.gov.vn/x · Cập nhật: 18/07/2026" in text


def test_free_procedure_and_online_saving() -> None:
    assert "không mất phí" in fees(proc(methods=(Method("direct", 1, fees=()),))).text
    cheaper = proc(
        methods=(
            Method("online", 7, fees=(Fee(10000, "", "75/2022/TT-BTC"),)),
            Method("direct", 7, fees=(Fee(20000, "", "75/2022/TT-BTC"),)),
        )
    )
    assert f"tiết kiệm hơn {format_vnd(10000)}" in fees(cheaper).text


def test_working_days_are_explained() -> None:
    text = processing_time(proc(methods=(Method("online", 0.5, "working_day"),))).text
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
