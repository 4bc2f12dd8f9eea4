"""ProcedureCatalog: immutable domain objects, search entries, and the cached search index."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.catalog.domain import CatalogEntry, Procedure
from bot.catalog.importer import import_portal
from bot.catalog.loader import load_curated
from bot.catalog.service import ProcedureCatalog, resolve_province
from tests.catalog.helpers import PORTAL_MINI, curated_record, write_record


@pytest.fixture
def catalog(engine: Engine, tmp_path: Path) -> ProcedureCatalog:
    import_portal(PORTAL_MINI, engine, progress=False)
    write_record(tmp_path / "cat", curated_record("1.004222", aliases=["hộ khẩu", "nhập khẩu"]))
    load_curated(tmp_path / "cat", engine)
    return ProcedureCatalog(engine)


def test_get_returns_frozen_domain_object(catalog: ProcedureCatalog) -> None:
    p = catalog.get("1.004222")
    assert isinstance(p, Procedure)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"  # type: ignore[misc]
    assert isinstance(p.methods, tuple) and isinstance(p.cases[0].documents, tuple)
    assert p.method("online") is not None and p.method("postal") is None
    assert p.common_case is not None and p.common_case.common
    assert catalog.get(" 1.004222 ") == p
    assert catalog.get("0.000000") is None and catalog.get("") is None


def test_default_source_url_from_settings(catalog: ProcedureCatalog) -> None:
    assert catalog.get("1.004222").source_url == "https://dichvucong.gov.vn/p/home/x.html"  # the file's own
    assert catalog.get("9.000003").source_url.endswith("ma_thu_tuc=9.000003")


def test_all_search_entries(catalog: ProcedureCatalog) -> None:
    entries = list(catalog.all_search_entries())
    assert len(entries) == catalog.count() == 5
    assert all(isinstance(e, CatalogEntry) for e in entries)
    by_key = {(e.code, e.province): e for e in entries}
    assert by_key[("1.004222", None)].aliases == ("hộ khẩu", "nhập khẩu")
    assert by_key[("1.004222", None)].origin == "curated"
    assert by_key[("9.000001", "01")].detail_level == "summary"


def test_find_delegates_to_search_and_caches_the_index(catalog: ProcedureCatalog) -> None:
    pytest.importorskip("bot.catalog.search")
    found = catalog.find("nhập khẩu", limit=3)
    assert found and found[0].code == "1.004222"
    index = catalog.search_index()
    assert catalog.search_index() is index  # built once
    catalog.invalidate()
    assert catalog.search_index() is not index


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("01", "01"),
        ("Hà Nội", "01"),
        ("tỉnh Bắc Ninh", "24"),
        ("Thành phố Huế", "46"),
        ("Atlantis", None),
        (None, None),
    ],
)
def test_resolve_province(value: str | None, code: str | None) -> None:
    assert resolve_province(value) == code
