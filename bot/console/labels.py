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
