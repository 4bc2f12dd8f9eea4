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
    for reply in (fees(proc()), unknown_procedure("mua vé máy bay")):
        assert reply.buttons == (human_button(),)
    # After two failures the help desk is told why the bot offered a person.
    assert offer_human().buttons == (human_button("fallback"),)
    assert human_button("fallback").payload == '/request_human{"handoff_reason": "fallback"}'
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


# ---------------------------------------------------------------- imported procedures (issue 10, item 4)

import pytest  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.answers import QUESTION_INTENTS, ProcedureAdvisor, format_time  # noqa: E402
from bot.catalog.service import ProcedureCatalog  # noqa: E402

PORTAL_MARK = "Theo Cổng Dịch vụ công quốc gia, cập nhật"


@pytest.fixture
def portal_catalog(engine: Engine) -> ProcedureCatalog:
    """The imported fixtures only: 9.000001 and 9.000002 with detail records, 9.000003 catalogue-only."""
    from bot.catalog.importer import import_portal
    from tests.catalog.helpers import PORTAL_MINI

    import_portal(PORTAL_MINI, engine, progress=False)
    return ProcedureCatalog(engine)


def test_imported_detail_record_answers_every_question_with_the_portal_mark(portal_catalog: ProcedureCatalog) -> None:
    advisor = ProcedureAdvisor(portal_catalog)
    proc = portal_catalog.get("9.000001")
    assert proc is not None and proc.origin == "portal" and proc.is_detailed and proc.verified_on
    updated = proc.verified_on.strftime("%d/%m/%Y")
    for intent in QUESTION_INTENTS:
        answer = advisor.answer(intent, code="9.000001")
        assert answer.resolved and answer.procedure_code == "9.000001"
        trust = f"Mã thủ tục: 9.000001 · {PORTAL_MARK} {updated} · Nguồn: {proc.source_url}"
        assert answer.reply.text.endswith(trust), (intent, answer.reply.text)
        assert "đang hỏi về thủ tục nào" not in answer.reply.text
    # The figures are the catalogue's own.
    assert format_time(proc.methods[0]) in advisor.answer("ask_processing_time", code="9.000001").reply.text
    fee_text = advisor.answer("ask_fee", code="9.000001").reply.text
    assert all(format_vnd(f.amount) in fee_text for m in proc.methods for f in m.fees if f.amount)
    docs = advisor.answer("ask_documents", code="9.000001").reply.text
    assert all(d.name in docs for d in proc.common_case.documents)
    assert proc.competent is not None and proc.competent.name in advisor.answer("ask_where", code="9.000001").reply.text


def test_catalogue_only_row_gives_name_code_agency_and_link_and_sends_to_the_portal(
    portal_catalog: ProcedureCatalog,
) -> None:
    advisor = ProcedureAdvisor(portal_catalog)
    proc = portal_catalog.get("9.000003")
    assert proc is not None and not proc.is_detailed and proc.departments
    for intent in QUESTION_INTENTS:
        answer = advisor.answer(intent, code="9.000003")
        reply = answer.reply
        assert answer.resolved and answer.procedure_code == "9.000003"
        assert proc.name in reply.text or proc.name.lower() in reply.text.lower()
        assert "mã 9.000003" in reply.text and proc.departments[0] in reply.text
        assert "có trên Cổng Dịch vụ công quốc gia" in reply.text
        assert f"Mã thủ tục: 9.000003 · {PORTAL_MARK}" in reply.text and proc.source_url in reply.text
        assert [link.url for link in reply.links] == [proc.source_url]
        # Nothing the row does not hold: no online steps, no time, no fee.
        assert "Đăng nhập bằng tài khoản" not in reply.text and "ngày làm việc" not in reply.text
    # A province's catalogue-only variant of a detailed code answers the same way.
    hanoi = advisor.answer("ask_fee", code="9.000001", province="01").reply
    assert "có trên Cổng Dịch vụ công quốc gia" in hanoi.text and "Sở Thử nghiệm" in hanoi.text


def test_curated_record_still_wins_over_the_import(portal_catalog: ProcedureCatalog, engine: Engine, tmp_path) -> None:
    from bot.catalog.loader import load_curated
    from tests.catalog.helpers import curated_record, write_record

    write_record(tmp_path / "cat", curated_record("9.000001"))
    load_curated(tmp_path / "cat", engine)
    portal_catalog.invalidate()
    text = ProcedureAdvisor(portal_catalog).answer("ask_fee", code="9.000001").reply.text
    assert "Cập nhật: 18/07/2026" in text and PORTAL_MARK not in text and "01/2099/TT-BTN" in text


def test_portal_dossier_parts_are_shown_together_without_list_marks() -> None:
    p = proc(
        origin="portal",
        cases=(
            Case("* Giấy tờ phải xuất trình:", (Document("- Giấy tờ tùy thân", 1),)),
            Case("* Giấy tờ phải nộp:", (Document("+ Tờ khai", 1),)),
            Case("Trường hợp nộp qua bưu chính", (Document("Bản sao có chứng thực", 0, 1),)),
        ),
    )
    reply = documents(p)
    assert "Giấy tờ phải xuất trình:\n• Giấy tờ tùy thân (1 bản chính)" in reply.text
    assert "Giấy tờ phải nộp:\n• Tờ khai (1 bản chính)" in reply.text
    assert "• -" not in reply.text and "• +" not in reply.text and "* " not in reply.text
    assert [b.payload for b in reply.buttons] == ['/ask_documents{"procedure_code": "9.999999", "case": "2"}']
    assert "Bản sao có chứng thực (1 bản sao)" in documents(p, 2).text


# ---------------------------------------------------------------- nothing relevant (issue 10, item 1)


def test_a_topic_the_catalogue_lacks_is_said_plainly_and_a_bare_question_asks_which(
    portal_catalog: ProcedureCatalog,
) -> None:
    from bot.answers import PORTAL_HOME
    from bot.replies import human_button

    advisor = ProcedureAdvisor(portal_catalog)
    for message in (
        "Cho tôi hỏi mở thẻ tín dụng ngân hàng cần những giấy tờ gì?",
        "di du lich chau au xin visa schengen o dau",
        "Đăng ký gói cước 4G của nhà mạng thế nào ạ?",
    ):
        answer = advisor.answer("ask_documents", message=message)
        assert PORTAL_HOME in answer.reply.text and "không tìm thấy thủ tục nào khớp" in answer.reply.text, message
        assert answer.reply.buttons == (human_button(),) and not answer.resolved
        assert "Mã thủ tục" not in answer.reply.text and answer.procedure_code is None
    for bare in ("cần giấy tờ gì", "còn lệ phí thì sao", "có bắt buộc không", "vâng ạ", "mất bao lâu"):
        reply = advisor.answer("ask_documents", message=bare).reply
        assert "đang hỏi về thủ tục nào" in reply.text, bare
    # A follow-up keeps its topic: the previous procedure answers.
    follow_up = advisor.answer("ask_fee", message="còn lệ phí thì sao", previous_code="9.000001")
    assert follow_up.resolved and follow_up.procedure_code == "9.000001"


def test_topic_words_leave_out_question_words_and_generic_words() -> None:
    from bot.catalog.resolve import topic_words

    assert topic_words("cho em hỏi cần giấy tờ gì ạ") == []
    assert topic_words("quá hạn có bị phạt không") == []
    assert topic_words("con gái 8 tuổi") == []
    assert "visa" in topic_words("xin visa du lịch cần gì") and "khoan" in topic_words("mở tài khoản chứng khoán")
