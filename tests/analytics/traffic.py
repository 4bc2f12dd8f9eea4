"""Generated traffic for the analytics tests, the dashboard screenshot and bench/analytics_bench.py.

:func:`generate` writes ``days`` days of conversations ending on ``last_day`` into a migrated
database the way the running bot does: Rasa event dicts through :class:`bot.conversations.Recorder`
(citizen questions answered with a procedure code, fallbacks with realistic unanswered messages,
ratings), handoff rows as :class:`bot.helpdesk.handoff.HandoffDesk` leaves them (with staff replies
in the record) and dossier lookup rows in the dossier audit log. Sender ids are made up
(``<channel>:gen-<n>``); no text holds personal data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.conversations import Recorder
from bot.db.clock import VN_TZ, naive_utc
from bot.dossiers.models import AuditRow
from bot.helpdesk.models import HandoffRow

CHANNELS = (("socketio", 0.5), ("telegram_ptb", 0.3), ("zalo", 0.2))
PROCEDURES = ("1.001612", "1.004222", "2.000908", "1.000894", "2.001955", "1.002755", "1.003003", "1.004746")
INTENTS = ("ask_documents", "ask_fee", "ask_processing_time", "ask_where", "ask_how_online", "ask_conditions")
UNANSWERED = (
    "cho hoi lam sao de doi ten cho con",
    "cho hỏi làm sao để đổi tên cho con",
    "xin giay xac nhan doc than o dau a",
    "xin giấy xác nhận độc thân ở đâu ạ",
    "ad oi e bi mat vi dien tu thi lam the nao",
    "thu tuc tach thua dat mat bao lau",
    "tách thửa đất mất bao lâu vậy",
    "lam lai so ho khau duoc ko",
)
REASONS = (("asked", 0.5), ("fallback", 0.3), ("low_confidence", 0.15), ("dossier", 0.05))
LOOKUPS = (("verified", 0.7), ("wrong_phone", 0.15), ("not_found", 0.1), ("locked_out", 0.05))


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


@dataclass
class _Events:
    sender_id: str
    channel: str
    t: float
    model_id: str
    out: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: float = 2.0, **fields: Any) -> None:
        self.t += step
        self.out.append({"sender_id": self.sender_id, "timestamp": self.t, **fields})

    def user(self, text: str, intent: str, confidence: float = 0.9, entities: list[Any] | None = None) -> None:
        self.add(
            20.0, event="user", text=text, input_channel=self.channel,
            parse_data={"intent": {"name": intent, "confidence": confidence}, "entities": entities or [], "text": text},
            metadata={"model_id": self.model_id},
        )  # fmt: skip

    def action(self, name: str) -> None:
        self.add(event="action", name=name, policy="RulePolicy", confidence=1.0)

    def slot(self, name: str, value: Any) -> None:
        self.add(event="slot", name=name, value=value)

    def bot(self, text: str, agent: str | None = None) -> None:
        self.add(event="bot", text=text, metadata={"agent": agent} if agent else {"model_id": self.model_id})


@dataclass
class Generated:
    """What :func:`generate` wrote (for assertions)."""

    conversations: int = 0
    citizen_turns: int = 0
    fallback_turns: int = 0
    handoffs: int = 0
    lookups: int = 0
    events: int = 0
    days: list[date] = field(default_factory=list)


def generate(engine: Engine, last_day: date, days: int = 7, per_day: int = 60, seed: int = 7) -> Generated:
    """Write ``days`` days of traffic (about ``per_day`` conversations a day, more on weekdays) ending ``last_day``."""
    rng = random.Random(seed)
    recorder = Recorder(engine)
    result = Generated()
    handoffs: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    n = 0
    returning: list[str] = []
    for offset in range(days - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        result.days.append(day)
        model_id = "20261201-aa11" if offset >= days // 2 else "20261205-bb22"
        count = int(per_day * (0.55 if day.weekday() >= 5 else 1.0) * rng.uniform(0.85, 1.15))
        batch: list[dict[str, Any]] = []
        for _ in range(count):
            n += 1
            channel = _pick(rng, CHANNELS)
            start = datetime.combine(day, time(7, 0), VN_TZ) + timedelta(minutes=rng.uniform(0, 14 * 60))
            # One in five is a citizen who wrote on an earlier day (Telegram and Zalo keep their user id).
            known = [s for s in returning if s.startswith(channel)]
            sender = rng.choice(known) if known and rng.random() < 0.2 else f"{channel}:gen-{seed}-{n}"
            returning.append(sender)
            ev = _Events(sender, channel, start.timestamp(), model_id)
            result.conversations += 1
            code = rng.choice(PROCEDURES)
            reason: str | None = None
            for turn in range(rng.choice((1, 1, 2, 2, 3, 4))):
                result.citizen_turns += 1
                if rng.random() < 0.13:
                    result.fallback_turns += 1
                    ev.user(rng.choice(UNANSWERED), "nlu_fallback", 0.3)
                    ev.action("action_fallback_ladder")
                    ev.bot("Dạ, em chưa hiểu rõ câu hỏi của anh/chị.")
                    ev.action("action_listen")
                    reason = reason or ("fallback" if rng.random() < 0.35 else None)
                    continue
                intent = rng.choice(INTENTS) if turn else "ask_procedure_info"
                ev.user(f"cho hỏi {intent.replace('_', ' ')} thủ tục {code}", intent, rng.uniform(0.6, 0.99))
                ev.action("action_answer_procedure")
                ev.slot("procedure_code", code)
                ev.bot(f"Dạ, thủ tục {code} … (Nguồn: dichvucong.gov.vn, cập nhật 01/12/2026)")
                ev.action("action_listen")
            if reason is None and rng.random() < 0.05:
                reason = _pick(rng, REASONS)
            if reason is not None:
                handoff = _handoff(rng, ev, reason)
                handoffs.append(handoff)
                if handoff["_reply_at"] is not None:
                    ev.t = handoff["_reply_at"].replace(tzinfo=timezone.utc).timestamp() - 2
                    ev.bot("Dạ, em là cán bộ hỗ trợ, em xin trả lời anh/chị …", agent="canbo1")
                    ev.t += 240
            if rng.random() < 0.25:
                score = rng.choices((5, 4, 3, 2, 1), weights=(50, 25, 10, 8, 7))[0]
                rating = [{"entity": "csat_rating", "value": str(score)}]
                ev.user(f'/rate{{"csat_rating":"{score}"}}', "rate", 1.0, rating)
                ev.action("action_rate")
                ev.slot("csat_rating", str(score))
                ev.slot("csat_target", "staff:canbo1" if reason else "bot")
                ev.bot("Dạ, em cảm ơn anh/chị đã đánh giá.")
                ev.action("action_listen")
            if rng.random() < 0.08:
                result.lookups += 1
                audits.append({
                    "at": datetime.fromtimestamp(ev.t + 30, timezone.utc),
                    "action": "lookup", "outcome": _pick(rng, LOOKUPS), "channel": channel,
                    "sender_ref": f"ref-{n}", "dossier_code": None, "detail": None,
                })  # fmt: skip
            batch.extend(ev.out)
        result.events += len(batch)
        for start in range(0, len(batch), 2000):
            recorder.apply(batch[start : start + 2000])
    rows = [{k: v for k, v in h.items() if not k.startswith("_")} for h in handoffs]
    result.handoffs = len(rows)
    with engine.begin() as conn:
        if rows:
            conn.execute(insert(HandoffRow), rows)
        if audits:
            conn.execute(insert(AuditRow), audits)
    return result


def _handoff(rng: random.Random, ev: _Events, reason: str) -> dict[str, Any]:
    opened = naive_utc(datetime.fromtimestamp(ev.t + 5, VN_TZ))
    wait = timedelta(seconds=rng.uniform(30, 900))
    answered = rng.random() < 0.85
    reply = opened + wait + timedelta(seconds=rng.uniform(20, 120))
    return {
        "sender_id": ev.sender_id, "channel": ev.channel, "reason": reason,
        "state": "closed", "agent": "canbo1" if answered else None,
        "end_reason": "answered" if answered else "citizen_left",
        "opened_at": opened, "claimed_at": opened + wait if answered else None,
        "closed_at": reply + timedelta(minutes=3) if answered else opened + timedelta(minutes=2),
        "_reply_at": reply if answered else None,
    }  # fmt: skip
