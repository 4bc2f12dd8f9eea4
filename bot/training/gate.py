"""The gate a candidate model passes before it goes live: its evaluation report against the live one's.

A report is a dict::

    {"overall": 0.93, "no_diacritics": 0.91, "teencode": 0.88,
     "per_intent": {"ask_fee": {"precision": .., "recall": .., "f1": .., "support": ..}, ...},
     "stories_passed": True}

Rules (:func:`check`): overall and diacritic-free accuracy drop by at most :data:`MAX_ACCURACY_DROP`
(1 point); no intent of the live model loses more than :data:`MAX_F1_DROP` (5 points) of F1 (an intent
the candidate no longer has counts as F1 0; a new intent is fine); the story tests all pass. A failed
gate can be overridden by a supervisor with a written reason (:func:`override`); the registry stores
the decision (:meth:`bot.training.registry.ModelRegistry.promote`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.db.clock import naive_utc
from bot.training.errors import TrainingError

__all__ = [
    "MAX_ACCURACY_DROP",
    "MAX_F1_DROP",
    "MIN_REASON_CHARS",
    "OVERRIDE_ROLES",
    "Failure",
    "GateResult",
    "Override",
    "check",
    "override",
]

MAX_ACCURACY_DROP = 0.01
MAX_F1_DROP = 0.05
MIN_REASON_CHARS = 10
OVERRIDE_ROLES = frozenset({"supervisor", "admin"})
_EPSILON = 1e-9  # a drop of exactly one point passes despite floating-point noise


@dataclass(frozen=True)
class Failure:
    """A broken rule: ``rule`` is ``overall``, ``no_diacritics``, ``intent_f1``, ``stories`` or ``report``;
    ``detail`` names what (the intent, the missing field); ``live``/``candidate`` the two values."""

    rule: str
    detail: str
    live: Any
    candidate: Any


@dataclass(frozen=True)
class GateResult:
    """``passed`` when ``failures`` is empty."""

    passed: bool
    failures: tuple[Failure, ...]


@dataclass(frozen=True)
class Override:
    """A supervisor's decision to promote despite a failed gate: who, with which role, when (naive UTC), why,
    and the failures accepted."""

    by: str
    role: str
    reason: str
    at: datetime
    failures: tuple[Failure, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the registry's audit."""
        return {
            "by": self.by,
            "role": self.role,
            "reason": self.reason,
            "at": self.at.isoformat(),
            "failures": [f.__dict__ for f in self.failures],
        }


def _number(report: Mapping[str, Any], name: str) -> float | None:
    value = report.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _f1(report: Mapping[str, Any]) -> dict[str, float]:
    per_intent = report.get("per_intent") or {}
    return {
        str(intent): float(scores.get("f1") or 0.0)
        for intent, scores in per_intent.items()
        if isinstance(scores, Mapping)
    }


def check(candidate: Mapping[str, Any], live: Mapping[str, Any] | None) -> GateResult:
    """Apply the rules to ``candidate`` against ``live`` (None: no live model yet, only the stories count)."""
    failures: list[Failure] = []
    if live is not None:
        for name in ("overall", "no_diacritics"):
            was, now = _number(live, name), _number(candidate, name)
            if was is None:
                continue
            if now is None:
                failures.append(Failure("report", name, was, None))
            elif was - now > MAX_ACCURACY_DROP + _EPSILON:
                failures.append(Failure(name, f"accuracy dropped by {was - now:.4f}", was, now))
        before, after = _f1(live), _f1(candidate)
        for intent in sorted(before):
            now = after.get(intent, 0.0)
            if before[intent] - now > MAX_F1_DROP + _EPSILON:
                detail = intent if intent in after else f"{intent} (removed)"
                failures.append(Failure("intent_f1", detail, before[intent], now))
    if candidate.get("stories_passed") is not True:
        failures.append(Failure("stories", "story tests did not all pass", None, candidate.get("stories_passed")))
    return GateResult(not failures, tuple(failures))


def override(result: GateResult, by: str, role: str, reason: str, at: datetime | None = None) -> Override:
    """A supervisor's override of a failed gate. :class:`TrainingError` codes: ``not_allowed`` (role not in
    :data:`OVERRIDE_ROLES`), ``reason_too_short`` (fewer than :data:`MIN_REASON_CHARS` characters once trimmed),
    ``nothing_to_override`` (the gate passed)."""
    if role not in OVERRIDE_ROLES:
        raise TrainingError("not_allowed", "only a supervisor may override the gate", role=role)
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON_CHARS:
        raise TrainingError("reason_too_short", "write why the gate is overridden", minimum=MIN_REASON_CHARS)
    if not by or not by.strip():
        raise TrainingError("not_allowed", "an override names who decided it")
    if result.passed:
        raise TrainingError("nothing_to_override", "the gate passed")
    return Override(by.strip(), role, reason, naive_utc(at), result.failures)
