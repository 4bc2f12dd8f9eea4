"""Closed-loop load on the REST webhook, with the action server and the SQL tracker store.

Starts its own action server and Rasa server (on spare ports, SQLite tracker
store under a temporary folder), then runs N simulated citizens, each sending
the next message of a realistic conversation as soon as the previous reply
arrives. Prints p50/p95/p99 latency per turn and turns per second at each
concurrency, and the Rasa server's resident memory. Traffic goes to 127.0.0.1
only; every loop is bounded in turns and in time.

    python bench/webhook_bench.py [--users 1 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalog.loader import load_curated
from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.runtime.model import ensure_model
from bot.runtime.runner import Ports, start_servers, stop_servers
from bot.settings import settings

CONVERSATION = [
    "xin chào",
    "đăng ký tạm trú cần giấy tờ gì",
    "còn lệ phí thì sao?",
    "mất bao lâu?",
    "lam cccd o dau",
    "đổi gplx online được không",
    "cảm ơn",
]
MAX_TURNS_PER_USER = 2000


async def _user(session: aiohttp.ClientSession, url: str, uid: str, deadline: float, out: list[float]) -> None:
    turn = 0
    while time.monotonic() < deadline and turn < MAX_TURNS_PER_USER:
        text = CONVERSATION[turn % len(CONVERSATION)]
        # Each citizen holds a conversation of len(CONVERSATION) turns, then a new one starts:
        # real chats are short, and one endless tracker would measure event replay instead.
        sender = f"{uid}-c{turn // len(CONVERSATION)}"
        started = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": text}) as resp:
            body = await resp.json()
            if resp.status != 200 or not body:
                raise RuntimeError(f"bad reply to {text!r}: {resp.status} {body!r}")
        out.append(time.perf_counter() - started)
        turn += 1


async def _run(url: str, users: int, seconds: float, tag: str) -> dict[str, float]:
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        # Warm-up: one conversation, not measured.
        await _user(session, url, f"warmup-{tag}", time.monotonic() + 3, [])
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(_user(session, url, f"{tag}-{i}", deadline, latencies) for i in range(users)))
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "users": users,
        "turns": len(ordered),
        "turns_per_s": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (Rasa may fork helpers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().split()
            if int(entry.name) == pid or int(stat[3]) == pid:
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


async def _parse_ms(base: str, n: int = 100) -> float:
    """Median time of NLU alone (POST /model/parse), to tell NLU cost from the dialogue's."""
    timings = []
    # Rasa's HTTP API needs the token (RASA_TOKEN).
    token = settings().runtime.rasa_token.reveal()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for i in range(n):
            started = time.perf_counter()
            body = {"text": CONVERSATION[i % len(CONVERSATION)]}
            async with session.post(f"{base}/model/parse", json=body, params={"token": token}) as r:
                await r.json()
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def measure(model: Path, users: list[int], seconds: float, ports: Ports, record: bool = True) -> dict[str, object]:
    """Start the servers with ``model`` and measure NLU time, load at each concurrency and memory
    (``record``: with the event broker that feeds the record of conversations, as ``make run``)."""
    with tempfile.TemporaryDirectory() as tmp:
        # Private catalogue and tracker databases, so the benchmark never touches var/.
        os.environ["BOT_VAR_DIR"] = tmp
        os.environ["DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'bot.db'}"
        settings.cache_clear()
        engine = make_engine()
        ensure_schema(engine)
        load_curated(engine=engine)
        engine.dispose()
        procs = start_servers(
            model, ports, log_dir=Path(tmp), tracker_db=Path(tmp) / "tracker.db", record=record, console=False
        )
        try:
            base = f"http://{ports.host}:{ports.rasa}"
            url = f"{base}/webhooks/rest/webhook"
            loads = [asyncio.run(_run(url, u, seconds, f"u{u}-{time.monotonic_ns()}")) for u in users]
            return {
                "parse_ms": asyncio.run(_parse_ms(base)),
                "loads": loads,
                "rasa_rss_mb": _rss_mb(procs[1].pid),
                "actions_rss_mb": _rss_mb(procs[0].pid),
            }
        finally:
            stop_servers(procs)


def record_cost(model: Path, users: list[int], seconds: float, ports: Ports, rounds: int = 1) -> int:
    """The record of conversations' cost per turn: the same load without, then with, the event broker,
    ``rounds`` times in alternation (this machine's speed drifts); medians of the per-round differences."""
    deltas: dict[int, list[tuple[float, float, float]]] = {u: [] for u in users}
    for n in range(1, rounds + 1):
        runs = {}
        for record in (False, True):
            runs[record] = measure(model, users, seconds, ports, record=record)
            print(f"round {n}, " + ("with the record:" if record else "without the record (baseline):"))
            for load in runs[record]["loads"]:  # type: ignore[union-attr]
                print_load(load)
        for base, rec in zip(runs[False]["loads"], runs[True]["loads"], strict=True):  # type: ignore[call-overload]
            p50, base_p50 = rec["p50_ms"], base["p50_ms"]
            deltas[base["users"]].append((p50 - base_p50, p50 / base_p50, rec["turns_per_s"] / base["turns_per_s"]))
    for u, values in deltas.items():
        print(
            f"users={u:>3}  p50 {statistics.median(v[0] for v in values):+.1f} ms "
            f"(x{statistics.median(v[1] for v in values):.2f})  "
            f"turns/s x{statistics.median(v[2] for v in values):.2f}  (median of {len(values)} rounds)"
        )
    return 0


def print_load(r: dict[str, float]) -> None:
    """One line per concurrency level."""
    print(
        f"users={r['users']:>3}  turns={r['turns']:>5}  turns/s={r['turns_per_s']:7.1f}  "
        f"p50={r['p50_ms']:6.1f} ms  p95={r['p95_ms']:6.1f} ms  p99={r['p99_ms']:6.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--record-cost",
        action="store_true",
        help="run twice, without and with the record of conversations (event broker), and print the difference",
    )
    parser.add_argument("--rounds", type=int, default=1, help="with --record-cost: alternate this many times")
    args = parser.parse_args()
    model = ensure_model()
    ports = Ports(
        rasa=int(os.environ.get("BENCH_RASA_PORT", "5105")),
        actions=int(os.environ.get("BENCH_ACTION_PORT", "5155")),
    )
    print(f"model {model.name}; REST webhook; SQL tracker store (SQLite); action server; 127.0.0.1")
    if args.record_cost:
        return record_cost(model, args.users, args.seconds, ports, args.rounds)
    result = measure(model, args.users, args.seconds, ports)
    for load in result["loads"]:  # type: ignore[union-attr]
        print_load(load)
    print(f"NLU alone (POST /model/parse): median {result['parse_ms']:.1f} ms")
    print(
        f"resident memory: Rasa server {result['rasa_rss_mb']:.0f} MB, action server {result['actions_rss_mb']:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
