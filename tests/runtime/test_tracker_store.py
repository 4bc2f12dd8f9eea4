"""The tracker store never holds the dossier digits, and masks personal data (bot.runtime.tracker_store)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.runtime.tracker_store import PrivateSQLTrackerStore, redact

CODE = "000.00.00.H99-261120-0001"


def _stored_text(events: list[dict]) -> str:
    """The events as stored, without timestamps: a timestamp's digits may hold "6789" by chance."""
    return "\n".join(json.dumps({k: v for k, v in e.items() if k != "timestamp"}, ensure_ascii=False) for e in events)


def _user(text: str, intent: str = "provide_phone_digits") -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9}, [], input_channel="rest")


def _dossier_turns() -> list:
    return [
        _user(f"tra cứu hồ sơ {CODE}", "track_dossier"),
        ActionExecuted("dossier_form"),
        ActiveLoop("dossier_form"),
        SlotSet("dossier_code", CODE),
        SlotSet("requested_slot", "phone_last4"),
        ActionExecuted("action_listen"),
        _user("6789"),
        ActionExecuted("dossier_form"),
        SlotSet("phone_last4", "6789"),  # an older bot version's slot event
        SlotSet("requested_slot", None),
        ActiveLoop(None),
        ActionExecuted("action_dossier_status"),
        ActionExecuted("action_listen"),
        _user("số em là 0912345678, cccd 001099012345", "out_of_scope"),
        ActionExecuted("action_listen"),
        # A retry after a wrong try reaches the lookup outside the form.
        _user("1234"),
        ActionExecuted("action_dossier_status"),
        ActionExecuted("action_listen"),
    ]


def test_redact_hides_the_second_factor_and_masks_personal_data() -> None:
    events = _dossier_turns()
    redact(events)
    texts = [e.text for e in events if isinstance(e, UserUttered)]
    assert texts[0] == f"tra cứu hồ sơ {CODE}"  # the dossier code is not personal data
    assert texts[1] == "••••" and texts[3] == "••••"
    assert "0912345678" not in texts[2] and "001099012345" not in texts[2]
    assert next(e for e in events if isinstance(e, SlotSet) and e.key == "phone_last4").value is None


def test_stored_events_never_hold_the_digits(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = PrivateSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db))

    async def scenario() -> DialogueStateTracker | None:
        tracker = DialogueStateTracker.from_events("rest:citizen", _dossier_turns()[:7])
        await store.save(tracker)
        # The next turn: loaded back, more events, saved again.
        tracker = await store.retrieve("rest:citizen")
        assert tracker is not None
        for event in _dossier_turns()[7:]:
            tracker.update(event)
        await store.save(tracker)
        return await store.retrieve("rest:citizen")

    loaded = asyncio.run(scenario())
    assert loaded is not None
    raw = _stored_text([json.loads(row[0]) for row in sqlite3.connect(db).execute("SELECT data FROM events")])
    for secret in ("6789", "1234", "0912345678", "001099012345"):
        assert secret not in raw, secret
    assert CODE in raw
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)][1] == "••••"


def _entity(value: str) -> dict:
    return {"entity": "dossier_code", "value": value, "start": 0, "end": len(value)}


def test_digits_typed_in_other_ways_are_not_stored_either() -> None:
    events = [
        # A code and the digits in one message, outside the form.
        UserUttered(f"{CODE} 6789", {"name": "track_dossier"}, [_entity(CODE)]),
        ActionExecuted("dossier_form"),
        ActiveLoop("dossier_form"),
        SlotSet("dossier_code", CODE),
        SlotSet("requested_slot", "phone_last4"),
        ActionExecuted("action_listen"),
        # Dotted digits: the entity extractor took them for a code, and a slot was set from it.
        UserUttered("6.7.8.9", {"name": "track_dossier"}, [_entity("6.7.8.9")]),
        SlotSet("dossier_code", "6.7.8.9"),
        ActionExecuted("dossier_form"),
        SlotSet("requested_slot", None),
        ActiveLoop(None),
        ActionExecuted("action_dossier_status"),
        ActionExecuted("action_listen"),
        # A retry after a wrong try, in another script's digits, that the NLU did not understand.
        UserUttered("٦٧٨٩", {"name": "out_of_scope"}),
        ActionExecuted("utter_anything_else"),
        ActionExecuted("action_listen"),
        # A phone number the entity extractor took for a code, in an ordinary message.
        UserUttered("kiểm tra hồ sơ 0912.345.678", {"name": "track_dossier"}, [_entity("0912.345.678")]),
        SlotSet("dossier_code", "0912.345.678"),
    ]
    redact(events)
    stored = _stored_text([e.as_dict() for e in events])
    for secret in ("6789", "6.7.8.9", "٦٧٨٩", "0912.345.678", "345"):
        assert secret not in stored, secret
    assert f"{CODE} ••••" == events[0].text and CODE in stored
    assert [e.value for e in events if isinstance(e, SlotSet) and e.key == "dossier_code"] == [CODE, None, None]
