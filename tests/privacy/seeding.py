"""One citizen seeded across every store (both databases), and a scan of every text cell for their traces."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import MetaData, insert, inspect, select
from sqlalchemy.engine import Engine

from bot.conversations import Recorder
from bot.db import Base
from bot.dossiers.source import sender_ref as dossier_sender_ref
from bot.privacy import mask_text, seal
from bot.privacy.models import TRACKER_EVENTS

CODE_A = "000.00.00.H99-261120-0001"
CODE_B = "000.00.00.H99-261102-0002"


@dataclass(frozen=True)
class Citizen:
    channel: str
    user_id: str
    phone: str  # national digits
    code: str

    @property
    def sender(self) -> str:
        return f"{self.channel}:{self.user_id}"

    @property
    def refs(self) -> set[str]:
        return {dossier_sender_ref(ch, self.sender) for ch in (self.channel, "rest")}

    def phone_forms(self) -> list[str]:
        national = self.phone[1:]
        return [
            self.phone,
            national,
            f"+84{national}",
            f"84{national}",
            f"{self.phone[:4]} {self.phone[4:7]} {self.phone[7:]}",
            f"+84 {national[:3]} {national[3:6]} {national[6:]}",
        ]


ANNA = Citizen("telegram_ptb", "5551119", "0912345678", CODE_A)
BINH = Citizen("zalo", "7772223", "0987654321", CODE_B)


def tracker_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event dicts (with sender_id) as Rasa's SQL tracker store writes them in ``events``."""
    rows = []
    for event in events:
        data = {k: v for k, v in event.items() if k != "sender_id"}
        rows.append(
            {
                "sender_id": event["sender_id"],
                "type_name": event["event"],
                "timestamp": event["timestamp"],
                "intent_name": (event.get("parse_data") or {}).get("intent", {}).get("name"),
                "action_name": event.get("name"),
                "data": json.dumps(data, ensure_ascii=False),
            }
        )
    return rows


def conversation(who: Citizen, start: float) -> list[dict[str, Any]]:
    """A conversation: a question, the phone number given (masked, sealed original), a dossier lookup."""
    t = start
    out: list[dict[str, Any]] = []

    def event(**fields: Any) -> dict[str, Any]:
        nonlocal t
        t += 0.5
        return {"sender_id": who.sender, "timestamp": t, **fields}

    def user(text: str, intent: str) -> dict[str, Any]:
        masked = mask_text(text)
        meta: dict[str, Any] = {"model_id": "m1"}
        if masked != text:
            meta["sealed"] = seal(text)
        return event(
            event="user",
            text=masked,
            input_channel=who.channel,
            message_id="m",
            parse_data={"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": masked},
            metadata=meta,
        )

    out.append(user("lệ phí đăng ký tạm trú bao nhiêu", "ask_fee"))
    out.append(event(event="action", name="action_answer_procedure", policy="RulePolicy", confidence=1.0))
    out.append(event(event="bot", text="Lệ phí: 15.000 đồng", data={}, metadata={"model_id": "m1"}))
    out.append(event(event="slot", name="procedure_code", value="1.004222"))
    out.append(user(f"gọi cho tôi số {who.phone[:4]} {who.phone[4:7]} {who.phone[7:]} nhé", "request_human"))
    out.append(user(f"tra cứu hồ sơ {who.code}", "track_dossier"))
    out.append(event(event="action", name="action_dossier_status", policy="RulePolicy", confidence=1.0))
    return out


def seed(app: Engine, tracker: Engine, who: Citizen, when: datetime, *, start: float | None = None) -> None:
    """``who`` in every store: tracker events, the record, help desk, console, dossiers, channel activity."""
    events = conversation(who, start if start is not None else when.timestamp())
    TRACKER_EVENTS.create(tracker, checkfirst=True)
    with tracker.begin() as conn:
        conn.execute(insert(TRACKER_EVENTS), tracker_rows(events))
    Recorder(app).apply(events)
    t = Base.metadata.tables
    naive = when.replace(tzinfo=None)
    national = who.phone[1:]
    with app.begin() as conn:
        handoff = conn.execute(
            insert(t["helpdesk_handoffs"]).values(
                sender_id=who.sender,
                channel=who.channel,
                reason="asked",
                state="closed",
                agent="lan",
                opened_at=naive,
                closed_at=naive,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(t["console_notes"]).values(
                handoff_id=handoff, sender_id=who.sender, author="lan", at=naive, text=f"gọi lại +84 {national}"
            )
        )
        conn.execute(
            insert(t["helpdesk_callbacks"]).values(
                sender_id=who.sender, channel=who.channel, phone=seal(who.phone), requested_at=naive, state="pending"
            )
        )
        conn.execute(
            insert(t["dossier_subscriptions"]).values(
                channel=who.channel, sender_id=who.sender, dossier_code=who.code, created_at=when
            )
        )
        ref = dossier_sender_ref(who.channel, who.sender)
        conn.execute(
            insert(t["dossier_verification_attempts"]).values(
                at=when, sender_ref=ref, dossier_code=who.code, success=True, status_seen=4
            )
        )
        conn.execute(
            insert(t["dossier_audit_log"]).values(
                at=when, action="lookup", outcome="ok", channel=who.channel, sender_ref=ref, dossier_code=who.code
            )
        )
        conn.execute(
            insert(t["channel_user_activity"]).values(
                channel=who.channel, user_id=who.user_id, last_user_message_at=naive
            )
        )
        conn.execute(
            insert(t["console_audit"]).values(
                at=naive, username="thu", action="unmask", target=who.sender, reason=f"khiếu nại của {who.sender}"
            )
        )


def _cells(engine: Engine) -> list[tuple[str, str, str]]:
    """(table, column, text) of every non-null cell of every table."""
    out = []
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for name in inspect(engine).get_table_names():
            table = metadata.tables[name]
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is None:
                        continue
                    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
                    out.append((name, column, text))
    return out


def traces(who: Citizen, *engines: Engine) -> list[tuple[str, str]]:
    """(table, column) of every cell, in every table of ``engines``, holding a trace of ``who``."""
    needles = [who.sender, *who.refs, *who.phone_forms()]
    national = who.phone[1:]
    found = []
    for engine in engines:
        for table, column, text in _cells(engine):
            digits = re.sub(r"\D", "", text)
            if any(n in text for n in needles) or national in digits or who.user_id in text:
                found.append((table, column))
    return found


def rows_of(who: Citizen, app: Engine, tracker: Engine) -> dict[str, int]:
    """How many rows of the stores name ``who``'s conversation."""
    t = Base.metadata.tables
    counts = {}
    with app.connect() as conn:
        for name in (
            "conv_conversations",
            "conv_turns",
            "helpdesk_handoffs",
            "helpdesk_callbacks",
            "console_notes",
            "dossier_subscriptions",
        ):
            counts[name] = len(conn.execute(select(t[name]).where(t[name].c.sender_id == who.sender)).all())
        for name in ("dossier_verification_attempts", "dossier_audit_log"):
            counts[name] = len(conn.execute(select(t[name]).where(t[name].c.sender_ref.in_(who.refs))).all())
        counts["console_audit"] = len(
            conn.execute(select(t["console_audit"]).where(t["console_audit"].c.target == who.sender)).all()
        )
        activity = t["channel_user_activity"]
        counts["channel_user_activity"] = len(
            conn.execute(select(activity).where(activity.c.user_id == who.user_id)).all()
        )
    with tracker.connect() as conn:
        counts["events"] = len(
            conn.execute(select(TRACKER_EVENTS).where(TRACKER_EVENTS.c.sender_id == who.sender)).all()
        )
    return counts


def days_ago(now: datetime, days: float) -> datetime:
    return (now - timedelta(days=days)).astimezone(timezone.utc)
