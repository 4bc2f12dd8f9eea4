"""The handoff state machine and the queue (bot.helpdesk.handoff), on a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.helpdesk.handoff import HandoffConflict, HandoffDesk, HandoffError


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[HandoffDesk]:
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    ensure_schema(engine)
    yield HandoffDesk(engine)
    engine.dispose()


def test_a_handoff_waits_is_claimed_and_closed(desk: HandoffDesk) -> None:
    h = desk.open("web-1", "socketio")
    assert (h.state, desk.position(h.id), desk.current("web-1").id) == ("waiting", 1, h.id)
    h = desk.claim(h.id, "an")
    assert (h.state, h.agent, desk.position(h.id)) == ("active", "an", None)
    h = desk.close(h.id, "an", "answered")
    assert (h.state, h.end_reason) == ("closed", "answered") and h.closed_at is not None
    assert desk.current("web-1") is None  # the bot answers again


def test_asking_twice_does_not_queue_twice(desk: HandoffDesk) -> None:
    first = desk.open("tg-1", "telegram", "fallback")
    assert desk.open("tg-1", "telegram", "asked").id == first.id
    assert len(desk.queue()) == 1


def test_first_come_first_served(desk: HandoffDesk) -> None:
    a, b, c = (desk.open(f"web-{n}", "socketio") for n in range(3))
    assert [desk.position(h.id) for h in (a, b, c)] == [1, 2, 3]
    desk.claim(a.id, "an")
    assert [desk.position(h.id) for h in (b, c)] == [1, 2]
    assert [h.id for h in desk.queue()] == [b.id, c.id, a.id]  # waiting first, then active


def test_only_one_agent_wins_a_claim(desk: HandoffDesk) -> None:
    h = desk.open("zalo-1", "zalo")

    def claim(agent: str) -> str:
        try:
            return desk.claim(h.id, agent).agent or ""
        except HandoffConflict:
            return "lost"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(claim, ["an", "binh", "chi", "dung"]))
    assert results.count("lost") == 3
    assert desk.current("zalo-1").agent in {"an", "binh", "chi", "dung"}


def test_only_the_holder_transfers_or_closes(desk: HandoffDesk) -> None:
    h = desk.claim(desk.open("web-9", "socketio").id, "an")
    with pytest.raises(HandoffConflict, match="held by an"):
        desk.close(h.id, "binh", "answered")
    h = desk.transfer(h.id, "an", "binh")
    assert h.agent == "binh"
    with pytest.raises(HandoffConflict):
        desk.transfer(h.id, "an", "chi")
    assert desk.close(h.id, "binh", "no_answer").end_reason == "no_answer"
    with pytest.raises(HandoffConflict, match="closed"):
        desk.close(h.id, "binh", "answered")


def test_the_citizen_can_leave_the_queue(desk: HandoffDesk) -> None:
    h = desk.open("web-5", "socketio")
    left = desk.leave("web-5")
    assert left is not None and (left.id, left.state, left.end_reason) == (h.id, "closed", "citizen_left")
    assert desk.leave("web-5") is None
    # Once an agent holds it, leaving is the agent's to close.
    desk.claim(desk.open("web-5", "socketio").id, "an")
    assert desk.leave("web-5") is None


def test_unknown_reasons_and_handoffs_are_refused(desk: HandoffDesk) -> None:
    with pytest.raises(HandoffError, match="unknown handoff reason"):
        desk.open("web-1", "socketio", "bored")
    h = desk.claim(desk.open("web-1", "socketio").id, "an")
    with pytest.raises(HandoffError, match="unknown end reason"):
        desk.close(h.id, "an", "whatever")
    with pytest.raises(HandoffError, match="no handoff 999"):
        desk.claim(999, "an")
