"""What the masking tracker store adds to a save: PrivateSQLTrackerStore.save against Rasa's SQLTrackerStore.save.

Both stores write to their own SQLite file in one temporary folder (same file type, same options:
WAL and synchronous=NORMAL, as the Rasa process sets them, bot.runtime.rasa_patches; --no-wal for
SQLite's defaults, where the disk's fsync dominates and the figures are noisier).
Each simulated conversation grows over 20 turns like a real one: a user message (every third one with
a phone, an ID number or an e-mail, one a dossier code and its 4 digits), the intent ranking and
entities the NLU adds, slots, a long bot reply with buttons, the actions. After every turn each store
saves its own copy of the same tracker (the masking store redacts in place, so the copies are built
apart), in alternating order so neither always runs first. Prints p50 and p95 per save in ms, the
difference and the ratio, the median of the paired differences (the same turn saved by each), and
the cost of :func:`redact` alone; exits 1 when the p50 difference is over the target (1 ms).

    python bench/masking_bench.py [--conversations 60] [--turns 20] [--broker] [--no-wal]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

warnings.filterwarnings("ignore")  # SQLAlchemy's 2.0 notice from Rasa's models
logging.disable(logging.WARNING)  # "Tried to set non existent slot": the bench has no domain slots

from rasa.core.brokers.broker import EventBroker  # noqa: E402
from rasa.core.tracker_store import SQLTrackerStore  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import (  # noqa: E402
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402

from bot.runtime.rasa_patches import tune_sqlite_tracker_store  # noqa: E402
from bot.runtime.tracker_store import PrivateSQLTrackerStore, redact  # noqa: E402
from bot.settings import overridden  # noqa: E402

TARGET_MS = 1.0
CODE = "000.00.00.H99-261120-0001"
INTENTS = [
    "ask_documents",
    "ask_fee",
    "ask_time",
    "ask_where",
    "ask_online",
    "greet",
    "thank",
    "track_dossier",
    "request_human",
    "out_of_scope",
]
MESSAGES = [
    "xin chào",
    "đăng ký tạm trú cần giấy tờ gì",
    "còn lệ phí thì sao?",
    "số điện thoại của tôi là 0912 345 678, gọi lại giúp tôi",
    "mất bao lâu?",
    "lam cccd o dau",
    "cccd của tôi là 001099012345, email nguyen.van.a@gmail.com",
    "đổi gplx online được không",
    f"tra cứu hồ sơ {CODE}",
    "6789",
    "cảm ơn em nhé",
    "cho tôi gặp cán bộ, sđt +84 987 654 321",
]
REPLY = (
    "Dạ, thủ tục Đăng ký tạm trú (mã 1.004194) cần: 1. Tờ khai thay đổi thông tin cư trú (mẫu CT01); "
    "2. Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp; 3. Văn bản đồng ý của chủ hộ (nếu có). Lệ phí: "
    "15.000 đồng (nộp trực tuyến 7.000 đồng). Thời hạn giải quyết: 3 ngày làm việc. Nộp tại Công an "
    "cấp xã hoặc trực tuyến trên Cổng Dịch vụ công quốc gia. Nguồn: dichvucong.gov.vn, cập nhật 20/11/2026."
)


def _turn(i: int, t0: float) -> list[Event]:
    """The events of turn ``i`` of a conversation (new objects every call)."""
    text = MESSAGES[i % len(MESSAGES)]
    intent = "track_dossier" if CODE in text else ("provide_phone_digits" if text == "6789" else INTENTS[i % 10])
    entities = [{"entity": "dossier_code", "value": CODE, "start": 14, "end": 39, "extractor": "RegexEntityExtractor"}]
    user = UserUttered(
        text,
        {"name": intent, "confidence": 0.93},
        entities if CODE in text else [],
        metadata={"requester": "ip:3f9a0c1de2b7", "model_id": "20261207-085353-brisk-quiz"},
        input_channel="rest",
        timestamp=t0 + i,
    )
    user.parse_data["intent_ranking"] = [{"name": n, "confidence": 0.93 / (k + 1)} for k, n in enumerate(INTENTS)]
    events: list[Event] = [user]
    if intent == "track_dossier":
        events += [
            ActionExecuted("dossier_form", timestamp=t0 + i + 0.1),
            ActiveLoop("dossier_form"),
            SlotSet("dossier_code", CODE),
            SlotSet("requested_slot", "phone_last4"),
        ]
    elif intent == "provide_phone_digits":
        events += [
            ActionExecuted("dossier_form", timestamp=t0 + i + 0.1),
            SlotSet("phone_last4", "received"),
            SlotSet("requested_slot", None),
            ActiveLoop(None),
            ActionExecuted("action_dossier_status"),
        ]
    else:
        events += [
            ActionExecuted("action_answer_procedure", timestamp=t0 + i + 0.1),
            SlotSet("procedure_code", "1.004194"),
            SlotSet("procedure_choices", ["1.004194", "1.004222"]),
        ]
    buttons = [
        {"title": "Lệ phí", "payload": '/ask_fee{"procedure_code": "1.004194"}'},
        {"title": "Nộp ở đâu", "payload": "/ask_where"},
        {"title": "Gặp cán bộ", "payload": "/request_human"},
    ]
    events += [
        BotUttered(
            REPLY,
            data={"buttons": buttons},
            metadata={"model_id": "20261207-085353-brisk-quiz"},
            timestamp=t0 + i + 0.2,
        ),
        ActionExecuted("action_listen", timestamp=t0 + i + 0.3),
    ]
    return events


def _start(t0: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=t0 - 1),
        SessionStarted(timestamp=t0 - 1),
        ActionExecuted("action_listen", timestamp=t0 - 1),
    ]


class _NullBroker(EventBroker):
    """A broker that drops what it is given: the cost of deciding what to publish, not of publishing."""

    def publish(self, event: dict[str, Any]) -> None:
        pass

    def is_ready(self) -> bool:
        return True


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _ms(values: list[float]) -> tuple[float, float]:
    return _percentile(values, 50) * 1000, _percentile(values, 95) * 1000


def run(conversations: int, turns: int, broker: bool) -> dict[str, list[float]]:
    """Save every turn of every conversation to both stores; the seconds each save took, per store."""
    folder = Path(tempfile.mkdtemp(prefix="masking_bench_"))
    domain = Domain.empty()
    stores: dict[str, SQLTrackerStore] = {
        "stock": SQLTrackerStore(
            domain, dialect="sqlite", db=str(folder / "stock.db"), event_broker=_NullBroker() if broker else None
        ),
        "private": PrivateSQLTrackerStore(
            domain, dialect="sqlite", db=str(folder / "private.db"), event_broker=_NullBroker() if broker else None
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in stores}
    loop = asyncio.new_event_loop()
    for c in range(conversations):
        t0 = 1_790_000_000.0 + c * 1000
        trackers = {name: DialogueStateTracker.from_events(f"rest:bench-{c}", _start(t0)) for name in stores}
        for i in range(turns):
            order = list(stores) if (c + i) % 2 == 0 else list(reversed(stores))
            for name in order:
                for event in _turn(i, t0):
                    trackers[name].update(event)
                started = time.perf_counter()
                loop.run_until_complete(stores[name].save(trackers[name]))
                times[name].append(time.perf_counter() - started)
    loop.close()
    return times


def redact_cost(turns: int, rounds: int = 200) -> float:
    """Median seconds :func:`redact` takes for one new turn on a tracker of ``turns`` stored turns."""
    samples: list[float] = []
    for r in range(rounds):
        t0 = 1_790_000_000.0 + r * 1000
        events = _start(t0) + [e for i in range(turns - 1) for e in _turn(i, t0)]
        for event in events:
            event._dvc_stored = True  # type: ignore[attr-defined]  # as read back from the store
        events += _turn(turns - 1 + r % len(MESSAGES), t0)
        started = time.perf_counter()
        redact(events)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=60, help="conversations per store (default 60)")
    parser.add_argument("--turns", type=int, default=20, help="turns per conversation (default 20)")
    parser.add_argument("--broker", action="store_true", help="both stores with an event broker (that drops)")
    parser.add_argument("--no-wal", action="store_true", help="SQLite's default journal instead of the Rasa process's")
    args = parser.parse_args(argv)
    if not args.no_wal:
        tune_sqlite_tracker_store()
    with overridden(BOT_VAR_DIR=tempfile.mkdtemp(prefix="masking_bench_var_")):  # a throwaway SEAL_KEY
        run(3, args.turns, args.broker)  # warm-up: imports, regexes, SQLite pages
        times = run(args.conversations, args.turns, args.broker)
        alone = redact_cost(args.turns)
    stock50, stock95 = _ms(times["stock"])
    priv50, priv95 = _ms(times["private"])
    rows: list[tuple[str, Callable[[], str]]] = [
        ("Rasa SQLTrackerStore.save", lambda: f"{stock50:8.3f} {stock95:8.3f}"),
        ("PrivateSQLTrackerStore.save", lambda: f"{priv50:8.3f} {priv95:8.3f}"),
        ("difference", lambda: f"{priv50 - stock50:8.3f} {priv95 - stock95:8.3f}"),
        ("ratio", lambda: f"{priv50 / stock50:8.2f} {priv95 / stock95:8.2f}"),
    ]
    paired = statistics.median(p - s for p, s in zip(times["private"], times["stock"], strict=True)) * 1000
    print(
        f"{args.conversations} conversations x {args.turns} turns, SQLite, "
        f"{'with' if args.broker else 'without'} an event broker, {'default journal' if args.no_wal else 'WAL'}; "
        "per save, in ms"
    )
    print(f"{'':30} {'p50':>8} {'p95':>8}")
    for label, cells in rows:
        print(f"{label:30} {cells()}")
    print(f"median of the paired differences (same turn): {paired:.3f} ms")
    print(f"redact() alone, one new turn on a {args.turns}-turn tracker: {alone * 1000:.3f} ms (median)")
    ok = priv50 - stock50 <= TARGET_MS
    print(f"target: difference at p50 <= {TARGET_MS} ms: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
