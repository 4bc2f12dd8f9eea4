"""Reading the roll-ups: the dashboard's figures and tables for a date range, a channel and a model.

Only ``analytics_*`` tables are read (never events or turns), with the work done by grouped SQL
queries, so a year of figures reads in well under a second (``bench/analytics_bench.py``).
:func:`tables` turns :class:`Figures` into the rows of each chart: the CSV downloads and the
monthly report print exactly those, so a figure is computed in one place. Nothing here holds
personal data: counts, seconds, channels, model ids, procedure codes, intents, and unanswered
messages already masked and folded by the roll-up.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from bot.analytics.models import DailyRow, DurationRow, UnansweredRow
from bot.catalog.models import NATIONAL, ProcedureRow
from bot.db import engine_for

__all__ = [
    "CHARTS",
    "GRAINS",
    "MAX_RANGE_DAYS",
    "Dashboard",
    "DashboardFilter",
    "Figures",
    "tables",
]

GRAINS = ("day", "week")
MAX_RANGE_DAYS = 3 * 366
TOP_PROCEDURES = 15
TOP_UNANSWERED = 20
#: Two unanswered messages this similar (rapidfuzz token_set_ratio, 0-100) are one group.
SIMILAR = 80
_UNANSWERED_READ = 3000
_SERIES = (
    "conversations", "contained", "answered", "citizens", "turns", "fallback_turns", "handoff_conversations",
)  # fmt: skip
#: Chart names, in the order of the dashboard, the CSV downloads and the report.
CHARTS = (
    "volume", "containment", "handoffs", "waiting", "ratings", "lookups", "channels", "models", "procedures",
    "unanswered",
)  # fmt: skip


@dataclass(frozen=True)
class DashboardFilter:
    """A Vietnam-date range (inclusive), optionally one channel and one model id; ``grain`` day or week.

    ValueError when the range is reversed, longer than :data:`MAX_RANGE_DAYS` or the grain unknown.
    """

    date_from: date
    date_to: date
    channel: str | None = None
    model_id: str | None = None
    grain: str = "day"

    def __post_init__(self) -> None:
        if self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        if (self.date_to - self.date_from).days >= MAX_RANGE_DAYS:
            raise ValueError(f"a range of at most {MAX_RANGE_DAYS} days")
        if self.grain not in GRAINS:
            raise ValueError(f"grain must be one of {GRAINS}")

    def period(self, day: date) -> date:
        """The first day of ``day``'s period (itself, or its week's Monday)."""
        return day if self.grain == "day" else day - timedelta(days=day.weekday())

    def periods(self) -> list[date]:
        """Every period start in the range, in order."""
        out, day = [], self.date_from
        while day <= self.date_to:
            start = self.period(day)
            if not out or out[-1] != start:
                out.append(start)
            day += timedelta(days=1)
        return out


@dataclass
class Figures:
    """Everything the dashboard shows for one :class:`DashboardFilter`.

    ``series`` and the ``*_by`` maps hold one value per entry of ``periods``; rates are 0-1 (None
    where there is nothing to divide); durations are in minutes.
    """

    filter: DashboardFilter
    periods: list[date]
    series: dict[str, list[float]] = field(default_factory=dict)
    rates: dict[str, list[float | None]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    handoff_reasons: dict[str, list[float]] = field(default_factory=dict)
    handoff_ends: dict[str, float] = field(default_factory=dict)
    lookups: dict[str, list[float]] = field(default_factory=dict)
    ratings: dict[str, dict[str, Any]] = field(default_factory=dict)
    durations: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    by_channel: list[dict[str, Any]] = field(default_factory=list)
    by_model: list[dict[str, Any]] = field(default_factory=list)
    procedures: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


def _rate(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _breakdown(rows: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per channel (or model): conversations and the three rates, biggest first."""
    out = []
    for name, m in rows.items():
        conv = m.get("conversations", 0.0)
        out.append({
            "name": name,
            "conversations": int(conv),
            "containment": _rate(m.get("contained", 0.0), conv),
            "fallback": _rate(m.get("fallback_turns", 0.0), m.get("turns", 0.0)),
            "handoff": _rate(m.get("handoff_conversations", 0.0), conv),
        })  # fmt: skip
    return sorted(out, key=lambda r: (-r["conversations"], r["name"]))


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return round(statistics.fmean(values) / 60, 2), round(statistics.median(values) / 60, 2)


def group_similar(counts: dict[str, int], threshold: int = SIMILAR) -> list[dict[str, Any]]:
    """Group texts by similarity, most frequent first: ``[{"text": representative, "count", "variants"}]``.

    The representative is a group's most frequent text; a text joins the first group whose
    representative scores at least ``threshold`` (rapidfuzz ``token_set_ratio``).
    """
    groups: list[dict[str, Any]] = []
    reps: list[str] = []
    for text, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        match = process.extractOne(text, reps, scorer=fuzz.token_set_ratio, score_cutoff=threshold) if reps else None
        if match is None:
            reps.append(text)
            groups.append({"text": text, "count": count, "variants": 1})
        else:
            group = groups[match[2]]
            group["count"] += count
            group["variants"] += 1
    return sorted(groups, key=lambda g: (-g["count"], g["text"]))


def catalogue_names(engine: Engine, codes: list[str]) -> dict[str, str]:
    """The catalogue's name of each of ``codes`` (the national entry first); codes it lacks are left out."""
    if not codes:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(ProcedureRow.code, ProcedureRow.name, ProcedureRow.province).where(ProcedureRow.code.in_(codes))
        ).all()
    out: dict[str, str] = {}
    for code, name, _province in sorted(rows, key=lambda r: r.province != NATIONAL):
        out.setdefault(code, name)
    return out


class Dashboard:
    """Reads :class:`Figures` from the roll-ups over ``engine``; ``names(codes)`` names procedures
    (default: :func:`catalogue_names` over the same database)."""

    def __init__(self, engine: Engine | None = None, names: Callable[[list[str]], dict[str, str]] | None = None):
        self.engine = engine or engine_for()
        self.names = names or (lambda codes: catalogue_names(self.engine, codes))

    def _where(self, f: DashboardFilter, table: Any = DailyRow) -> list[ColumnElement]:
        out = [table.day >= f.date_from, table.day <= f.date_to]
        if f.channel:
            out.append(table.channel == f.channel)
        if f.model_id is not None and table is DailyRow:
            out.append(table.model_id == f.model_id)
        return out

    def figures(self, f: DashboardFilter) -> Figures:
        """The dashboard's figures for ``f``."""
        periods = f.periods()
        index = {p: i for i, p in enumerate(periods)}
        fig = Figures(f, periods)
        zeros = [0.0] * len(periods)
        series: dict[str, list[float]] = {name: list(zeros) for name in _SERIES}
        reasons: dict[str, list[float]] = defaultdict(lambda: list(zeros))
        lookups: dict[str, list[float]] = defaultdict(lambda: list(zeros))
        ratings: dict[str, dict[str, Any]] = {t: {"count": 0, "sum": 0.0, "dist": [0] * 5} for t in ("bot", "staff")}
        rating_periods: dict[str, list[list[float]]] = {t: [[0.0, 0.0] for _ in periods] for t in ("bot", "staff")}
        week_citizens = list(zeros)
        with self.engine.connect() as conn:
            daily = conn.execute(
                select(DailyRow.day, DailyRow.metric, DailyRow.key, func.sum(DailyRow.value))
                .where(*self._where(f), DailyRow.metric.not_in(("procedure_answers", "citizens_week")))
                .group_by(DailyRow.day, DailyRow.metric, DailyRow.key)
            ).all()
            for day, metric, key, value in daily:
                i = index[f.period(day)]
                value = float(value or 0)
                if metric in series:
                    series[metric][i] += value
                elif metric == "handoffs":
                    reasons[key][i] += value
                elif metric == "handoff_ends":
                    fig.handoff_ends[key] = fig.handoff_ends.get(key, 0.0) + value
                elif metric == "lookups":
                    lookups[key][i] += value
                elif metric == "ratings":
                    target, _, score = key.partition(":")
                    if target in ratings and score.isdigit() and 1 <= int(score) <= 5:
                        ratings[target]["count"] += value
                        ratings[target]["sum"] += value * int(score)
                        ratings[target]["dist"][int(score) - 1] += int(value)
                        rating_periods[target][i][0] += value
                        rating_periods[target][i][1] += value * int(score)
            if f.grain == "week":
                # On each week's Monday, which may fall before date_from: the whole week's distinct citizens.
                week_filter = DashboardFilter(f.period(f.date_from), f.date_to, f.channel, f.model_id, f.grain)
                for day, value in conn.execute(
                    select(DailyRow.day, func.sum(DailyRow.value))
                    .where(*self._where(week_filter), DailyRow.metric == "citizens_week")
                    .group_by(DailyRow.day)
                ):
                    week_citizens[index[day]] += float(value or 0)
            by_channel: dict[str, dict[str, float]] = defaultdict(dict)
            by_model: dict[str, dict[str, float]] = defaultdict(dict)
            wanted = ("conversations", "contained", "turns", "fallback_turns", "handoff_conversations")
            for column, target in ((DailyRow.channel, by_channel), (DailyRow.model_id, by_model)):
                for name, metric, value in conn.execute(
                    select(column, DailyRow.metric, func.sum(DailyRow.value))
                    .where(*self._where(f), DailyRow.metric.in_(wanted))
                    .group_by(column, DailyRow.metric)
                ):
                    target[name or "-"][metric] = float(value or 0)
            procedures: dict[str, dict[str, float]] = defaultdict(dict)
            for key, value in conn.execute(
                select(DailyRow.key, func.sum(DailyRow.value))
                .where(*self._where(f), DailyRow.metric == "procedure_answers")
                .group_by(DailyRow.key)
            ):
                code, _, intent = key.partition("|")
                procedures[code][intent] = procedures[code].get(intent, 0.0) + float(value or 0)
            durations: dict[tuple[str, str], list[float]] = defaultdict(list)
            for kind, seconds, office in conn.execute(
                select(DurationRow.kind, DurationRow.seconds, DurationRow.office_seconds).where(
                    *self._where(f, DurationRow)
                )
            ):
                durations[(kind, "all")].append(seconds)
                durations[(kind, "office")].append(office)
            unanswered = {
                text: int(n)
                for text, n in conn.execute(
                    select(UnansweredRow.text, func.sum(UnansweredRow.count).label("n"))
                    .where(*self._where(f, UnansweredRow))
                    .group_by(UnansweredRow.text)
                    .order_by(func.sum(UnansweredRow.count).desc(), UnansweredRow.text)
                    .limit(_UNANSWERED_READ)
                )
            }
            fig.channels = sorted(c for c in conn.scalars(select(DailyRow.channel).distinct()) if c)
            fig.models = sorted(m for m in conn.scalars(select(DailyRow.model_id).distinct()) if m)
        if f.grain == "week" and f.model_id is None:
            # A week's citizens are counted once however many days they wrote (the week's own roll-up).
            series["citizens"] = week_citizens
        fig.series = series
        fig.totals = {name: sum(values) for name, values in series.items()}
        if f.grain == "week" and f.model_id is None:
            fig.totals["citizens"] = sum(week_citizens)
        def ratio(part: str, whole: str) -> list[float | None]:
            return [_rate(a, b) for a, b in zip(series[part], series[whole], strict=True)]

        fig.rates = {
            "containment": ratio("contained", "conversations"),
            "fallback": ratio("fallback_turns", "turns"),
            "handoff": ratio("handoff_conversations", "conversations"),
        }
        t = fig.totals
        fig.totals.update({
            "containment_rate": _rate(t["contained"], t["conversations"]) or 0.0,
            "fallback_rate": _rate(t["fallback_turns"], t["turns"]) or 0.0,
            "handoff_rate": _rate(t["handoff_conversations"], t["conversations"]) or 0.0,
        })  # fmt: skip
        fig.handoff_reasons = dict(sorted(reasons.items()))
        fig.lookups = dict(sorted(lookups.items()))
        for target, r in ratings.items():
            fig.ratings[target] = {
                "count": int(r["count"]),
                "mean": round(r["sum"] / r["count"], 2) if r["count"] else None,
                "dist": r["dist"],
                "by_period": [round(s / n, 2) if n else None for n, s in rating_periods[target]],
            }
        for kind in ("wait", "first_reply"):
            mean, median = _stats(durations[(kind, "all")])
            office_mean, office_median = _stats(durations[(kind, "office")])
            fig.durations[kind] = {
                "count": len(durations[(kind, "all")]),
                "mean": mean,
                "median": median,
                "office_mean": office_mean,
                "office_median": office_median,
            }
        fig.by_channel = _breakdown(by_channel)
        fig.by_model = _breakdown(by_model)
        top = sorted(procedures.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:TOP_PROCEDURES]
        names = self.names([code for code, _ in top])
        fig.procedures = [
            {"code": code, "name": names.get(code, ""), "total": int(sum(kinds.values())),
             "answer_types": {k: int(v) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])}}
            for code, kinds in top
        ]  # fmt: skip
        fig.unanswered = group_similar(unanswered)[:TOP_UNANSWERED]
        return fig


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def tables(fig: Figures) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Each chart's numbers as ``{chart: (header, rows)}`` (keys: :data:`CHARTS`): what the CSV and report print."""
    p = [d.isoformat() for d in fig.periods]
    s, r = fig.series, fig.rates
    reasons = sorted(fig.handoff_reasons)
    groups = sorted(fig.lookups)
    out: dict[str, tuple[list[str], list[list[Any]]]] = {
        "volume": (
            ["period", "conversations", "citizens", "citizen_messages"],
            [[d, int(s["conversations"][i]), int(s["citizens"][i]), int(s["turns"][i])] for i, d in enumerate(p)],
        ),
        "containment": (
            ["period", "containment_pct", "fallback_pct", "handoff_pct"],
            [[d, _pct(r["containment"][i]), _pct(r["fallback"][i]), _pct(r["handoff"][i])] for i, d in enumerate(p)],
        ),
        "handoffs": (
            ["period", *reasons],
            [[d, *(int(fig.handoff_reasons[k][i]) for k in reasons)] for i, d in enumerate(p)],
        ),
        "waiting": (
            ["measure", "count", "mean_min", "median_min", "office_mean_min", "office_median_min"],
            [[k, v["count"], v["mean"], v["median"], v["office_mean"], v["office_median"]]
             for k, v in fig.durations.items()],
        ),
        "ratings": (
            ["target", "count", "mean", "1", "2", "3", "4", "5"],
            [[k, v["count"], v["mean"], *v["dist"]] for k, v in fig.ratings.items()],
        ),
        "lookups": (
            ["period", *groups],
            [[d, *(int(fig.lookups[g][i]) for g in groups)] for i, d in enumerate(p)],
        ),
        "channels": (
            ["channel", "conversations", "containment_pct", "fallback_pct", "handoff_pct"],
            [[c["name"], c["conversations"], _pct(c["containment"]), _pct(c["fallback"]), _pct(c["handoff"])]
             for c in fig.by_channel],
        ),
        "models": (
            ["model", "conversations", "containment_pct", "fallback_pct", "handoff_pct"],
            [[c["name"], c["conversations"], _pct(c["containment"]), _pct(c["fallback"]), _pct(c["handoff"])]
             for c in fig.by_model],
        ),
        "procedures": (
            ["procedure_code", "name", "questions", "answer_types"],
            [[x["code"], x["name"], x["total"], " ".join(f"{k}={v}" for k, v in x["answer_types"].items())]
             for x in fig.procedures],
        ),
        "unanswered": (
            ["message", "count", "similar_variants"],
            [[u["text"], u["count"], u["variants"]] for u in fig.unanswered],
        ),
    }
    return out
