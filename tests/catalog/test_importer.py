"""Portal importer: mapping, merging, skips, idempotence, all-or-nothing; the full snapshot when present."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.catalog.errors import PortalDataError
from bot.catalog.importer import (
    SKIP_CURATED,
    SKIP_DUPLICATE,
    SKIP_NO_CODE,
    SKIP_SUMMARY_OVER_DETAIL,
    agency_level,
    import_portal,
    split_steps,
)
from bot.catalog.loader import load_curated
from bot.catalog.models import ProcedureRow
from bot.catalog.service import ProcedureCatalog
from bot.db import session_factory
from tests.catalog.helpers import PORTAL_MINI, curated_record, write_record


@pytest.fixture
def db(engine: Engine) -> Engine:
    return engine


def _count(engine: Engine, **where: str) -> int:
    stmt = select(func.count(ProcedureRow.id))
    for column, value in where.items():
        stmt = stmt.where(getattr(ProcedureRow, column) == value)
    with session_factory(engine)() as s:
        return int(s.execute(stmt).scalar_one())


def test_mini_fixture_maps_and_merges(db: Engine) -> None:
    s = import_portal(PORTAL_MINI, db, progress=False)
    assert (s.rows_read, s.details_read, s.procedures) == (6, 2, 4)
    assert (s.loaded, s.updated, s.unchanged) == (4, 0, 0)
    assert sorted(sk.reason.split(" (")[0] for sk in s.skipped) == sorted([SKIP_DUPLICATE, SKIP_NO_CODE])
    assert any("trimmed" in w for w in s.warnings)

    cat = ProcedureCatalog(db)
    p = cat.get("9.000001")
    assert p is not None and p.province is None and p.detail_level == "detail"
    assert p.portal_id == "00000000-0000-7000-8000-000000000001" and p.portal_type == "STANDARD"
    assert p.categories == ("Lĩnh vực thử nghiệm",) and p.target_types == ("Công dân Việt Nam",)
    assert p.aliases == ("Giấy xác nhận",)
    assert p.competent is not None and p.competent.level == "commune"
    assert p.online_level == "partial" and p.online_portals == ("dichvucong",)
    assert p.steps == ("Người yêu cầu chuẩn bị hồ sơ.", "Nộp hồ sơ tại Ủy ban nhân dân cấp xã.", "Nhận kết quả.")
    online, direct, postal = p.methods
    assert (online.kind, online.processing_time, online.time_unit) == ("online", 3.0, "working_day")
    assert online.fees[0].amount == 5000 and online.fees[0].source == "portal"
    assert (direct.processing_time, direct.time_unit, direct.time_note) == (None, "other", "Theo mô tả")
    assert len(direct.fees) == 1  # the empty SERVICE_FEE carries nothing and is dropped
    assert (postal.processing_time, postal.time_unit, postal.time_note) == (2.0, "other", "2 tháng")
    assert [c.name for c in p.cases] == ["Trường hợp thông thường", "Trường hợp ủy quyền"]
    assert p.cases[0].documents[0].e_form and p.cases[0].documents[1].copies == 1
    assert p.legal_basis[0].code == "01/2099/QH99"
    assert p.verified_on == dt.date(2026, 7, 18)
    assert p.source_url and "9.000001" in p.source_url

    hanoi = cat.get("9.000001", "01")
    assert hanoi is not None and hanoi.province == "01" and hanoi.detail_level == "summary"
    assert hanoi.online_level == "unknown"
    assert cat.get("9.000001", "Hà Nội") == hanoi
    assert cat.get("9.000001", "24").province is None  # no Bắc Ninh variant: the national record
    assert len(cat.variants("9.000001")) == 2

    bn = cat.get("9.000002")
    assert bn is not None and bn.province == "24" and bn.online_level == "full"
    assert bn.steps == (
        "Hộ gia đình nộp hồ sơ.",
        "Sở Thử nghiệm:\n+ Kiểm tra hồ sơ;\n+ Trình phê duyệt.",
        "Trả kết quả.",
    )
    assert bn.methods[0].processing_time == 7.5 and bn.methods[0].time_unit == "day"
    assert cat.get("9.000002", "01") is None  # another province's variant would mislead
    assert cat.get("9.000003").name == "Đăng ký hoạt động thử nghiệm"


def test_reimport_is_idempotent(db: Engine) -> None:
    import_portal(PORTAL_MINI, db, progress=False)
    again = import_portal(PORTAL_MINI, db, progress=False)
    assert (again.loaded, again.updated, again.unchanged) == (0, 0, 4)


def test_changed_detail_is_updated(tmp_path: Path, db: Engine) -> None:
    src = tmp_path / "portal"
    shutil.copytree(PORTAL_MINI, src)
    import_portal(src, db, progress=False)
    f = src / "details" / "9.000002.json"
    data = json.loads(f.read_text(encoding="utf-8"))
    data["data"]["executionMethods"][0]["fees"] = [{"type": "FEE", "value": 20000, "description": "Lệ phí mới"}]
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    s = import_portal(src, db, progress=False)
    assert (s.loaded, s.updated, s.unchanged) == (0, 1, 3)
    assert ProcedureCatalog(db).get("9.000002").methods[0].fees[0].amount == 20000


def test_summary_row_never_replaces_stored_detail(tmp_path: Path, db: Engine) -> None:
    import_portal(PORTAL_MINI, db, progress=False)
    s = import_portal(PORTAL_MINI / "catalog.jsonl", db, progress=False)
    reasons = s.reasons()
    assert reasons[SKIP_SUMMARY_OVER_DETAIL] == 2
    assert ProcedureCatalog(db).get("9.000001").detail_level == "detail"


def test_curated_is_never_overwritten(tmp_path: Path, db: Engine) -> None:
    write_record(tmp_path / "cat", curated_record("9.000001", name="Tên do người kiểm tra"))
    load_curated(tmp_path / "cat", db)
    s = import_portal(PORTAL_MINI, db, progress=False)
    assert s.loaded == 3
    curated_skips = [sk for sk in s.skipped if sk.reason == SKIP_CURATED]
    assert len(curated_skips) == 2  # the catalogue row and the detail file of 9.000001
    p = ProcedureCatalog(db).get("9.000001")
    assert p.origin == "curated" and p.name == "Tên do người kiểm tra"


def test_malformed_json_names_file_and_writes_nothing(tmp_path: Path, db: Engine) -> None:
    src = tmp_path / "portal"
    shutil.copytree(PORTAL_MINI, src)
    (src / "details" / "9.000002.json").write_text('{"code": "OK", "data": {"code": "9.000002",', encoding="utf-8")
    with pytest.raises(PortalDataError, match=r"details/9\.000002\.json: malformed JSON"):
        import_portal(src, db, progress=False)
    assert _count(db) == 0


def test_bad_line_in_catalog_names_line(tmp_path: Path, db: Engine) -> None:
    src = tmp_path / "portal"
    shutil.copytree(PORTAL_MINI, src)
    with (src / "catalog.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{not json}\n")
    with pytest.raises(PortalDataError, match=r"catalog\.jsonl:7: malformed JSON"):
        import_portal(src, db, progress=False)
    assert _count(db) == 0


def test_wrong_field_type_and_negative_fee_name_the_field(tmp_path: Path, db: Engine) -> None:
    src = tmp_path / "portal"
    shutil.copytree(PORTAL_MINI, src)
    f = src / "details" / "9.000001.json"
    data = json.loads(f.read_text(encoding="utf-8"))
    data["data"]["executionMethods"][1]["fees"][0]["value"] = -5
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    expected = r"9\.000001\.json: executionMethods\[1\]\.fees\[0\]\.value: must be >= 0"
    with pytest.raises(PortalDataError, match=expected):
        import_portal(src, db, progress=False)
    data["data"]["executionMethods"][1]["fees"][0]["value"] = 1
    data["data"]["executionCases"] = "none"
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(PortalDataError, match=r"executionCases: expected a list"):
        import_portal(src, db, progress=False)
    assert _count(db) == 0


def test_failed_reimport_keeps_previous_data(tmp_path: Path, db: Engine) -> None:
    src = tmp_path / "portal"
    shutil.copytree(PORTAL_MINI, src)
    import_portal(src, db, progress=False)
    (src / "details" / "9.000001.json").write_text("[", encoding="utf-8")
    with pytest.raises(PortalDataError):
        import_portal(src, db, progress=False)
    assert _count(db) == 4 and ProcedureCatalog(db).get("9.000001").detail_level == "detail"


def test_single_detail_file(db: Engine) -> None:
    s = import_portal(PORTAL_MINI / "details" / "9.000002.json", db, progress=False)
    assert (s.details_read, s.loaded) == (1, 1)


def test_missing_path_is_an_error(tmp_path: Path, db: Engine) -> None:
    with pytest.raises(PortalDataError, match="no such file"):
        import_portal(tmp_path / "nope", db)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PortalDataError, match=r"neither catalog\.jsonl nor details"):
        import_portal(tmp_path / "empty", db)


@pytest.mark.parametrize(
    ("name", "flags", "level"),
    [
        ("Công an cấp Xã", {}, "commune"),
        ("Ủy ban Nhân dân xã, phường, thị trấn.", {}, "commune"),
        ("Chủ tịch Ủy ban nhân dân cấp xã, tỉnh Thanh Hóa", {}, "commune"),
        ("Sở Xây dựng - tỉnh Quảng Ngãi", {}, "province"),
        ("Công an cấp Tỉnh", {}, "province"),
        ("Chi nhánh Văn phòng đăng ký đất đai An Nhơn - tỉnh Gia Lai", {}, "province"),
        ("Bộ Công an", {}, "central"),
        ("Cục Kết cấu hạ tầng xây dựng", {}, "central"),
        ("Phòng Kinh tế", {"ward": True}, "commune"),
        ("Cơ quan đại diện ngoại giao", {}, "other"),
    ],
)
def test_agency_level(name: str, flags: dict[str, bool], level: str) -> None:
    assert agency_level(name, **flags) == level


def test_split_steps_variants() -> None:
    assert split_steps("Một việc duy nhất.") == ["Một việc duy nhất."]
    assert split_steps("Chuẩn bị. Bước 1: A. Bước 2: B.") == ["Chuẩn bị.", "A.", "B."]
    assert split_steps("- Bước 1. A\n- Bước 2. B\n+ chi tiết") == ["A", "B\n+ chi tiết"]
    assert split_steps("") == []


# ------------------------------------------------------------------ the real snapshot (../shared)

SNAPSHOT_ROWS = 5670
SNAPSHOT_DETAILS = 502
# Every catalogue row is its own procedure: codes are unique in catalog.jsonl (" 1.014325" trims to a
# code also used by a Lào Cai internal procedure, but that one is scoped to Lào Cai and the other to
# Tuyên Quang), and every detail record merges with its catalogue row by portal id.
SNAPSHOT_PROCEDURES = 5670
SNAPSHOT_PROVINCIAL = 923  # 904 SPECIFIC + 18 Lào Cai STANDARD_INTERNAL + 1 STANDARD promulgated by Đắk Lắk
SNAPSHOT_ODD_CODES = 3  # "1.0133611", "1.014955-Xoa", "2.009182739": kept as given, with a warning


def test_full_snapshot_import(snapshot_dir: Path, db: Engine, tmp_path: Path) -> None:
    started = time.perf_counter()
    first = import_portal(snapshot_dir, db, progress=False)
    elapsed = time.perf_counter() - started
    print(f"\nfull snapshot import: {elapsed:.1f} s; {first}")
    assert (first.rows_read, first.details_read) == (SNAPSHOT_ROWS, SNAPSHOT_DETAILS)
    assert first.procedures == SNAPSHOT_PROCEDURES
    assert (first.loaded, first.updated, first.unchanged, len(first.skipped)) == (SNAPSHOT_PROCEDURES, 0, 0, 0)
    assert sum("not of the form" in w for w in first.warnings) == SNAPSHOT_ODD_CODES
    assert _count(db) == SNAPSHOT_PROCEDURES
    assert _count(db, detail_level="detail") == SNAPSHOT_DETAILS
    assert _count(db, detail_level="summary") == SNAPSHOT_ROWS - SNAPSHOT_DETAILS
    assert _count(db) - _count(db, province="") == SNAPSHOT_PROVINCIAL

    p = ProcedureCatalog(db).get("1.004222")
    assert p is not None and p.detail_level == "detail" and p.competent.level == "commune"
    assert {m.kind for m in p.methods} == {"online", "direct"}
    assert "Hộ khẩu" in p.aliases

    second = import_portal(snapshot_dir, db, progress=False)
    assert (second.loaded, second.updated, second.unchanged) == (0, 0, SNAPSHOT_PROCEDURES)

    # A curated record is never overwritten by a later import.
    write_record(tmp_path / "cat", curated_record("1.004222", name="Đăng ký thường trú (đã kiểm tra)"))
    load_curated(tmp_path / "cat", db)
    third = import_portal(snapshot_dir, db, progress=False)
    assert (third.loaded, third.updated, third.unchanged) == (0, 0, SNAPSHOT_PROCEDURES - 1)
    assert sorted(sk.source.rsplit("/", 1)[-1].split(":")[0] for sk in third.skipped) == [
        "1.004222.json",
        "catalog.jsonl",
    ]
    assert all(sk.reason == SKIP_CURATED for sk in third.skipped)
    assert ProcedureCatalog(db).get("1.004222").name == "Đăng ký thường trú (đã kiểm tra)"
