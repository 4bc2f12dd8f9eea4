"""Benchmark the conversation record (bot.conversations): Recorder throughput, list and transcript latency.

Populates a scratch database (a temporary SQLite file, and/or a scratch PostgreSQL database on
127.0.0.1:5432 when it is reachable) with ``--conversations`` conversations (default 100,000) of
generated Rasa event dicts as the event broker publishes them (about 20 events each, 2,000,000 in
all): citizen messages with varied intents, confidences, channels and procedure codes, actions,
``procedure_code`` slots, bot replies, some fallbacks, hand-offs to staff (pause, staff replies,
resume) and ratings. Population goes through :class:`~bot.conversations.recorder.Recorder` itself
(batches of ``--batch`` events), so the figure printed for it is the recorder's throughput in
events/s. Then it times, over ``--runs`` runs (default 30) after one warm-up, p50/p95/max of:
the first page (50) of ``ConversationRecord.list`` with no filter and with each single filter
(parameters drawn at random per run), and ``transcript`` of a random conversation.

Targets: list first page p95 ≤ 300 ms with any one filter; transcript p95 ≤ 100 ms.

Usage: ``.venv/bin/python bench/conversations_bench.py [--conversations N] [--db sqlite|postgres|both]
[--runs N] [--batch N] [--seed N]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bot.conversations import ConversationFilter, ConversationRecord, Recorder  # noqa: E402
from bot.conversations.models import ConversationRow, ProcedureRow, TurnRow  # noqa: E402
from bot.db import make_engine  # noqa: E402
from bot.db.clock import to_vn  # noqa: E402
from bot.db.schema import ensure_schema  # noqa: E402

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
LIST_TARGET_MS, TRANSCRIPT_TARGET_MS = 300.0, 100.0
START = 1733000000.0  # 2024-11-30
SPAN_DAYS = 90

CHANNELS = [("socketio", 45), ("zalo", 25), ("telegram_ptb", 20), ("rest", 10)]
PROCEDURES = [
    "đăng ký tạm trú", "đăng ký thường trú", "cấp đổi căn cước", "cấp hộ chiếu phổ thông", "đăng ký khai sinh",
    "đăng ký kết hôn", "cấp giấy phép lái xe", "đổi giấy phép lái xe", "cấp phiếu lý lịch tư pháp",
    "đăng ký hộ kinh doanh", "cấp giấy phép xây dựng", "chứng thực bản sao", "đăng ký khai tử",
    "xác nhận tình trạng hôn nhân", "cấp sổ đỏ", "đăng ký biến động đất đai", "đăng ký xe máy",
    "cấp giấy chứng nhận an toàn thực phẩm", "đăng ký thành lập doanh nghiệp", "trợ cấp thất nghiệp",
]  # fmt: skip
CODES = [f"{random.Random(i).choice('12')}.{i * 7919 % 1000000:06d}" for i in range(1, 301)]
INTENTS = ["ask_fee", "ask_documents", "ask_time", "ask_place", "ask_procedure", "ask_form", "ask_result",
           "dossier_status", "greet", "goodbye", "thank", "affirm", "deny", "request_human", "ask_online",
           "ask_payment", "ask_english", "complain", "ask_hours", "chitchat"]  # fmt: skip
QUESTIONS = [
    "cho hỏi thủ tục {p} cần giấy tờ gì ạ", "lệ phí {p} bao nhiêu vậy", "{p} mất bao lâu thì có kết quả",
    "nộp hồ sơ {p} ở đâu", "làm {p} online được không", "mình muốn {p} thì làm thế nào",
    "hồ sơ {p} của tôi đến đâu rồi", "tôi cần mẫu tờ khai {p}", "cho e hỏi {p} ở phường có làm không",
]  # fmt: skip
ANSWERS = [
    "Thủ tục {p} (mã {c}): hồ sơ gồm tờ khai theo mẫu, bản sao giấy tờ tùy thân và giấy tờ chứng minh "
    "liên quan. Nộp tại bộ phận một cửa cấp xã hoặc trực tuyến trên cổng dịch vụ công.",
    "Lệ phí {p} là {fee}.000 đồng; miễn cho một số đối tượng chính sách. Thanh toán trực tuyến hoặc tại quầy.",
    "Thời hạn giải quyết {p}: {days} ngày làm việc kể từ khi nhận đủ hồ sơ hợp lệ.",
    "Anh/chị có thể nộp hồ sơ {p} trực tuyến tại dichvucong.gov.vn, đăng nhập bằng tài khoản định danh.",
]  # fmt: skip
FALLBACK_TEXTS = ["alo", "???", "hmm có ai ko", "ok", "abc xyz", "bạn là ai", "hello"]
FALLBACK_REPLY = "Xin lỗi, tôi chưa hiểu ý anh/chị. Anh/chị có thể hỏi về một thủ tục hành chính cụ thể không?"
RARE_WORDS = ["khieunai", "vuonmit", "caulong", "thuyenrong", "banhchung"]


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p for p, _ in pairs], [w for _, w in pairs])[0]


def conversation_events(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """The events of the ``n``-th generated conversation, in the order the broker sends them."""
    channel = _weighted(rng, CHANNELS)
    sender = f"{channel}:{uuid.UUID(int=rng.getrandbits(128)).hex}"
    t = START + rng.random() * SPAN_DAYS * 86400
    model = rng.choice(["20241101-aaa", "20241201-bbb", "20250101-ccc"])
    out: list[dict[str, Any]] = []

    def ev(**fields: Any) -> None:
        nonlocal t
        t += rng.uniform(0.05, 20.0)
        out.append({"sender_id": sender, "timestamp": t, **fields})

    ev(event="action", name="action_session_start", policy=None, confidence=1.0)
    ev(event="session_started")
    ev(event="action", name="action_listen", policy=None, confidence=1.0)
    turns = max(1, min(10, int(rng.expovariate(1 / 4.0)) + 1))
    procedure = rng.randrange(len(PROCEDURES))
    for turn in range(turns):
        if rng.random() < 0.3:
            procedure = rng.randrange(len(PROCEDURES))
        p = PROCEDURES[procedure]
        code = CODES[min(int(rng.paretovariate(1.2)) - 1 + procedure * 7, len(CODES) - 1)]
        fallback = rng.random() < 0.07
        if fallback:
            question, intent, confidence = rng.choice(FALLBACK_TEXTS), "nlu_fallback", rng.uniform(0.05, 0.39)
        else:
            question = rng.choice(QUESTIONS).format(p=p)
            intent, confidence = rng.choice(INTENTS), min(1.0, rng.betavariate(8, 1.5))
            if rng.random() < 0.002:
                question += " " + rng.choice(RARE_WORDS)
        ev(event="user", text=question, input_channel=channel, message_id=uuid.UUID(int=rng.getrandbits(128)).hex,
           parse_data={"intent": {"name": intent, "confidence": confidence},
                       "entities": [] if fallback else [{"entity": "procedure", "value": p, "start": 0, "end": len(p)}],
                       "intent_ranking": [{"name": intent, "confidence": confidence}], "text": question},
           metadata={"model_id": model})  # fmt: skip
        if fallback:
            ev(event="action", name="action_fallback_ladder", policy="RulePolicy", confidence=1.0)
            ev(event="bot", text=FALLBACK_REPLY, data={"buttons": []}, metadata={"model_id": model})
        else:
            ev(event="action", name="action_answer_procedure", policy="RulePolicy", confidence=1.0)
            if rng.random() < 0.6:
                ev(event="slot", name="procedure_code", value=code)
            answer = rng.choice(ANSWERS).format(p=p, c=code, fee=rng.randint(1, 50) * 5, days=rng.randint(1, 30))
            ev(event="bot", text=answer, data={"buttons": [{"title": "Hỏi tiếp", "payload": "/ask_more"}]},
               metadata={"utter_action": "utter_answer", "model_id": model})  # fmt: skip
        ev(event="action", name="action_listen", policy="RulePolicy", confidence=1.0)
        if turn == turns - 1 and rng.random() < 0.05:
            ev(event="pause")
            agent = rng.choice(["lan", "minh", "hoa", "tuan"])
            for _ in range(rng.randint(1, 3)):
                ev(event="bot", text=f"Chào anh/chị, em là {agent}. Về {p}, anh/chị mang CCCD đến bộ phận một cửa.",
                   metadata={"agent": agent})  # fmt: skip
            ev(event="resume")
    if rng.random() < 0.15:
        ev(event="slot", name="csat_rating", value=rng.choice([1, 2, 3, 4, 5, 5, 4, "5"]))
        ev(event="slot", name="csat_target", value="bot")
        if rng.random() < 0.3:
            ev(event="slot", name="csat_comment", value=rng.choice(["tốt", "chưa rõ", "nhanh", "cần thêm cán bộ"]))
    return out


def populate(engine: Engine, conversations: int, batch: int, seed: int) -> tuple[int, float]:
    """Apply the generated events through the Recorder; (events, seconds)."""
    rng = random.Random(seed)
    recorder = Recorder(engine)
    pending: list[dict[str, Any]] = []
    total, started, report = 0, time.perf_counter(), time.perf_counter()
    for n in range(conversations):
        pending += conversation_events(n, rng)
        if len(pending) >= batch:
            total += recorder.apply(pending)
            pending = []
            if time.perf_counter() - report > 15:
                report = time.perf_counter()
                rate = total / (report - started)
                print(f"    … {n + 1:,} conversations, {total:,} events, {rate:,.0f} events/s", flush=True)
    total += recorder.apply(pending)
    return total, time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def measure(runs: int, call: Callable[[int], object]) -> tuple[float, float, float]:
    """p50, p95, max in ms of ``call(run)`` over ``runs`` runs, after one warm-up."""
    call(-1)
    samples = []
    for run in range(runs):
        t0 = time.perf_counter()
        call(run)
        samples.append((time.perf_counter() - t0) * 1000)
    return _percentiles(samples)


def bench(engine: Engine, label: str, args: argparse.Namespace) -> bool:
    """Populate, then time; True when every target is met."""
    print(f"\n== {label}: {args.conversations:,} conversations")
    ensure_schema(engine)
    with engine.connect() as conn:
        already = conn.scalar(select(func.count()).select_from(ConversationRow))
    if already:
        print(f"  reusing the {already:,} conversations already there")
    else:
        events, seconds = populate(engine, args.conversations, args.batch, args.seed)
        rate = events / seconds
        print(f"  populate through Recorder.apply: {events:,} events in {seconds:,.1f} s = {rate:,.0f} events/s")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    with engine.connect() as conn:
        convs = conn.scalar(select(func.count()).select_from(ConversationRow))
        turns = conn.scalar(select(func.count()).select_from(TurnRow))
        newest = conn.scalar(select(func.max(ConversationRow.last_at)))
        senders = list(conn.scalars(select(ConversationRow.sender_id)))
        codes = sorted(set(conn.scalars(select(ProcedureRow.code))))  # the codes actually cited
    print(f"  rows: {convs:,} conversations, {turns:,} turns")

    sample_rng = random.Random(args.seed + 1)
    recorder_sample = [e for n in range(500) for e in conversation_events(n, sample_rng)]
    for e in recorder_sample:
        e["sender_id"] = "sample-" + e["sender_id"]
    t0 = time.perf_counter()
    applied = sum(Recorder(engine).apply(recorder_sample[start : start + args.batch])
                  for start in range(0, len(recorder_sample), args.batch))  # fmt: skip
    dt = time.perf_counter() - t0
    print(f"  Recorder.apply sample into the full database: {applied:,} new events in {dt:.2f} s "
          f"= {applied / dt:,.0f} events/s")  # fmt: skip
    t0 = time.perf_counter()
    Recorder(engine).apply(recorder_sample[:2000])
    print(f"  re-applying 2,000 seen events: {(time.perf_counter() - t0) * 1000:.0f} ms (nothing changes)")

    record = ConversationRecord(engine)
    rng = random.Random(args.seed + 2)
    last_day = to_vn(newest).date() if newest else date.today()
    filters: list[tuple[str, Callable[[], ConversationFilter]]] = [
        ("no filter", ConversationFilter),
        ("date range (7 days)", lambda: _days(rng, last_day, 7)),
        ("date_to (old day)", lambda: ConversationFilter(date_to=last_day - timedelta(days=rng.randint(30, 80)))),
        ("channel", lambda: ConversationFilter(channel=rng.choice(["socketio", "zalo", "telegram_ptb", "rest"]))),
        ("fallback", lambda: ConversationFilter(fallback=True)),
        ("confidence_below", lambda: ConversationFilter(confidence_below=rng.choice([0.3, 0.5, 0.7]))),
        ("handed_off", lambda: ConversationFilter(handed_off=True)),
        ("rating_at_most", lambda: ConversationFilter(rating_at_most=rng.choice([1, 2, 3]))),
        ("procedure_code", lambda: ConversationFilter(procedure_code=rng.choice(codes))),
        ("intent", lambda: ConversationFilter(intent=rng.choice(INTENTS))),
        ("text common", lambda: ConversationFilter(text=rng.choice(["dang ky tam tru", "le phi", "ho chieu"]))),
        ("text rare", lambda: ConversationFilter(text=rng.choice(RARE_WORDS))),
        ("text none", lambda: ConversationFilter(text="khong co tu nay " + str(rng.random()))),
        ("text rare+common", lambda: ConversationFilter(text=rng.choice(RARE_WORDS) + " thu tuc")),
    ]
    ok = True
    print(f"  {'list, first page of 50':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'items':>6}")
    for name, make in filters:
        sizes: list[int] = []

        def listing(_run: int, make: Callable[[], ConversationFilter] = make, sizes: list[int] = sizes) -> None:
            sizes.append(len(record.list(make()).items))

        p50, p95, worst = measure(args.runs, listing)
        ok &= p95 <= LIST_TARGET_MS
        flag = "" if p95 <= LIST_TARGET_MS else "  ← over target"
        print(f"  {name:32} {p50:8.1f} {p95:8.1f} {worst:8.1f} {statistics.median(sizes):6.0f}{flag}")
    page = record.list()
    p50, p95, worst = measure(args.runs, lambda _run: record.list(cursor=page.next_cursor))
    print(f"  {'second page (cursor)':32} {p50:8.1f} {p95:8.1f} {worst:8.1f}")
    lengths: list[int] = []
    p50, p95, worst = measure(args.runs, lambda _run: lengths.append(len(record.transcript(rng.choice(senders)))))
    ok &= p95 <= TRANSCRIPT_TARGET_MS
    name = "transcript (random conversation)"
    print(f"  {name:32} {p50:8.1f} {p95:8.1f} {worst:8.1f} {statistics.median(lengths):6.0f}")
    print(f"  targets (list p95 ≤ {LIST_TARGET_MS:.0f} ms, transcript p95 ≤ {TRANSCRIPT_TARGET_MS:.0f} ms): "
          f"{'met' if ok else 'NOT met'}")  # fmt: skip
    return ok


def _days(rng: random.Random, last_day: date, width: int) -> ConversationFilter:
    end = last_day - timedelta(days=rng.randint(0, 60))
    return ConversationFilter(date_from=end - timedelta(days=width - 1), date_to=end)


def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


def postgres_engine(keep: str | None = None) -> Iterator[Engine]:
    """A scratch database (dropped afterwards), or the database ``keep`` (created if missing, kept)."""
    admin = create_engine(PG_URL, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # not reachable: say so and skip
        print(f"\n== PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); skipped")
        admin.dispose()
        return
    name = keep or f"bench_conv_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        if keep is None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=5000, help="events per Recorder.apply call")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--pg-keep", metavar="NAME", help="use (or create) PostgreSQL database NAME and keep it; "
                        "a populated one is reused as it is")  # fmt: skip
    args = parser.parse_args(argv)
    ok = True
    factories: dict[str, Callable[[], Iterator[Engine]]] = {
        "sqlite": sqlite_engine, "postgres": lambda: postgres_engine(args.pg_keep)}  # fmt: skip
    for kind, factory in factories.items():
        if args.db in (kind, "both"):
            for engine in factory():
                ok &= bench(engine, f"{kind} ({engine.url.render_as_string(hide_password=True)})", args)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
