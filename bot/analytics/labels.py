"""Staff wording of the analytics (bot/wording/staff.vi.yml), by code, for the dashboard and the report.

Each table maps a code (a chart, a lookup outcome, a rate...) to the key of its sentence, written out
in full so that tests/test_wording.py sees every key used; :func:`label` reads one.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.wording import catalogue

__all__ = ["CHARTS", "DURATIONS", "GRAINS", "LOOKUPS", "RATES", "REASON_KEYS", "SERIES", "label"]

CHARTS = {
    "volume": "analytics.charts.volume",
    "containment": "analytics.charts.containment",
    "handoffs": "analytics.charts.handoffs",
    "waiting": "analytics.charts.waiting",
    "ratings": "analytics.charts.ratings",
    "lookups": "analytics.charts.lookups",
    "channels": "analytics.charts.channels",
    "models": "analytics.charts.models",
    "procedures": "analytics.charts.procedures",
    "unanswered": "analytics.charts.unanswered",
}
DURATIONS = {"wait": "analytics.duration.wait", "first_reply": "analytics.duration.first_reply"}
GRAINS = {"day": "common.day", "week": "analytics.grain_week"}
LOOKUPS = {
    "verified": "analytics.lookup.verified",
    "refused": "analytics.lookup.refused",
    "locked": "analytics.lookup.locked",
    "unavailable": "analytics.lookup.unavailable",
    "other": "analytics.lookup.other",
}
RATES = {"containment": "analytics.series.containment", "fallback": "common.fallbacks", "handoff": "common.handed_off"}
SERIES = {
    "conversations": "analytics.series.conversations",
    "citizens": "labels.author.citizen",
    "rating_bot": "analytics.series.rating_bot",
    "rating_staff": "analytics.series.rating_staff",
}
#: Why a handoff was opened (bot.helpdesk.handoff.REASONS); the console's labels too.
REASON_KEYS = {
    "asked": "labels.reason.asked",
    "fallback": "labels.reason.fallback",
    "low_confidence": "labels.reason.low_confidence",
    "dossier": "labels.reason.dossier",
}


def label(keys: Mapping[str, str], code: str) -> str:
    """The staff sentence for ``code`` in ``keys``; the code itself when it has none."""
    key = keys.get(code)
    return catalogue("staff").text(key) if key else code
