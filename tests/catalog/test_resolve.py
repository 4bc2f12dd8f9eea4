"""Resolving the procedure from a whole message: codes, plain names, question words, unknown topics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.catalog.importer import import_portal
from bot.catalog.query import codes_in, without_codes
from bot.catalog.resolve import MAX_CHOICES, Decision, resolve, windows
from bot.catalog.search import SearchEntry, SearchIndex, analyse
from bot.catalog.service import ProcedureCatalog
from tests.catalog.helpers import PORTAL_MINI

ENTRIES = [
    SearchEntry("1.000894", None, "Thủ tục đăng ký kết hôn", ("kết hôn",), curated=True),
    SearchEntry("1.004884", None, "Thủ tục đăng ký lại khai sinh"),
    SearchEntry("1.001193", None, "Thủ tục đăng ký khai sinh", ("giấy khai sinh",), curated=True),
    SearchEntry("2.001955", None, "Đăng ký nội quy lao động của doanh nghiệp", ("Quản lý lao động",)),
    SearchEntry("1.014199", None, "Cấp giấy phép lao động đối với người lao động nước ngoài làm việc tại Việt Nam"),
    SearchEntry("1.014200", None, "Cấp lại giấy phép lao động đối với người lao động nước ngoài làm việc tại Việt Nam"),
    SearchEntry("1.014201", None, "Gia hạn giấy phép lao động đối với người lao động nước ngoài làm việc tại Việt Nam"),
    SearchEntry("1.010028", None, "Xóa đăng ký tạm trú"),
    SearchEntry("1.003197", None, "Xóa đăng ký thường trú"),
    SearchEntry("3.000333", None, "Cấp Phiếu Lý lịch tư pháp cho công dân Việt Nam"),
    # Only its result and a case name say what it gives: the index reads them too.
    SearchEntry("9.000010", None, "Thủ tục hành chính thử nghiệm số 10", context=("Giấy chứng nhận nuôi ong mật",)),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex(ENTRIES)


def test_codes_anywhere_in_the_message() -> None:
    assert codes_in("thủ tục 1.004884 cần giấy tờ gì") == ["1004884"]
    assert codes_in("2.001955 và 3.000333, lại 2.001955") == ["2001955", "3000333"]
    assert codes_in("hồ sơ 000.00.00.H99-261120-0001") == [] and codes_in("") == []
    assert "1.004884" not in without_codes("mã 1.004884 ạ")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("thủ tục 1.004884 cần giấy tờ gì", "1.004884"),
        ("2.001955", "2.001955"),
        ("cho em hỏi mã 3000333 nộp ở đâu ạ", "3.000333"),
        ("đăng ký kết hôn 1.004884", "1.004884"),  # the code wins over the words
    ],
)
def test_a_typed_code_resolves_directly(index: SearchIndex, message: str, code: str) -> None:
    r = resolve(index, message)
    assert (r.decision, r.best.code, r.by_code) == (Decision.CLEAR, code, True)


def test_several_codes_are_choices(index: SearchIndex) -> None:
    r = resolve(index, "1.004884 hay 1.000894")
    assert r.decision is Decision.CLOSE and {c.code for c in r.candidates} == {"1.004884", "1.000894"}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("đăng ký nội quy lao động cần hồ sơ gì", "2.001955"),
        ("thủ tục đăng ký nội quy lao động", "2.001955"),
        ("cap lai giay phep lao dong cho nguoi nuoc ngoai o dau", "1.014200"),
        ("cho em hỏi đăng ký lại khai sinh thế nào ạ", "1.004884"),
        ("xin giấy chứng nhận nuôi ong mật ở đâu", "9.000010"),  # found by its result name
    ],
)
def test_plain_names_resolve_without_an_entity(index: SearchIndex, message: str, code: str) -> None:
    r = resolve(index, message)
    assert r.decision is Decision.CLEAR, r
    assert r.best.code == code


@pytest.mark.parametrize(
    "message",
    [
        "cho em hỏi đăng ký kết hôn cần giấy tờ gì ạ",
        "đăng ký kết hôn ở đâu",
        "dang ky ket hon bao lau",
        "đăng ký kết hôn như thế nào vậy",
        "đăng ký kết hôn hết bao nhiêu tiền",
    ],
)
def test_question_words_and_particles_are_stripped(index: SearchIndex, message: str) -> None:
    assert analyse(message) == ["dang", "ky", "ket", "hon"]
    assert resolve(index, message).best.code == "1.000894"


@pytest.mark.parametrize(
    "message",
    ["mua vé máy bay", "hôm nay trời có mưa không", "cần giấy tờ gì", "ở đâu vậy ạ", "cảm ơn nhé", "", "   "],
)
def test_unknown_topic_returns_nothing(index: SearchIndex, message: str) -> None:
    r = resolve(index, message)
    assert r.decision is Decision.NONE and r.candidates == () and r.best is None


def test_first_issue_and_reissue_are_offered_as_choices(index: SearchIndex) -> None:
    # "cấp" or "cấp lại"? Item 2 of issue 10 (variants) will choose; for now both are offered, the first issue first.
    r = resolve(index, "cấp giấy phép lao động cho người nước ngoài cần gì")
    assert r.best.code == "1.014199"
    assert r.decision is Decision.CLEAR or "1.014200" in {c.code for c in r.candidates}


def test_close_scores_give_at_most_four_choices(index: SearchIndex) -> None:
    r = resolve(index, "xóa đăng ký")
    assert r.decision is Decision.CLOSE
    assert 2 <= len(r.candidates) <= MAX_CHOICES
    assert {"1.010028", "1.003197"} <= {c.code for c in r.candidates}


def test_the_nlu_entity_stays_strong(index: SearchIndex) -> None:
    # The entity names the procedure; the rest of the message does not drown it.
    r = resolve(index, "em muốn hỏi về kết hôn, giấy phép lao động thì sao", mention="kết hôn")
    assert (r.decision, r.best.code) == (Decision.CLEAR, "1.000894")
    # An entity the catalogue does not know is nothing, not a random procedure.
    assert resolve(index, "mua vé máy bay cần gì", mention="mua vé máy bay").decision is Decision.NONE


def test_catalog_resolves_imported_procedures(engine: Engine) -> None:
    import_portal(PORTAL_MINI, engine, progress=False)
    catalog = ProcedureCatalog(engine)
    r = catalog.resolve("hỗ trợ kinh phí thử nghiệm cho hộ gia đình cần gì ạ")
    assert (r.decision, r.best.code) == (Decision.CLEAR, "9.000002")
    assert catalog.resolve("thủ tục 9.000003 làm ở đâu").best.code == "9.000003"
    assert catalog.resolve("mua vé máy bay").decision is Decision.NONE
    # Case and document names of detailed records are in the index.
    context = catalog.search_context()
    assert context and all(isinstance(c, tuple) and isinstance(d, tuple) for c, d in context.values())


# -- the real catalogue (skips without ../shared) ----------------------------------


@pytest.fixture(scope="module")
def portal_index(snapshot_dir: Path) -> SearchIndex:
    rows = [json.loads(line) for line in (snapshot_dir / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]
    return SearchIndex(SearchEntry(r["code"], None, r["name"]) for r in rows)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("cấp giấy phép lao động cho người nước ngoài cần gì", "1.014199"),
        ("muon mo quan karaoke thi xin giay phep o dau", "1.001029"),  # a rare word in a long portal name
        ("đăng ký nội quy lao động cần hồ sơ gì", "2.001955"),
        ("thủ tục 1.004884 cần giấy tờ gì", "1.004884"),
    ],
)
def test_real_catalogue_plain_questions(portal_index: SearchIndex, message: str, code: str) -> None:
    r = resolve(portal_index, message)
    assert r.best is not None and r.best.code == code
    assert r.decision is Decision.CLEAR or (r.decision is Decision.CLOSE and len(r.candidates) <= MAX_CHOICES)


@pytest.mark.parametrize("message", ["mua vé máy bay", "bạn tên gì", "thời tiết hôm nay"])
def test_real_catalogue_unknown_topics(portal_index: SearchIndex, message: str) -> None:
    assert resolve(portal_index, message).decision is Decision.NONE


# --- Long messages: the situation first, then the question (issue 10) ---

LONG_SITUATION = (
    "Công ty tôi có 15 lao động làm ca đêm ở xưởng may, giám đốc vừa ký quyết định ban hành quy định mới "
    "về giờ giấc và kỷ luật. Vậy đăng ký nội quy lao động cần hồ sơ gì?"
)


def test_windows_are_the_clauses_of_a_long_message() -> None:
    parts = windows(LONG_SITUATION)
    assert "Vậy đăng ký nội quy lao động cần hồ sơ gì" in parts
    assert all(len(analyse(p)) >= 2 for p in parts)
    # "thì" and "mà" (with their marks) end a clause too.
    assert "xin cấp lại giấy phép lao động" in windows(
        "Anh kỹ sư người Hàn ở công ty tôi làm mất giấy tờ trong lúc chuyển nhà thì xin cấp lại giấy phép lao động"
    )


@pytest.mark.parametrize("message", ["đăng ký nội quy lao động cần hồ sơ gì", "thủ tục đăng ký kết hôn", ""])
def test_short_messages_have_no_windows(message: str) -> None:
    assert windows(message) == []


def test_the_topic_clause_of_a_long_message_is_found(index: SearchIndex) -> None:
    r = resolve(index, LONG_SITUATION)
    assert r.decision is Decision.CLEAR, r
    assert r.best.code == "2.001955"


@pytest.mark.parametrize(
    "message",
    [
        "Hôm nay trời mưa to quá, tôi đi chợ mua rau thì bị ướt hết cả người, mai có nắng không nhỉ?",
        "Bạn ơi, quán phở đầu ngõ nhà mình hôm nay đóng cửa, tối nay ăn gì cho ngon và rẻ bây giờ?",
        "Tôi mới mua điện thoại mới mà pin tụt nhanh quá, lại còn nóng máy. Có cách nào khắc phục không ạ?",
    ],
)
def test_long_off_topic_chat_still_returns_nothing(index: SearchIndex, message: str) -> None:
    assert windows(message)  # long enough to be read clause by clause
    assert resolve(index, message).decision is Decision.NONE


# --- Variants and situations (issue 10, item 2) ---

FAMILY = [
    SearchEntry("1.014061", None, "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên", ("căn cước", "làm căn cước")),
    SearchEntry(
        "1.014062", None, "Cấp thẻ căn cước cho người dưới 14 tuổi", ("căn cước cho trẻ em", "làm căn cước cho con")
    ),
    SearchEntry("1.014063", None, "Cấp đổi thẻ căn cước"),
    SearchEntry("1.014064", None, "Cấp lại thẻ căn cước", ("mất căn cước", "làm lại căn cước")),
    SearchEntry("1.004194", None, "Đăng ký tạm trú", ("tạm trú",)),
    SearchEntry("1.002755", None, "Gia hạn tạm trú"),
    SearchEntry("1.013831", None, "Đăng ký biến động quyền sử dụng đất", ("cho con đất",)),
    SearchEntry("1.004746", None, "Thủ tục đăng ký lại kết hôn"),
    SearchEntry("2.000507", None, "Thủ tục đăng ký lại kết hôn"),
]


@pytest.fixture(scope="module")
def family() -> SearchIndex:
    return SearchIndex(FAMILY)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("thẻ căn cước bị mất làm lại ở đâu", "1.014064"),
        ("the can cuoc bi mat lam lai o dau", "1.014064"),
        ("mat cccd thi lam lai het bao nhieu tien", "1.014064"),
        ("thẻ căn cước hết hạn đổi ở đâu", "1.014063"),
        ("con trai 4 tuổi làm căn cước ở đâu", "1.014062"),
        ("con gai minh 10 tuoi lam can cuoc can gi", "1.014062"),
        ("cháu 15 tuổi làm căn cước lần đầu cần gì", "1.014061"),
        # A generic alias ("tạm trú") does not hide the variant the situation names.
        ("tạm trú của tôi sắp hết hạn, giờ xin gia hạn thì làm gì", "1.002755"),
    ],
)
def test_the_situation_chooses_the_variant(family: SearchIndex, message: str, code: str) -> None:
    r = resolve(family, message)
    assert (r.decision, r.best.code if r.best else None) == (Decision.CLEAR, code), r


def test_an_entity_for_the_family_gives_way_to_the_variant_named(family: SearchIndex) -> None:
    # The NLU maps "tạm trú" to the registration; the extension the message asks for still wins.
    r = resolve(family, "Tạm trú của tôi sắp hết hạn, bây giờ xin gia hạn thì làm gì?", mention="Đăng ký tạm trú")
    assert (r.decision, r.best.code) == (Decision.CLEAR, "1.002755")


def test_a_cost_is_not_a_loss(family: SearchIndex) -> None:
    # "mất phí", "mất bao lâu": "mất" is what it costs, not a lost card.
    r = resolve(family, "làm căn cước lần đầu mất phí không, mất bao lâu")
    assert r.best.code != "1.014064"


def test_a_word_typed_with_other_marks_is_another_word(family: SearchIndex) -> None:
    # "đặt" (book) folds to "dat" like "đất" (land): typed with marks, it does not match the alias "cho con đất".
    assert resolve(family, "Đặt lịch tiêm vắc xin cho con ở đâu?").decision is not Decision.CLEAR
    assert resolve(family, "cho con đất thì làm thủ tục gì").best.code == "1.013831"


def test_one_name_under_two_codes_is_one_choice(family: SearchIndex) -> None:
    r = resolve(family, "đăng ký lại kết hôn thế nào")
    assert r.decision is Decision.CLEAR and r.best.code in {"1.004746", "2.000507"}


def test_a_code_the_catalogue_does_not_hold_is_said_so(index: SearchIndex) -> None:
    r = resolve(index, "thủ tục 9.999999 đăng ký kết hôn cần gì")
    assert (r.decision, r.candidates, r.unknown_code) == (Decision.NONE, (), "9.999999")
