"""The console's dashboard (supervisor and admin): the roll-ups' figures as charts, tables and CSV files.

Every figure comes from :class:`bot.analytics.query.Dashboard`; the charts are drawn in the
browser by Chart.js (``/static/chart.umd.min.js`` from the npm lock file, no CDN) and
``/static/dashboard.js`` from the JSON the page carries (the CSP forbids inline scripts). A
chart's CSV holds exactly :func:`bot.analytics.query.tables`' rows: counts and rates, never a
sender id or a clear message.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

from starlette.responses import Response

from bot.analytics.labels import CHARTS, DURATIONS, GRAINS, LOOKUPS, RATES, SERIES, label
from bot.analytics.query import Dashboard, DashboardFilter, Figures, tables
from bot.console import labels
from bot.console.labels import t
from bot.console.web import Ctx
from bot.db.clock import today_vn

__all__ = ["dashboard", "dashboard_csv"]

DEFAULT_DAYS = 28


def _filter(ctx: Ctx) -> DashboardFilter:
    """The filter from the query string; ValueError (a 400 from the guard) for a bad date, range or grain."""
    today = today_vn(ctx.console.clock())
    raw_to, raw_from = ctx.query("to"), ctx.query("from")
    date_to = date.fromisoformat(raw_to) if raw_to else today
    date_from = date.fromisoformat(raw_from) if raw_from else date_to - timedelta(days=DEFAULT_DAYS - 1)
    grain = ctx.query("grain") or "day"
    model = ctx.query("model")
    return DashboardFilter(date_from, date_to, ctx.query("channel") or None, model or None, grain)


def _chart_data(fig: Figures) -> dict[str, Any]:
    """What dashboard.js draws: labels in Vietnamese, values as numbers (rates in %)."""

    def pct(values: list[float | None]) -> list[float | None]:
        return [None if v is None else round(100 * v, 1) for v in values]

    return {
        "periods": [d.strftime("%d/%m") for d in fig.periods],
        "volume": {
            label(SERIES, "conversations"): fig.series["conversations"],
            label(SERIES, "citizens"): fig.series["citizens"],
        },
        "rates": {label(RATES, name): pct(values) for name, values in fig.rates.items()},
        "handoffs": {labels.reason_label(k): v for k, v in fig.handoff_reasons.items()},
        "lookups": {label(LOOKUPS, k): v for k, v in fig.lookups.items()},
        "ratings": {
            label(SERIES, "rating_bot"): fig.ratings["bot"]["by_period"],
            label(SERIES, "rating_staff"): fig.ratings["staff"]["by_period"],
        },
        "channels": {
            "labels": [labels.channel_label(c["name"]) for c in fig.by_channel],
            "values": [c["conversations"] for c in fig.by_channel],
        },
        "procedures": {
            "labels": [p["code"] for p in fig.procedures],
            "values": [p["total"] for p in fig.procedures],
        },
    }


def dashboard(ctx: Ctx) -> Response:
    """Thống kê: the figures of a date range, by channel and model, with charts and CSV links."""
    try:
        f = _filter(ctx)
    except (ValueError, OverflowError):
        today = today_vn(ctx.console.clock())
        fallback = DashboardFilter(today - timedelta(days=DEFAULT_DAYS - 1), today)
        return ctx.render("analytics.html", _context(ctx, fallback, error=t("analytics.bad_filter")), 400)
    return ctx.render("analytics.html", _context(ctx, f))


def _context(ctx: Ctx, f: DashboardFilter, error: str = "") -> dict[str, Any]:
    fig = Dashboard(ctx.console.engine).figures(f)
    query = {"from": f.date_from.isoformat(), "to": f.date_to.isoformat(), "grain": f.grain,
             "channel": f.channel or "", "model": f.model_id or ""}  # fmt: skip
    return {
        "f": f,
        "fig": fig,
        "query": query,
        "charts": {name: label(CHARTS, name) for name in CHARTS},
        "grains": {grain: label(GRAINS, grain) for grain in GRAINS},
        "durations": {kind: label(DURATIONS, kind) for kind in DURATIONS},
        # "<" escaped: the JSON sits in a <script type="application/json"> element.
        "chart_json": json.dumps(_chart_data(fig), ensure_ascii=False).replace("<", "\\u003c"),
        "message": error,
        "kind": "error" if error else "",
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run: a text starting like a formula gets a leading apostrophe
    (an unanswered message "=HYPERLINK(…)" stays text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def dashboard_csv(ctx: Ctx) -> Response:
    """One chart's numbers as CSV (UTF-8 with BOM, so that spreadsheet programs read the diacritics)."""
    chart = ctx.request.path_params["chart"]
    if chart not in CHARTS:
        return ctx.error(404, t("errors.not_found"))
    f = _filter(ctx)
    header, rows = tables(Dashboard(ctx.console.engine).figures(f))[chart]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    ctx.audit("analytics_csv", chart, f"{f.date_from}..{f.date_to}")
    name = f"thong-ke-{chart}-{f.date_from:%Y%m%d}-{f.date_to:%Y%m%d}.csv"
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"},
    )
