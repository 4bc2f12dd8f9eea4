"""The monthly report (HTML with PNG charts, PDF) and its command line."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.analytics import labels
from bot.analytics.query import CHARTS, Dashboard, DashboardFilter
from bot.analytics.report import render_html, write_report
from bot.analytics.rollup import Rollup
from bot.settings import PROJECT_ROOT
from tests.analytics.traffic import generate

LAST = date(2026, 12, 6)


def _figures(engine: Engine):  # type: ignore[no-untyped-def]
    generate(engine, LAST, days=7, per_day=15)
    Rollup(engine, clock=lambda: datetime(2026, 12, 7, 3)).pending()
    return Dashboard(engine, names=lambda c: {}).figures(DashboardFilter(date(2026, 11, 30), LAST))


def test_every_chart_has_a_title() -> None:
    assert set(labels.CHARTS) == set(CHARTS)


def test_the_html_report_embeds_its_charts_and_tables(engine: Engine) -> None:
    html = render_html(_figures(engine), datetime(2026, 12, 7, 3))
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    assert len(images) == 5 and all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert "Thống kê 30/11/2026 – 06/12/2026" in html and "<script" not in html
    assert html.count("<h2>") == len(CHARTS)
    assert "gen-" not in html  # no sender id


def test_the_pdf_report(engine: Engine, tmp_path: Path) -> None:
    out = write_report(_figures(engine), tmp_path / "sub" / "bao-cao.pdf", datetime(2026, 12, 7, 3))
    assert out.read_bytes().startswith(b"%PDF") and out.stat().st_size > 20_000


def test_the_command_refuses_what_it_cannot_write(sqlite_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": sqlite_url, "BOT_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot", "analytics", "report", *args], cwd=PROJECT_ROOT,
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip

    ok = run("--from", "2026-12-01", "--to", "2026-12-02", "--out", str(tmp_path / "r.html"))
    assert ok.returncode == 0, ok.stderr
    for args in (("--out", str(tmp_path)), ("--out", str(tmp_path / "r.docx"))):
        bad = run("--from", "2026-12-01", "--to", "2026-12-02", *args)
        assert bad.returncode == 2 and bad.stderr.startswith("error: --out"), bad.stderr
    assert run("--from", "2026-12-02", "--to", "2026-12-01").returncode == 2
    assert run("--from", "9999-12-01", "--to", "9999-12-31").returncode == 2
