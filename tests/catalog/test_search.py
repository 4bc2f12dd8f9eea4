"""Procedure search: ranking, normalisation, codes, ambiguity, unknown topics, provinces."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from bot.catalog.codes import normalise_procedure_code
from bot.catalog.search import (
    MIN_SCORE,
    Candidate,
    SearchEntry,
    SearchIndex,
    analyse,
    index_from_curated_dir,
    load_curated_entries,
)

CURATED = [
    SearchEntry("1.004222", None, "Đăng ký thường trú", ("hộ khẩu", "nhập khẩu"), curated=True),
    SearchEntry("1.004194", None, "Đăng ký tạm trú", ("tạm trú", "đăng ký tạm trú online"), curated=True),
    SearchEntry(
        "1.014061",
        None,
        "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên",
        ("cccd", "căn cước", "căn cước gắn chip", "làm căn cước"),
        curated=True,
    ),
    SearchEntry("3.000347", None, "Đổi giấy phép lái xe", ("đổi bằng lái", "gplx"), curated=True),
    SearchEntry("1.001193", None, "Thủ tục đăng ký khai sinh", ("giấy khai sinh",), curated=True),
    SearchEntry(
        "1.004873",
        None,
        "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân",
        ("giấy độc thân", "xác nhận độc thân"),
        curated=True,
    ),
    SearchEntry("1.000894", None, "Thủ tục đăng ký kết hôn", ("kết hôn", "giấy kết hôn"), curated=True),
    SearchEntry(
        "1.001456", None, "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp tỉnh)", ("hộ chiếu",), curated=True
    ),
]
# Portal rows that look alike: the search must tell them apart.
PORTAL = [
    SearchEntry("1.010028", None, "Xóa đăng ký tạm trú"),
    SearchEntry("1.003197", None, "Xóa đăng ký thường trú"),
    SearchEntry("1.002755", None, "Gia hạn tạm trú"),
    SearchEntry("3.000346", None, "Cấp giấy phép lái xe", ("thi bằng lái",)),
    SearchEntry("3.000348", None, "Cấp lại giấy phép lái xe"),
    SearchEntry("3.000353", None, "Cấp giấy phép lái xe quốc tế"),
    SearchEntry("1.014062", None, "Cấp thẻ căn cước cho người dưới 14 tuổi"),
    SearchEntry("1.014063", None, "Cấp đổi thẻ căn cước"),
    SearchEntry("1.014064", None, "Cấp lại thẻ căn cước"),
    SearchEntry("1.004884", None, "Thủ tục đăng ký lại khai sinh"),
    SearchEntry("2.000806", None, "Thủ tục đăng ký kết hôn có yếu tố nước ngoài"),
    SearchEntry("1.001612", None, "Đăng ký thành lập hộ kinh doanh"),
    SearchEntry("1.001445", None, "Trình báo mất hộ chiếu phổ thông (thực hiện tại cấp tỉnh)"),
    SearchEntry(
        "1.012787",
        None,
        "Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất cho người nhận "
        "chuyển nhượng quyền sử dụng đất",
    ),
    SearchEntry("1.009790", None, "Đăng ký chào mua công khai"),
    SearchEntry("2.001259", None, "Kiểm tra nhà nước về chất lượng sản phẩm, hàng hóa nhóm 2 nhập khẩu"),
    # Provincial records: Hà Nội ("01") and TP. Hồ Chí Minh ("79").
    SearchEntry("1.004222", "79", "Đăng ký thường trú"),
    SearchEntry("2.002001", "01", "Hỗ trợ học phí cho sinh viên là người dân tộc thiểu số"),
    SearchEntry("2.002002", "79", "Hỗ trợ học phí cho sinh viên có hoàn cảnh khó khăn"),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex([*CURATED, *PORTAL])


def top(index: SearchIndex, text: str, **kwargs: object) -> Candidate:
    found = index.find(text, **kwargs)  # type: ignore[arg-type]
    assert found, f"nothing found for {text!r}"
    return found[0]


@pytest.mark.parametrize(
    "query",
    [
        "Đăng ký tạm trú",
        "dang ky tam tru",
        "ĐĂNG KÝ TẠM TRÚ",
        unicodedata.normalize("NFD", "Đăng ký tạm trú"),
        "tạm trú đăng ký",
        "dk tam tru",
        "đk tạm trú",
        "  đăng   ký tạm trú!!! ",
    ],
)
def test_same_procedure_whatever_the_spelling(index: SearchIndex, query: str) -> None:
    assert top(index, query).code == "1.004194"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("lam cccd", "1.014061"),
        ("làm căn cước gắn chip", "1.014061"),
        ("Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên", "1.014061"),
        ("trở lên 14 tuổi cấp thẻ căn cước cho người từ đủ", "1.014061"),
        ("doi bang lai xe", "3.000347"),
        ("đổi gplx", "3.000347"),
        ("gplx hết hạn", "3.000347"),
        ("giấy xác nhận độc thân", "1.004873"),
        ("xac nhan doc than", "1.004873"),
        ("xác nhận tthn", "1.004873"),
        ("xin gks cho con", "1.001193"),
        ("nhập hộ khẩu", "1.004222"),
        ("ho chieu", "1.001456"),
        ("HỘ CHIẾU", "1.001456"),
        ("xóa đăng ký tạm trú", "1.010028"),
        ("cấp lại giấy phép lái xe", "3.000348"),
        ("sang tên sổ đỏ", "1.012787"),
        ("đăng ký kết hôn với người nước ngoài", "2.000806"),
        ("mở hộ kinh doanh", "1.001612"),
        ("dang ky thuong tru", "1.004222"),
        ("khaisinh", "1.001193"),  # typed without the space
        ("dangky tamtru", "1.004194"),
        ("dang ky thuongg tru", "1.004222"),  # typo
    ],
)
def test_everyday_mentions(index: SearchIndex, query: str, code: str) -> None:
    assert top(index, query).code == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("cho em hỏi làm giấy khai sinh cho con cần gì ạ", "1.001193"),
        ("đăng ký thường trú như thế nào ạ", "1.004222"),
        ("Cho mình hỏi thủ tục đăng ký kết hôn cần giấy tờ gì vậy", "1.000894"),
        ("lệ phí làm hộ chiếu bao nhiêu", "1.001456"),
        ("tôi cần đổi bằng lái, làm ở đâu?", "3.000347"),
        ("e muốn lm cccd thì cần j ạ", "1.014061"),
        # "thì" is a particle here, not "thi" (the exam in "thi bằng lái").
        ("em muốn đổi bằng lái xe thì cần giấy tờ gì", "3.000347"),
    ],
)
def test_whole_questions_are_not_dominated_by_filler(index: SearchIndex, query: str, code: str) -> None:
    assert top(index, query).code == code


def test_exact_name_scores_high_but_below_a_code_match(index: SearchIndex) -> None:
    hit = top(index, "Đổi giấy phép lái xe")
    assert hit.code == "3.000347"
    assert 90 <= hit.score < 100


@pytest.mark.parametrize("query", ["1.004222", "1004222", "mã thủ tục 1.004222 cần gì ạ", "1_004222"])
def test_procedure_code_returns_that_procedure_with_100(index: SearchIndex, query: str) -> None:
    found = index.find(query)
    assert found[0].code == "1.004222"
    assert found[0].score == 100
    assert not index.is_ambiguous(found)


def test_code_wins_over_a_text_match(index: SearchIndex) -> None:
    found = index.find("đăng ký tạm trú 1.004222")
    assert (found[0].code, found[0].score) == ("1.004222", 100)
    # The rest of the message is still searched, without the code's digits.
    others = [c for c in found if c.code != "1.004222"]
    assert others[0].code == "1.004194"
    assert all(c.score < 100 for c in others)


def test_unknown_code_falls_back_to_text(index: SearchIndex) -> None:
    assert index.find("9.999999") == []
    assert top(index, "9.999999 đăng ký tạm trú").code == "1.004194"


@pytest.mark.parametrize(
    "query",
    ["mua vé máy bay", "thời tiết hôm nay", "xin chào", "vâng ạ", "cảm ơn em nhé", "", "   ", "???", "không"],
)
def test_unknown_topic_returns_nothing(index: SearchIndex, query: str) -> None:
    assert index.find(query) == []


def test_results_are_ranked_bounded_and_above_threshold(index: SearchIndex) -> None:
    found = index.find("giấy phép lái xe", limit=3)
    assert 1 <= len(found) <= 3
    scores = [c.score for c in found]
    assert scores == sorted(scores, reverse=True)
    assert all(MIN_SCORE <= s <= 100 for s in scores)
    assert index.find("giấy phép lái xe", limit=0) == []


def test_matched_names_the_alias(index: SearchIndex) -> None:
    hit = top(index, "giay doc than")
    assert hit.code == "1.004873"
    assert hit.matched == "giấy độc thân"
    assert hit.name == "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân"


def test_ambiguity(index: SearchIndex) -> None:
    # Deregistering a temporary or a permanent residence: the citizen must say which.
    assert index.is_ambiguous(index.find("xóa đăng ký"))
    assert not index.is_ambiguous(index.find("đăng ký tạm trú"))
    assert not index.is_ambiguous([])
    close = [Candidate("1", None, "A", 80.0, "A"), Candidate("2", None, "B", 77.0, "B")]
    apart = [Candidate("1", None, "A", 90.0, "A"), Candidate("2", None, "B", 60.0, "B")]
    same_code = [Candidate("1", None, "A", 80.0, "A"), Candidate("1", "79", "A", 80.0, "A")]
    assert index.is_ambiguous(close)
    assert not index.is_ambiguous(apart)
    assert index.is_ambiguous(apart, margin=40)
    assert not index.is_ambiguous(same_code)


def test_curated_entry_wins_a_tie() -> None:
    portal = SearchEntry("9.000001", None, "Đăng ký tạm trú")
    curated = SearchEntry("1.004194", None, "Đăng ký tạm trú", curated=True)
    for entries in ([portal, curated], [curated, portal]):
        found = SearchIndex(entries).find("dang ky tam tru")
        assert found[0].code == "1.004194"
        assert found[0].score > found[1].score


def test_province_filter(index: SearchIndex) -> None:
    hcm = index.find("đăng ký thường trú", province="79")
    assert (hcm[0].code, hcm[0].province) == ("1.004222", "79")
    assert ("1.004222", None) in {(c.code, c.province) for c in hcm}
    hanoi = index.find("đăng ký thường trú", province="01")
    assert all(c.province in (None, "01") for c in hanoi)
    assert hanoi[0].code == "1.004222"

    fees_hn = index.find("hỗ trợ học phí cho sinh viên", province="01")
    assert {c.province for c in fees_hn} <= {None, "01"}
    assert fees_hn[0].code == "2.002001"
    assert "2.002002" in {c.code for c in index.find("hỗ trợ học phí cho sinh viên")}
    # A code query respects the filter too.
    assert all(c.province in (None, "01") for c in index.find("1.004222", province="01"))
    by_code = index.find("1.004222")
    assert [(c.province, c.score) for c in by_code] == [(None, 100), ("79", 100)]
    assert index.find("1.004222", province="79")[0].province == "79"


def test_analyse_normalises_and_drops_filler() -> None:
    assert analyse("cho em hỏi thủ tục đăng ký tạm trú như thế nào ạ") == ["dang", "ky", "tam", "tru"]
    # Accented words are never read as teencode: "hồng"/"hỏng" are not "không".
    assert "khong" not in analyse("sổ hồng bị hỏng")
    assert analyse("lam cccd") == ["the", "can", "cuoc"]
    # An alias made only of filler keeps its words; a query made of filler has none.
    assert analyse("thủ tục") == []
    assert analyse("thủ tục", keep_filler_only=True) == ["thu", "tuc"]


def test_normalise_procedure_code() -> None:
    assert normalise_procedure_code("1.004222") == normalise_procedure_code("1004222") == "1004222"


def test_empty_index() -> None:
    assert SearchIndex([]).find("đăng ký tạm trú") == []


def test_curated_yaml_helpers(tmp_path: Path) -> None:
    (tmp_path / "1_004194.yml").write_text(
        'code: "1.004194"\nname: "Đăng ký tạm trú"\naliases: [tạm trú, "đk tạm trú"]\nfield: x\n', encoding="utf-8"
    )
    (tmp_path / "1_004194-79.yml").write_text(
        'code: "1.004194"\nprovince: "79"\nname: "Đăng ký tạm trú"\n', encoding="utf-8"
    )
    entries = load_curated_entries(tmp_path)
    assert {(e.code, e.province, e.curated) for e in entries} == {("1.004194", None, True), ("1.004194", "79", True)}
    portal = [SearchEntry("1.004194", None, "Đăng ký tạm trú (portal)"), SearchEntry("1.010028", None, "Xóa đăng ký")]
    index = index_from_curated_dir(tmp_path, extra=portal)
    assert len(index) == 3  # the portal copy of a curated (code, province) is dropped
    assert top(index, "tam tru").code == "1.004194"


# -- the real catalogue ---------------------------------------------------------


@pytest.fixture(scope="module")
def portal_index(snapshot_dir: Path) -> SearchIndex:
    rows = [json.loads(line) for line in (snapshot_dir / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]
    return SearchIndex(SearchEntry(r["code"], None, r["name"]) for r in rows)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Đăng ký thường trú", "1.004222"),
        ("Đăng ký tạm trú", "1.004194"),
        ("Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên", "1.014061"),
        ("Đổi giấy phép lái xe", "3.000347"),
        ("Thủ tục đăng ký khai sinh", "1.001193"),
        ("Thủ tục cấp Giấy xác nhận tình trạng hôn nhân", "1.004873"),
        ("dang ky khai sinh", "1.001193"),
        ("doi bang lai xe", "3.000347"),
        ("giấy xác nhận độc thân", "1.004873"),
        ("1.001456", "1.001456"),
    ],
)
def test_real_catalogue_finds_names_top1(portal_index: SearchIndex, query: str, code: str) -> None:
    assert top(portal_index, query).code == code


@pytest.mark.parametrize(
    "query",
    # A rare word alone ("bóng đá" of a betting licence) is not a topic: it needs the question's other words too.
    ["mua vé máy bay", "thời tiết hôm nay", "giá vàng hôm nay", "xin chào", "kết quả bóng đá tối qua"],
)
def test_real_catalogue_unknown_topics(portal_index: SearchIndex, query: str) -> None:
    assert portal_index.find(query) == []
