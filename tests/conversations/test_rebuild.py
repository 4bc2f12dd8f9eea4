"""Rebuilding the record from Rasa's tracker store (bot.conversations.rebuild) and its command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, insert
from sqlalchemy.engine import Engine

from bot.conversations import ConversationRecord, Recorder
from bot.conversations.cli import main
from bot.conversations.rebuild import rebuild, tracker_events_table
from bot.db import make_engine
from bot.db.schema import ensure_schema
from tests.conversations.conftest import DAY, T0, Chat


def _events() -> list[dict[str, Any]]:
    a, b, c = Chat("socketio:a"), Chat("telegram_ptb:b", T0 + 0.1), Chat("zalo:c", T0 + DAY)
    out: list[dict[str, Any]] = []
    out += a.exchange("đăng ký tạm trú", "Hồ sơ gồm tờ khai.", code="1.004194")
    out += b.exchange("gọi 0912345678", "Xin lỗi.", intent="nlu_fallback", confidence=0.2,
                      action="action_fallback_ladder")  # fmt: skip
    out += [b.pause(), b.bot("Tôi là Lan.", agent="lan"), b.slot("csat_rating", 3), b.resume()]
    out += a.exchange("lệ phí?", "15.000 đồng.", intent="ask_fee", code="1.004194")
    out += [c.user("/EXTERNAL_dossier_update", intent="EXTERNAL_dossier_update", confidence=1.0),
            c.bot("Hồ sơ đã có kết quả.")]  # fmt: skip
    # interleave a and b: the tracker holds every conversation in one table
    return sorted(out, key=lambda e: e["timestamp"])


def _tracker(path: Path, events: list[dict[str, Any]]) -> str:
    """A tracker store with Rasa's ``events`` table holding ``events``; its URL."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    table = tracker_events_table(MetaData())
    table.create(engine)
    rows = []
    for event in events:
        data = {k: v for k, v in event.items() if k != "sender_id"}
        rows.append({"sender_id": event["sender_id"], "type_name": event["event"], "timestamp": event["timestamp"],
                     "intent_name": None, "action_name": event.get("name"), "data": json.dumps(data)})  # fmt: skip
    rows.append({"sender_id": "x", "type_name": "user", "timestamp": T0, "intent_name": None, "action_name": None,
                 "data": "not json"})  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    engine.dispose()
    return url


def _view(record: ConversationRecord) -> list[Any]:
    """Everything the record shows, without turn ids."""
    page = record.list(limit=500)
    return [(s, [t.__class__(**{**t.__dict__, "id": 0}) for t in record.transcript(s.sender_id)]) for s in page.items]


def test_rebuild_equals_live_apply(db: Engine, tmp_path: Path) -> None:
    events = _events()
    Recorder(db).apply(events[:9])
    Recorder(db).apply(events[9:])
    live = _view(ConversationRecord(db))

    other = make_engine(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    ensure_schema(other)
    url = _tracker(tmp_path / "tracker.db", events)
    read: list[int] = []
    assert rebuild(url, other, batch=4, progress=read.append) == len(events)
    assert sum(read) == len(events) + 1  # every tracker row read, the broken one too
    assert _view(ConversationRecord(other)) == live
    other.dispose()

    # over the live record itself: cleared first, so the result is the same
    assert rebuild(url, db, batch=5) == len(events)
    assert _view(ConversationRecord(db)) == live
    assert rebuild(url, db, keep=True) == 0


def test_cli_rebuild_from_the_default_tracker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.settings import settings

    events = _events()
    _tracker(settings().core.var_dir / "tracker.db", events)
    assert main(["rebuild"]) == 0
    assert f"{len(events)} events applied" in capsys.readouterr().out
    engine = make_engine(settings().core.database_url)
    try:
        assert ConversationRecord(engine).get("zalo:c") is not None
    finally:
        engine.dispose()


def test_cli_rebuild_with_a_tracker_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _tracker(tmp_path / "elsewhere.db", _events()[:3])
    assert main(["rebuild", "--tracker-url", url, "--batch", "2"]) == 0
    assert "3 events applied" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([])
