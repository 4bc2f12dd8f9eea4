"""Curated YAML loader: strict validation naming file and field; all-or-nothing upsert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.catalog.errors import CatalogError, CatalogErrors
from bot.catalog.loader import catalog_files, load_curated, validate_dir
from bot.catalog.models import ProcedureRow
from bot.catalog.service import ProcedureCatalog
from bot.db import session_factory
from bot.settings import PROJECT_ROOT
from tests.catalog.helpers import curated_record, write_record


@pytest.fixture
def db(engine: Engine) -> Engine:
    return engine


def _count(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return int(s.execute(select(func.count(ProcedureRow.id))).scalar_one())


def _error(tmp_path: Path, record: dict | None = None, text: str | None = None, name: str | None = None) -> str:
    if text is not None:
        path = tmp_path / (name or "1_004222.yml")
        path.write_text(text, encoding="utf-8")
    else:
        write_record(tmp_path, record or curated_record(), name)
    with pytest.raises(CatalogErrors) as info:
        validate_dir(tmp_path)
    return "\n".join(str(e) for e in info.value.errors)


def test_valid_record_round_trips(tmp_path: Path, db: Engine) -> None:
    write_record(tmp_path, curated_record())
    summary = load_curated(tmp_path, db)
    assert (summary.files, summary.loaded, summary.updated, summary.unchanged) == (1, 1, 0, 0)
    proc = ProcedureCatalog(db).get("1.004222")
    assert proc is not None
    assert proc.origin == "curated" and proc.detail_level == "detail"
    assert proc.verified_on == dt.date(2026, 7, 18)
    assert proc.competent is not None and proc.competent.level == "commune"
    assert [m.kind for m in proc.methods] == ["online", "direct"]
    assert proc.methods[0].fees[0].amount == 10000
    assert proc.methods[0].fees[0].legal_basis == "01/2099/TT-BTN"
    assert proc.methods[1].processing_time == 0.5 and proc.methods[1].is_free
    assert proc.cases[0].documents[0].e_form is True
    assert proc.crosscheck_notes[0].field == "methods.online.fees"
    assert proc.steps == ("Chuẩn bị hồ sơ.", "Nộp hồ sơ.", "Nhận kết quả.")


def test_reload_is_idempotent_and_detects_changes(tmp_path: Path, db: Engine) -> None:
    write_record(tmp_path, curated_record())
    write_record(tmp_path, curated_record("2.000001", province="01"))
    assert load_curated(tmp_path, db).loaded == 2
    again = load_curated(tmp_path, db)
    assert (again.loaded, again.updated, again.unchanged) == (0, 0, 2)
    write_record(tmp_path, curated_record(name="Tên đã sửa"))
    changed = load_curated(tmp_path, db)
    assert (changed.loaded, changed.updated, changed.unchanged) == (0, 1, 1)
    assert ProcedureCatalog(db).get("1.004222").name == "Tên đã sửa"
    assert _count(db) == 2


def test_negative_fee_message_names_file_and_field(tmp_path: Path) -> None:
    rec = curated_record()
    rec["methods"][1]["fees"] = [{"amount": -5, "description": "x", "legal_basis": "y"}]
    msg = _error(tmp_path, rec)
    assert msg.endswith("1_004222.yml: methods[1].fees[0].amount: must be >= 0, got -5")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r.update(colour="red"), "colour: unknown key"),
        (lambda r: r["cases"][0]["documents"][0].update(pages=2), "cases[0].documents[0].pages: unknown key"),
        (lambda r: r["agencies"]["competent"].update(phone="1"), "agencies.competent.phone: unknown key"),
        (lambda r: r.pop("name"), "name: required key is missing"),
        (lambda r: r.pop("verified_on"), "verified_on: required key is missing"),
        (lambda r: r["methods"][0]["fees"][0].pop("legal_basis"), "methods[0].fees[0].legal_basis: required key"),
        (lambda r: r["methods"][0].pop("fees"), "methods[0].fees: required key is missing"),
        (lambda r: r.update(code="1.04222"), "code: must look like N.NNNNNN"),
        (lambda r: r.update(online_level="mostly"), "online_level: must be one of full | partial | none"),
        (lambda r: r["agencies"]["competent"].update(level="district"), "agencies.competent.level: must be one of"),
        (lambda r: r["methods"][0].update(time_unit="week"), "methods[0].time_unit: must be one of"),
        (lambda r: r["methods"][1].update(kind="online"), "methods[1].kind: duplicate kind 'online'"),
        (lambda r: r["methods"][0].update(channel="online"), "methods[0].channel: renamed: write `kind: online"),
        (lambda r: r.update(aliases="hộ khẩu"), "aliases: must be a list"),
        (lambda r: r["cases"][0]["documents"][0].update(originals="1"), "documents[0].originals: must be an integer"),
        (lambda r: r["methods"][0].update(processing_time="7"), "methods[0].processing_time: must be a number"),
        (lambda r: r["methods"][0]["fees"][0].update(amount=True), "fees[0].amount: must be an integer"),
        (lambda r: r.update(cases=[]), "cases: must have at least 1 item"),
        (lambda r: r.update(verified_on="18/07/2026"), "verified_on: must be a date YYYY-MM-DD"),
        (lambda r: r.update(online_portals=["zalo"]), "online_portals[0]: must be one of"),
        (lambda r: r.update(province="Hà Nội"), "province: must be null or a province code"),
        (lambda r: r["methods"][0]["fees"][0].update(source="web"), "fees[0].source: must be one of"),
        (lambda r: r["cases"][0].update(common="yes"), "cases[0].common: must be true or false"),
    ],
)
def test_strict_validation(tmp_path: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    rec = curated_record()
    mutate(rec)
    name = "1_004222.yml" if rec.get("code") != "1.004222" or rec.get("province") else None
    msg = _error(tmp_path, rec, name=name)
    assert "1_004222.yml: " in msg
    assert expected in msg, msg


def test_malformed_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    assert "1_004222.yml: malformed YAML" in _error(tmp_path, text="code: [1.004222\nname: x\n")
    msg = _error(tmp_path, text='code: "1.004222"\ncode: "1.004223"\n')
    assert "duplicate key 'code'" in msg


def test_file_name_must_match_code(tmp_path: Path) -> None:
    msg = _error(tmp_path, curated_record(), name="dang_ky.yml")
    assert "dang_ky.yml: code: file name must be 1_004222.yml" in msg


def test_any_error_writes_nothing(tmp_path: Path, db: Engine) -> None:
    write_record(tmp_path, curated_record("1.000001"))
    bad = curated_record("1.000002")
    bad["methods"][0]["fees"][0]["amount"] = -1
    write_record(tmp_path, bad)
    with pytest.raises(CatalogError):
        load_curated(tmp_path, db)
    assert _count(db) == 0


def test_all_errors_reported_across_files(tmp_path: Path) -> None:
    a = curated_record("1.000001")
    a.pop("name")
    b = curated_record("1.000002", colour="red")
    write_record(tmp_path, a)
    write_record(tmp_path, b)
    with pytest.raises(CatalogErrors) as info:
        validate_dir(tmp_path)
    text = [str(e) for e in info.value.errors]
    assert any("1_000001.yml: name" in t for t in text) and any("1_000002.yml: colour" in t for t in text)
    assert "and 1 more" in str(info.value)


def test_curated_replaces_portal_record(tmp_path: Path, db: Engine) -> None:
    from bot.catalog.domain import Procedure
    from bot.catalog.store import fill_row

    with session_factory(db).begin() as s:
        s.add(fill_row(ProcedureRow(), Procedure(code="1.004222", name="Bản portal", origin="portal")))
    write_record(tmp_path, curated_record())
    summary = load_curated(tmp_path, db)
    assert (summary.updated, summary.replaced_portal) == (1, 1)
    proc = ProcedureCatalog(db).get("1.004222")
    assert proc.origin == "curated" and proc.name == "Thủ tục thử nghiệm đăng ký"


def test_project_curated_files_are_valid() -> None:
    """Every file in data/catalog passes validation (meaningful once curated files land)."""
    directory = PROJECT_ROOT / "data" / "catalog"
    if not catalog_files(directory):
        pytest.skip("no curated files in data/catalog yet")
    try:
        validate_dir(directory)
    except CatalogErrors as exc:
        pytest.fail("\n".join(str(e) for e in exc.errors))


def test_fee_without_a_fixed_amount_needs_a_description(tmp_path: Path) -> None:
    from bot.catalog.loader import validate_dir

    rec = curated_record()
    rec["methods"][0]["fees"] = [
        {"amount": None, "description": "Do HĐND tỉnh quy định", "legal_basis": "85/2019/TT-BTC"}
    ]
    write_record(tmp_path / "ok", rec)
    (proc,) = validate_dir(tmp_path / "ok")
    fee = proc.methods[0].fees[0]
    assert fee.amount is None and not proc.methods[0].is_free
    rec["methods"][0]["fees"][0]["description"] = ""
    assert _error(tmp_path / "bad", rec).endswith("methods[0].fees[0].description: must not be empty")
