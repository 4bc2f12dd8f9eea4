"""``python -m bot`` catalogue and db commands: exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.db.schema import head_revision
from bot.settings import PROJECT_ROOT
from tests.catalog.helpers import PORTAL_MINI, FakePortal, curated_record, write_record

pytestmark = pytest.mark.usefixtures("no_process_wide_masking")


def test_groups_are_discovered() -> None:
    parser, _errors = build_parser()
    groups = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"db", "catalog"} <= set(groups)


def test_db_upgrade(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--database-url", sqlite_url, "db", "upgrade"]) == 0
    assert f"database at revision {head_revision()}" in capsys.readouterr().out


def test_load_import_show(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    write_record(tmp_path / "cat", curated_record())
    assert main(["--database-url", sqlite_url, "catalog", "load", str(tmp_path / "cat")]) == 0
    assert "1 loaded" in capsys.readouterr().out
    assert main(["--database-url", sqlite_url, "catalog", "import", str(PORTAL_MINI), "--quiet"]) == 0
    assert "4 loaded" in capsys.readouterr().out
    assert main(["--database-url", sqlite_url, "catalog", "show", "9.000001"]) == 0
    out = capsys.readouterr().out
    assert "Cấp giấy xác nhận thử nghiệm" in out and "method online" in out
    assert main(["--database-url", sqlite_url, "catalog", "show", "9.000001", "--province", "01", "--json"]) == 0
    assert '"province": "01"' in capsys.readouterr().out
    assert main(["--database-url", sqlite_url, "catalog", "show", "8.888888"]) == 1


def test_catalog_error_is_one_line_exit_2(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    rec = curated_record()
    rec["methods"][0]["fees"][0]["amount"] = -5
    write_record(tmp_path / "cat", rec)
    assert main(["--database-url", sqlite_url, "catalog", "load", str(tmp_path / "cat")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'cat' / '1_004222.yml'}: methods[0].fees[0].amount: must be >= 0, got -5"]
    assert main(["--database-url", sqlite_url, "catalog", "import", str(tmp_path / "missing")]) == 2


def test_sync_with_import(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    rows = [json.loads(x) for x in (PORTAL_MINI / "catalog.jsonl").read_text(encoding="utf-8").splitlines()]
    details = {}
    for f in (PORTAL_MINI / "details").glob("*.json"):
        d = json.loads(f.read_text(encoding="utf-8"))
        details[d["data"]["id"]] = d
    portal = FakePortal(rows, details)
    try:
        argv = ["--database-url", sqlite_url, "catalog", "sync", "--out", str(tmp_path / "out"), "--base-url"]
        argv += [portal.url, "--delay", "0", "--codes", "9.000002", "--import", "--quiet"]
        assert main(argv) == 0
    finally:
        portal.close()
    out = capsys.readouterr().out
    assert "catalogue complete: 6 row(s)" in out and "4 loaded" in out


def test_real_process_has_no_traceback(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    write_record(cat, curated_record(colour="red"))
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", "catalog", "load", str(cat)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "1_004222.yml: colour: unknown key" in lines[0]
