"""The console's wording: :func:`t` reads a sentence of bot/wording/staff.vi.yml; codes get their labels by key.

Each table maps a code (a role, a reason, a channel...) to the key of its label, written out in full
so that tests/test_wording.py sees every key used; a code with no key is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.analytics.labels import REASON_KEYS, label
from bot.wording import catalogue

__all__ = [
    "ANSWER_TYPES",
    "AUTHORS",
    "CALENDAR_KINDS",
    "CALLBACK_STATES",
    "CHANNELS",
    "END_REASON_KEYS",
    "HANDOFF_STATES",
    "PROBLEMS",
    "REASON_KEYS",
    "ROLE_KEYS",
    "TRAINING_ERRORS",
    "answer_type_label",
    "author_label",
    "calendar_kind_label",
    "callback_state_label",
    "channel_label",
    "end_reason_label",
    "handoff_state_label",
    "problem_label",
    "reason_label",
    "role_label",
    "t",
    "training_error",
]


def t(key: str, **values: Any) -> str:
    """The staff sentence under ``key`` with ``values`` filled in (see :meth:`bot.wording.Wording.text`)."""
    return catalogue("staff").text(key, **values)


# Code -> key of its label.
ROLE_KEYS = {
    "agent": "labels.role.agent",
    "trainer": "labels.role.trainer",
    "supervisor": "labels.role.supervisor",
    "admin": "labels.role.admin",
}
END_REASON_KEYS = {
    "answered": "labels.end_reason.answered",
    "no_answer": "labels.end_reason.no_answer",
    "citizen_left": "labels.end_reason.citizen_left",
    "abusive": "labels.end_reason.abusive",
    "other": "labels.end_reason.other",
}
HANDOFF_STATES = {
    "waiting": "labels.handoff_state.waiting",
    "active": "labels.handoff_state.active",
    "closed": "labels.handoff_state.closed",
}
CALLBACK_STATES = {
    "pending": "labels.callback_state.pending",
    "reached": "labels.callback_state.reached",
    "not_reached": "labels.callback_state.not_reached",
}
CALENDAR_KINDS = {"off": "labels.calendar_kind.off", "work": "labels.calendar_kind.work"}
AUTHORS = {
    "citizen": "labels.author.citizen",
    "bot": "labels.author.bot",
    "staff": "labels.author.staff",
    "system": "labels.author.system",
}
CHANNELS = {
    "socketio": "labels.channel.web",
    "rest": "labels.channel.rest",
    "telegram": "labels.channel.telegram",
    "telegram_ptb": "labels.channel.telegram",
    "zalo": "labels.channel.zalo",
}
ANSWER_TYPES = {
    "ask_documents": "labels.answer_type.ask_documents",
    "ask_fee": "labels.answer_type.ask_fee",
    "ask_processing_time": "labels.answer_type.ask_processing_time",
    "ask_where": "labels.answer_type.ask_where",
    "ask_how_online": "labels.answer_type.ask_how_online",
    "ask_procedure_info": "labels.answer_type.ask_procedure_info",
    "ask_conditions": "labels.answer_type.ask_conditions",
}
PROBLEMS = {
    "rest_no_push": "labels.problem.rest_no_push",
    "zalo_window": "labels.problem.zalo_window",
    "zalo_free_window": "labels.problem.zalo_free_window",
    "rasa_unavailable": "labels.problem.rasa_unavailable",
    "rasa_rejected": "labels.problem.rasa_rejected",
}


def _label(keys: Mapping[str, str], code: str | None) -> str:
    return label(keys, code or "")


def role_label(role: str | None) -> str:
    """The role's name for staff."""
    return _label(ROLE_KEYS, role)


def reason_label(reason: str | None) -> str:
    """Why the handoff was opened."""
    return _label(REASON_KEYS, reason)


def end_reason_label(reason: str | None) -> str:
    """Why the handoff was closed."""
    return _label(END_REASON_KEYS, reason)


def handoff_state_label(state: str | None) -> str:
    """A handoff's state."""
    return _label(HANDOFF_STATES, state)


def callback_state_label(state: str | None) -> str:
    """A call-back request's state."""
    return _label(CALLBACK_STATES, state)


def calendar_kind_label(kind: str | None) -> str:
    """A calendar day's kind (day off, make-up working day)."""
    return _label(CALENDAR_KINDS, kind)


def author_label(author: str | None) -> str:
    """Who wrote a turn."""
    return _label(AUTHORS, author)


def channel_label(channel: str | None) -> str:
    """The channel's name for staff."""
    return _label(CHANNELS, channel) if channel else "—"


def answer_type_label(intent: str | None) -> str:
    """What a question about a procedure asked (documents, fee, time...), from its intent."""
    return _label(ANSWER_TYPES, intent)


def problem_label(problem: str | None) -> str:
    """Why a reply could not be delivered."""
    if not problem:
        return ""
    key = PROBLEMS.get(problem)
    return t(key) if key else t("labels.problem.other", problem=problem)


# -- the trainer's pages -------------------------------------------------------------------------

# TrainingError code -> its staff sentence (bot.training.errors; the codes of the inbox, the writer, the gate,
# the registry and the runs).
TRAINING_ERRORS = {
    "personal_data": "training.errors.personal_data",
    "bad_intent_name": "training.errors.bad_intent_name",
    "intent_exists": "training.errors.intent_exists",
    "bad_response": "training.errors.bad_response",
    "no_examples": "training.errors.no_examples",
    "bad_example": "training.errors.bad_example",
    "domain_format": "training.errors.domain_format",
    "bad_span": "training.errors.bad_span",
    "unknown_procedure": "training.errors.unknown_procedure",
    "no_review": "training.errors.no_review",
    "bad_decision": "training.errors.bad_decision",
    "unknown_turn": "training.errors.unknown_turn",
    "busy": "training.errors.busy",
    "invalid_data": "training.errors.invalid_data",
    "unknown_model": "training.errors.unknown_model",
    "already_live": "training.errors.already_live",
    "gate_failed": "training.errors.gate_failed",
    "load_failed": "training.errors.load_failed",
    "not_rollback_target": "training.errors.not_rollback_target",
    "is_live": "training.errors.is_live",
    "reason_too_short": "training.errors.reason_too_short",
    "not_allowed": "training.errors.not_allowed",
    "nothing_to_override": "training.errors.nothing_to_override",
    "bad_model": "training.errors.bad_model",
    "spawn_failed": "training.errors.spawn_failed",
    "unknown_run": "training.errors.unknown_run",
    "not_running": "training.errors.not_running",
    "evaluation_failed": "training.errors.evaluation_failed",
}
# Why a training run failed (TrainingRun.error); another value (an exception's type) is shown as it is.
RUN_ERRORS = {
    "invalid_data": "training.errors.invalid_data",
    "train_failed": "training.run_error.train_failed",
    "evaluation_failed": "training.errors.evaluation_failed",
    "abandoned": "training.run_error.abandoned",
}
PII_KINDS = {
    "phone": "common.phone",
    "id_number": "training.kinds.id_number",
    "email": "training.kinds.email",
    "dossier_code": "training.kinds.dossier_code",
    "name": "training.kinds.name",
    "masked": "training.kinds.masked",
}
DECISIONS = {
    "confirmed": "training.decision.confirmed",
    "changed": "training.decision.changed",
    "ignored": "training.decision.ignored",
}
MODEL_STATES = {
    "candidate": "training.model_state.candidate",
    "live": "training.model_state.live",
    "retired": "training.model_state.retired",
    "rejected": "training.model_state.rejected",
}
RUN_STATES = {
    "running": "training.run_state.running",
    "done": "training.run_state.done",
    "failed": "training.run_state.failed",
    "reused": "training.run_state.reused",
}
RUN_PHASES = {
    "validating": "training.run_phase.validating",
    "training": "training.run_phase.training",
    "evaluating": "training.run_phase.evaluating",
    "done": "training.run_phase.done",
    "failed": "training.run_phase.failed",
}
RUN_KINDS = {"full": "training.run_kind.full", "incremental": "training.run_kind.incremental"}
# The comparison's headline rows (bot.training.evaluation.compare), and the gate's rules (bot.training.gate).
METRICS = {
    "overall": "training.metric.overall",
    "no_diacritics": "training.metric.no_diacritics",
    "teencode": "training.metric.teencode",
    "reviewed": "training.metric.reviewed",
    "stories": "training.metric.stories",
}
GATE_RULES = {
    "overall": "training.gate.overall",
    "no_diacritics": "training.gate.no_diacritics",
    "intent_f1": "training.gate.intent_f1",
}


def training_error(exc: Exception) -> str:
    """A refused trainer action (:class:`bot.training.errors.TrainingError`) in the staff's words, by its code;
    a personal-data refusal names the kinds found."""
    code = str(getattr(exc, "code", "") or "")
    fields = getattr(exc, "fields", None) or {}
    key = TRAINING_ERRORS.get(code)
    if key is None:
        return t("training.errors.other", code=code or type(exc).__name__)
    sentence = t(key)
    if code == "personal_data":
        kinds = sorted({k for item in fields.get("findings") or () for k in item.get("kinds") or ()})
        if kinds:
            sentence = f"{sentence} ({', '.join(pii_kind_label(k) for k in kinds)})"
    return sentence


def pii_kind_label(kind: str | None) -> str:
    """What kind of personal data was found (phone, ID number, e-mail, dossier code, name, masked remnant)."""
    return _label(PII_KINDS, kind)


def decision_label(decision: str | None) -> str:
    """A trainer's decision on an inbox text."""
    return _label(DECISIONS, decision)


def model_state_label(state: str | None) -> str:
    """A model's state in the registry."""
    return _label(MODEL_STATES, state)


def run_state_label(state: str | None) -> str:
    """A training run's state."""
    return _label(RUN_STATES, state)


def run_phase_label(phase: str | None) -> str:
    """What a training run is doing."""
    return _label(RUN_PHASES, phase)


def run_kind_label(kind: str | None) -> str:
    """Full or incremental training."""
    return _label(RUN_KINDS, kind)


def run_error_label(error: str | None) -> str:
    """Why a training run failed."""
    return _label(RUN_ERRORS, error) if error else ""


def metric_label(name: str | None) -> str:
    """A headline figure of the evaluation."""
    return _label(METRICS, name)


def _figure(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else t("common.yes") if value else t("common.no")
    if isinstance(value, (int, float)):
        return f"{100 * value:.1f} %" if -1 <= value <= 1 else f"{value}"
    return str(value)


def gate_failure(failure: Any) -> str:
    """One broken rule of the gate (:class:`bot.training.gate.Failure`) as a staff sentence."""
    rule = str(getattr(failure, "rule", ""))
    detail = str(getattr(failure, "detail", ""))
    live, candidate = _figure(getattr(failure, "live", None)), _figure(getattr(failure, "candidate", None))
    if rule == "intent_f1":
        return t("training.gate.intent_f1", intent=detail, live=live, candidate=candidate)
    if rule in GATE_RULES:
        return t(GATE_RULES[rule], live=live, candidate=candidate)
    if rule == "stories":
        return t("training.gate.stories")
    if rule == "rejected":
        return t("training.gate.rejected")
    if rule == "report":
        return t("training.gate.report", detail=detail)
    return t("training.gate.other", rule=rule, detail=detail)
