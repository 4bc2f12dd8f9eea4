"""The monthly report: the dashboard's figures as an HTML page with PNG charts, or as a PDF.

``python -m bot analytics report --from 2026-11-01 --to 2026-11-30 --out bao-cao.html`` (or
``.pdf``). The charts are drawn by matplotlib (Agg, no screen) from the same
:class:`bot.analytics.query.Figures` the console shows, and the tables are
:func:`bot.analytics.query.tables`' rows, so the report, the dashboard and the CSV files agree.
The HTML is one self-contained file (the PNGs are embedded), for e-mail or a meeting's projector.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.analytics.labels import CHARTS, LOOKUPS, RATES, REASON_KEYS, SERIES, label
from bot.analytics.query import Figures, tables
from bot.wording import catalogue

__all__ = ["charts_png", "render_html", "render_pdf", "write_report"]

_COLOURS = ("#1f5fa8", "#d9822b", "#2e8540", "#b3261e", "#6b4fa0", "#5f6b7a")




def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _lines(ax: Any, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> None:
    x = range(len(labels))
    for i, (name, values) in enumerate(series.items()):
        ax.plot(x, [float("nan") if v is None else v for v in values], marker="o", ms=3,
                color=_COLOURS[i % len(_COLOURS)], label=name)  # fmt: skip
    ax.set_xticks(list(x), labels, rotation=45, ha="right", fontsize=7)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _stacked(ax: Any, labels: Sequence[str], series: dict[str, Sequence[float]]) -> None:
    x = list(range(len(labels)))
    bottom = [0.0] * len(labels)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x, values, bottom=bottom, color=_COLOURS[i % len(_COLOURS)], label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    if series:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")


def charts_png(fig: Figures) -> dict[str, bytes]:
    """The report's charts as PNG bytes, by chart name (volume, containment, handoffs, lookups, procedures)."""
    plt = _pyplot()
    periods = [d.strftime("%d/%m") for d in fig.periods]
    pct = {label(RATES, name): [None if v is None else 100 * v for v in values] for name, values in fig.rates.items()}
    drawings: dict[str, Any] = {
        "volume": lambda ax: _lines(ax, periods, {
            label(SERIES, "conversations"): fig.series["conversations"],
            label(SERIES, "citizens"): fig.series["citizens"],
        }),
        "containment": lambda ax: _lines(ax, periods, pct),
        "handoffs": lambda ax: _stacked(
            ax, periods, {label(REASON_KEYS, k): v for k, v in fig.handoff_reasons.items()}
        ),
        "lookups": lambda ax: _stacked(ax, periods, {label(LOOKUPS, k): v for k, v in fig.lookups.items()}),
        "procedures": lambda ax: ax.barh([p["code"] for p in fig.procedures][::-1],
                                         [p["total"] for p in fig.procedures][::-1], color=_COLOURS[0]),
    }  # fmt: skip
    out: dict[str, bytes] = {}
    for name, draw in drawings.items():
        figure, ax = plt.subplots(figsize=(8, 3.4), dpi=110)
        draw(ax)
        ax.set_title(label(CHARTS, name), fontsize=10)
        figure.tight_layout()
        buf = io.BytesIO()
        figure.savefig(buf, format="png")
        plt.close(figure)
        out[name] = buf.getvalue()
    return out


def _summary(fig: Figures) -> list[tuple[str, str]]:
    t = fig.totals
    return [
        (label(SERIES, "conversations"), f"{int(t['conversations'])}"),
        (label(SERIES, "citizens"), f"{int(t['citizens'])}"),
        (label(RATES, "containment"), f"{100 * t['containment_rate']:.1f} %"),
        (label(RATES, "fallback"), f"{100 * t['fallback_rate']:.1f} %"),
        (label(RATES, "handoff"), f"{100 * t['handoff_rate']:.1f} %"),
        (label(SERIES, "rating_bot"), str(fig.ratings["bot"]["mean"] or "—")),
        (label(SERIES, "rating_staff"), str(fig.ratings["staff"]["mean"] or "—")),
    ]


def _title(fig: Figures) -> str:
    f = fig.filter
    scope = f" · {f.channel}" if f.channel else ""
    return f"{catalogue('staff').text('analytics.title')} {f.date_from:%d/%m/%Y} – {f.date_to:%d/%m/%Y}{scope}"


def render_html(fig: Figures, generated_at: datetime) -> str:
    """One self-contained HTML page: summary, PNG charts (embedded), then every chart's table."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>",
        f"<title>{esc(_title(fig))}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:auto}table{border-collapse:collapse;"
        "margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;font-size:.85rem}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{esc(_title(fig))}</h1>",
        f"<p>{esc(catalogue('staff').text('analytics.definitions'))} ({generated_at:%d/%m/%Y %H:%M} UTC)</p>",
        "<table>",
        *(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _summary(fig)),
        "</table>",
    ]
    for name, png in charts_png(fig).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<img alt='{esc(label(CHARTS, name))}' src='data:image/png;base64,{data}'>")
    for name, (header, rows) in tables(fig).items():
        parts.append(f"<h2>{esc(label(CHARTS, name))}</h2><table><tr>")
        parts.extend(f"<th>{esc(str(h))}</th>" for h in header)
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{esc('' if v is None else str(v))}</td>" for v in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_pdf(fig: Figures, generated_at: datetime) -> bytes:
    """The same report as a PDF (matplotlib's PdfPages): a summary page, one page per chart, the tables."""
    from matplotlib.backends.backend_pdf import PdfPages

    plt = _pyplot()
    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        page = plt.figure(figsize=(8.27, 11.69))
        lines = [_title(fig), f"{generated_at:%d/%m/%Y %H:%M} UTC", ""]
        lines += [f"{k}: {v}" for k, v in _summary(fig)]
        page.text(0.08, 0.92, "\n".join(lines), va="top", fontsize=11)
        pdf.savefig(page)
        plt.close(page)
        for png in charts_png(fig).values():
            image = plt.imread(io.BytesIO(png), format="png")
            page = plt.figure(figsize=(11.69, 8.27))
            page.figimage(image, xo=40, yo=200)
            pdf.savefig(page)
            plt.close(page)
        for name, (header, rows) in tables(fig).items():
            page = plt.figure(figsize=(11.69, 8.27))
            page.suptitle(label(CHARTS, name))
            cells = [["" if v is None else str(v)[:60] for v in row] for row in rows[:30]] or [[""] * len(header)]
            table = page.add_subplot(111)
            table.axis("off")
            drawn = table.table(cellText=cells, colLabels=[str(h) for h in header], loc="upper center")
            drawn.auto_set_font_size(False)
            drawn.set_fontsize(7)
            pdf.savefig(page)
            plt.close(page)
    return buf.getvalue()


def write_report(fig: Figures, out: Path, generated_at: datetime) -> Path:
    """Write the report to ``out``: PDF when it ends in ``.pdf``, else HTML. Returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".pdf":
        out.write_bytes(render_pdf(fig, generated_at))
    else:
        out.write_text(render_html(fig, generated_at), encoding="utf-8")
    return out
