"""Fakes of the services the console calls: a StaffDesk over the real HandoffDesk (no Rasa), a record."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.conversations.query import ConversationFilter, ConversationSummary, Page, Turn
from bot.helpdesk.handoff import Handoff, HandoffConflict, HandoffDesk, HandoffError
from bot.helpdesk.service import Delivery

T0 = datetime(2026, 12, 7, 2, 0, 0)  # naive UTC: 09:00 in Vietnam


class FakeStaffDesk:
    """StaffDesk's shape over a real :class:`HandoffDesk`; records every call; replies give ``delivery``."""

    def __init__(self, desk: HandoffDesk) -> None:
        self.desk = desk
        self.calls: list[tuple[Any, ...]] = []
        self.delivery = Delivery(True, None)
        self.present: list[str] = []

    def seen(self, agent: str) -> None:
        self.calls.append(("seen", agent))
        if agent not in self.present:
            self.present.append(agent)

    def online(self) -> list[str]:
        return list(self.present)

    def canned_replies(self) -> list[tuple[str, str]]:
        return [("staff.canned.greeting", "Chào anh/chị, tôi là cán bộ hỗ trợ.")]

    def claim(self, handoff_id: int, agent: str) -> Handoff:
        self.calls.append(("claim", handoff_id, agent))
        return self.desk.claim(handoff_id, agent)

    def take_over(self, handoff_id: int, agent: str) -> Handoff:
        self.calls.append(("take_over", handoff_id, agent))
        return self.desk.take_over(handoff_id, agent)

    def reply(self, handoff_id: int, agent: str, text: str) -> Delivery:
        self.calls.append(("reply", handoff_id, agent, text))
        if not text.strip():
            raise HandoffError("the reply is empty")
        if not any(h.id == handoff_id and h.state == "active" and h.agent == agent for h in self.desk.queue()):
            raise HandoffConflict(f"handoff {handoff_id} is not active with {agent}")
        return self.delivery

    def transfer(self, handoff_id: int, from_agent: str, to_agent: str) -> Handoff:
        self.calls.append(("transfer", handoff_id, from_agent, to_agent))
        return self.desk.transfer(handoff_id, from_agent, to_agent)

    def close(self, handoff_id: int, agent: str, end_reason: str) -> Handoff:
        self.calls.append(("close", handoff_id, agent, end_reason))
        return self.desk.close(handoff_id, agent, end_reason)

    def actions(self) -> list[tuple[Any, ...]]:
        """The calls other than presence."""
        return [c for c in self.calls if c[0] != "seen"]


def turn(id: int, author: str, text: str, **values: Any) -> Turn:
    """A transcript turn with defaults."""
    base = dict(id=id, at=T0 + timedelta(seconds=id), author=author, text=text, sealed=None, intent=None,
                confidence=None, entities=(), actions=(), reply=None, procedure_code=None, agent=None,
                model_id=None)  # fmt: skip
    base.update(values)
    return Turn(**base)


def summary(sender_id: str, **values: Any) -> ConversationSummary:
    """A conversation summary with defaults."""
    base = dict(sender_id=sender_id, channel=sender_id.split(":")[0], started_at=T0, last_at=T0, turns=2,
                procedures=("1.004222",), fallbacks=0, lowest_confidence=0.91, handed_off=False, paused=False,
                rating=None, rating_comment=None, rating_target=None, model_id=None)  # fmt: skip
    base.update(values)
    return ConversationSummary(**base)


@dataclass
class FakeRecord:
    """ConversationRecord's shape over dicts; remembers the filters it was asked for."""

    turns: dict[str, list[Turn]] = field(default_factory=dict)
    summaries: dict[str, ConversationSummary] = field(default_factory=dict)
    filters: list[tuple[ConversationFilter, int, str | None]] = field(default_factory=list)
    next_cursor: str | None = None

    def add(self, sender_id: str, *turns: Turn, **summary_values: Any) -> None:
        self.turns.setdefault(sender_id, []).extend(turns)
        self.summaries[sender_id] = summary(sender_id, **summary_values)

    def list(self, flt: ConversationFilter, limit: int = 50, cursor: str | None = None) -> Page:
        self.filters.append((flt, limit, cursor))
        return Page(tuple(self.summaries.values()), self.next_cursor)

    def get(self, sender_id: str) -> ConversationSummary | None:
        return self.summaries.get(sender_id)

    def transcript(self, sender_id: str) -> list[Turn]:
        return list(self.turns.get(sender_id, []))

    def turns_since(self, sender_id: str, after_id: int) -> list[Turn]:
        return [t for t in self.turns.get(sender_id, []) if t.id > after_id]


def sealed(t: Turn, original: str) -> Turn:
    """``t`` with a fake sealed original ("sealed:" + text)."""
    return replace(t, sealed=f"sealed:{original}")


def fake_unseal(token: str) -> str:
    """The inverse of :func:`sealed`'s tokens."""
    if not token.startswith("sealed:"):
        raise ValueError("bad token")
    return token.removeprefix("sealed:")


# -- the trainer's services ----------------------------------------------------------------------


class FakeCatalog:
    """ProcedureCatalog's find/get over a few procedures; remembers the searches."""

    def __init__(self) -> None:
        from bot.catalog.search import Candidate

        self.procedures = {
            "1.004222": "Đăng ký thường trú",
            "2.001941": "Cấp hộ chiếu phổ thông",
            "1.001193": "Đăng ký khai sinh",
        }
        self.searches: list[str] = []
        self._candidate = Candidate

    def find(self, text: str, limit: int = 5, province: str | None = None) -> list[Any]:
        self.searches.append(text)
        words = text.casefold().split()
        hits = [(code, name) for code, name in self.procedures.items() if any(w in name.casefold() for w in words)]
        return [self._candidate(code, None, name, 80.0, name) for code, name in hits][:limit]

    def get(self, code: str, province: str | None = None) -> Any:
        return self.procedures.get(code)


class FakeLoader:
    """A ModelLoader that records the files it loaded; ``fail`` makes the next load raise."""

    def __init__(self) -> None:
        self.loaded: list[str] = []
        self.fail = False

    def load(self, model_path: str) -> None:
        if self.fail:
            raise RuntimeError("rasa unavailable")
        self.loaded.append(model_path)


class FakeRuns:
    """TrainingRuns' shape in memory: start records a running run (never trains); ``advance`` moves it on."""

    def __init__(self) -> None:
        self.runs: dict[int, Any] = {}
        self.started: list[tuple[str, bool, Any]] = []

    def start(self, by: str, *, incremental: bool = False, root: Any = None) -> Any:
        from bot.training.errors import TrainingError
        from bot.training.runs import TrainingRun

        if self.active() is not None:
            raise TrainingError("busy", "a training run is already active", run_id=self.active().id)
        run_id = len(self.runs) + 1
        self.started.append((by, incremental, root))
        self.runs[run_id] = TrainingRun(run_id, "incremental" if incremental else "full", "running", "validating",
                                        0.0, "", by, T0, None, None, None, None)  # fmt: skip
        return self.runs[run_id]

    def advance(self, run_id: int, **values: Any) -> Any:
        self.runs[run_id] = replace(self.runs[run_id], **values)
        return self.runs[run_id]

    def get(self, run_id: int) -> Any:
        return self.runs.get(run_id)

    def recent(self, limit: int = 20) -> list[Any]:
        return sorted(self.runs.values(), key=lambda r: -r.id)[:limit]

    def active(self) -> Any:
        return next((r for r in self.recent() if r.state == "running"), None)
