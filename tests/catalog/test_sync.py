"""Portal sync against a local HTTP server replaying fixture data: paging, retries, resume, import."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.catalog.errors import PortalSyncError
from bot.catalog.importer import import_portal
from bot.catalog.service import ProcedureCatalog
from bot.catalog.sync import STATE_FILE, PortalClient, sync
from tests.catalog.helpers import PORTAL_MINI, FakePortal


def _load(directory: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows = [json.loads(line) for line in (directory / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]
    details = {}
    for f in sorted((directory / "details").glob("*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        details[data["data"]["id"]] = data
    return rows, details


def _client(portal: FakePortal, retries: int = 2) -> PortalClient:
    return PortalClient(portal.url, delay=0, backoff=0.001, retries=retries, timeout=5)


@pytest.fixture
def mini_portal() -> Iterator[FakePortal]:
    rows, details = _load(PORTAL_MINI)
    portal = FakePortal(rows, details)
    yield portal
    portal.close()


def _saved_rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]


def test_sync_fetches_everything_with_browser_agent(tmp_path: Path, mini_portal: FakePortal) -> None:
    s = sync(tmp_path, _client(mini_portal), page_size=4, quiet=True)
    assert s.catalog_complete and (s.rows_total, s.rows_new) == (6, 6)
    assert s.details_fetched == 2
    assert len(s.failures) == 4 and all("HTTP 404" in f for f in s.failures)  # the fixture has 2 details only
    assert _saved_rows(tmp_path) == mini_portal.rows
    assert sorted(p.name for p in (tmp_path / "details").glob("*.json")) == ["9.000001.json", "9.000002.json"]
    assert all("Mozilla/5.0" in ua for _, _, ua in mini_portal.requests)
    assert mini_portal.list_cursors()[:2] == [None, mini_portal.rows[3]["id"]]


def test_retry_after_500_then_success(tmp_path: Path, mini_portal: FakePortal) -> None:
    mini_portal.fail_next = [500, 429]
    s = sync(tmp_path, _client(mini_portal), page_size=10, quiet=True, codes={"9.000001"})
    assert s.retries == 2 and s.catalog_complete and s.details_fetched == 1


def test_gives_up_after_retries(mini_portal: FakePortal) -> None:
    mini_portal.fail_next = [500, 500, 500]
    with pytest.raises(PortalSyncError, match=r"HTTP 500 \(gave up after 3 attempts\)"):
        _client(mini_portal).catalog_page(None)


def test_client_error_is_not_retried(mini_portal: FakePortal) -> None:
    with pytest.raises(PortalSyncError, match="HTTP 404"):
        PortalClient(mini_portal.url, delay=0, backoff=0.001).post("/nope", {})
    assert len(mini_portal.requests) == 1


def test_interruption_then_resume(tmp_path: Path, mini_portal: FakePortal) -> None:
    mini_portal.broken_from_row = 4  # the third page of two rows keeps failing
    with pytest.raises(PortalSyncError):
        sync(tmp_path, _client(mini_portal), page_size=2, quiet=True)
    assert len(_saved_rows(tmp_path)) == 4
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert state["last_id"] == mini_portal.rows[3]["id"] and not state["catalog_complete"]

    mini_portal.broken_from_row = None
    mini_portal.requests.clear()
    s = sync(tmp_path, _client(mini_portal), page_size=2, quiet=True, limit=1)
    assert mini_portal.list_cursors()[0] == mini_portal.rows[3]["id"]  # resumed, not restarted
    assert s.rows_new == 2 and _saved_rows(tmp_path) == mini_portal.rows
    assert (s.details_fetched, s.details_pending) == (1, 5)

    mini_portal.requests.clear()
    s = sync(tmp_path, _client(mini_portal), page_size=2, quiet=True, codes={"9.000001", "9.000002"})
    assert mini_portal.list_cursors() == []  # the catalogue is complete: not fetched again
    assert (s.details_skipped, s.details_fetched) == (1, 1)


def test_sync_then_import(tmp_path: Path, mini_portal: FakePortal, engine: Engine) -> None:
    sync(tmp_path, _client(mini_portal), page_size=3, quiet=True, codes={"9.000001", "9.000002"})
    s = import_portal(tmp_path, engine, progress=False)
    assert (s.procedures, s.loaded) == (4, 4)
    assert ProcedureCatalog(engine).get("9.000001").detail_level == "detail"


def test_real_snapshot_replayed(tmp_path: Path, snapshot_dir: Path, engine: Engine) -> None:
    """A few pages and details of the real snapshot, fetched and imported like the original."""
    all_rows = [json.loads(line) for line in (snapshot_dir / "catalog.jsonl").open(encoding="utf-8")]
    picked = ["1.004222", "1.001193", "2.002189"]
    detail_rows = [r for r in all_rows if r["code"] in picked]
    rows = detail_rows + [r for r in all_rows[:30] if r["code"] not in picked][:17]
    details = {}
    for code in picked:
        data = json.loads((snapshot_dir / "details" / f"{code}.json").read_text(encoding="utf-8"))
        details[data["data"]["id"]] = data
    portal = FakePortal(rows, details)
    try:
        s = sync(tmp_path / "out", _client(portal), page_size=10, quiet=True, codes=set(picked))
    finally:
        portal.close()
    assert s.catalog_complete and s.rows_total == 20 and s.details_fetched == 3
    imported = import_portal(tmp_path / "out", engine, progress=False)
    assert (imported.procedures, imported.loaded, len(imported.skipped)) == (20, 20, 0)
    p = ProcedureCatalog(engine).get("1.004222")
    assert p.detail_level == "detail" and p.name == "Đăng ký thường trú"
