"""Closed-loop load on the REST webhook: our bot (action server, SQL tracker store) and Rasa's stock bot.

Starts its own servers (our action server and Rasa server on spare ports with an SQLite tracker store
under a temporary folder, or the production stack, or Rasa's stock ``rasa init`` bot from
bench/stock_bot.py), then runs N simulated users, each sending the next message of a realistic
conversation as soon as the previous reply arrives; each user holds a conversation of
len(CONVERSATION) turns, then starts a new one with a new sender id. Traffic goes to 127.0.0.1 only;
every loop is bounded in turns and in time. In the load modes a failed request (not 200, empty reply,
exception) is printed and stops the run: a benchmark must not hide errors. The CPU of this machine
is shared: compare figures of the same run only. Ports (all on 127.0.0.1): ours BENCH_RASA_PORT (5105) and
BENCH_ACTION_PORT (5155); the stock bot BENCH_STOCK_PORT (5205); the production stack's balancer
BENCH_PROD_PORT (5305, replicas from 5405) and BENCH_PROD_ACTION_PORT (5355).

Modes:

* plain load (ours, embedded): p50/p95/p99 and turns/s at each concurrency, NLU time alone, memory::

    python bench/webhook_bench.py [--users 1 20] [--seconds 20]

* the cost of the record of conversations (event broker off, then on, ``--rounds`` times)::

    python bench/webhook_bench.py --record-cost --rounds 3

* ours against Rasa's stock starter bot (``rasa init``, trained once and cached), same load, same run;
  at each level the stock bot then ours, ``--rounds`` times; medians over rounds; ratio = ours / stock::

    python bench/webhook_bench.py --baseline stock --users 1 5 20 --seconds 20 [--rounds 3]

  with ``--turns-per-user 20`` each user holds one conversation of 20 turns and stops (20 users × 20
  turns: the protocol of the issue's figures), instead of new 7-turn conversations for ``--seconds``::

    python bench/webhook_bench.py --baseline stock --users 20 --turns-per-user 20 --rounds 3

* the stock bot alone (no model of ours needed)::

    python bench/webhook_bench.py --only stock --users 1 5 --seconds 10

* the production stack (bot.runtime.production: nginx in front of ``--replicas`` Rasa replicas,
  PostgreSQL, Redis, RabbitMQ) instead of the embedded servers; exit code 2 if it cannot start::

    python bench/webhook_bench.py --profile prod --replicas 2 --users 1 20 [--baseline stock]

* embedded, production with 1 replica and with N replicas, side by side (ratio = x / embedded)::

    python bench/webhook_bench.py --profile both --replicas 2 --users 1 20

* one long conversation (same sender for N turns, cycling through the messages): the latency of
  turns 2, 10, 50 and 100 (median of 5 turns around each, then median over ``--rounds`` conversations)
  and the ratio last/turn 2, i.e. what a growing tracker costs::

    python bench/webhook_bench.py --conversation-length 100 --rounds 3 [--baseline stock]

* soak: ``--users`` (first value, default 20) users for SECONDS; errors are counted, not raised;
  the memory of every process started (and their children) is sampled every 10 s; prints turns,
  errors, turns/s, p95 and each process's RSS after warm-up (first sample after 60 s, or after a third
  of SECONDS when shorter than 3 minutes) against the end, flagging any growth above 5 %; with
  ``--baseline stock`` the stock bot is soaked first, then ours::

    python bench/webhook_bench.py --soak 600 --users 20 [--profile prod] [--baseline stock]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import itertools
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import stock_bot

from bot.catalog.loader import load_curated
from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.runtime.model import ensure_model
from bot.runtime.runner import Ports, start_servers, stop_servers
from bot.settings import overridden, settings

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
CHECKPOINTS = (2, 10, 50, 100)
WINDOW = 5  # turns around each checkpoint of --conversation-length
LONG_CONVERSATION_TIMEOUT_S = 1800
SAMPLE_EVERY_S = 10.0
SOAK_WARMUP_S = 60.0
RSS_GROWTH_FLAG = 0.05
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
UNSAFE_SENDER = re.compile(r"[^A-Za-z0-9_.:@-]")


class ProductionUnavailable(RuntimeError):
    """bot.runtime.production is missing or its stack did not start."""


@dataclass
class Target:
    """A running bot: where its REST webhook is, what to say to it and which processes it is made of."""

    name: str
    base: str
    conversation: Sequence[str]
    pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}/webhooks/rest/webhook"


# ---------------------------------------------------------------- the closed-loop client


async def _user(
    session: aiohttp.ClientSession,
    url: str,
    uid: str,
    deadline: float,
    out: list[float],
    conversation: Sequence[str] = CONVERSATION,
    *,
    errors: list[str] | None = None,
    max_turns: int = MAX_TURNS_PER_USER,
    turns_per_conversation: int | None = None,
) -> None:
    """One simulated user: the next message as soon as the reply arrives, until ``deadline`` or ``max_turns``.

    A failed request is printed and raised, or appended to ``errors`` when a list is given (soak).
    """
    per_conversation = turns_per_conversation or len(conversation)
    uid = UNSAFE_SENDER.sub("-", uid)  # our REST channel takes A-Z, a-z, 0-9, _ . : @ - only
    turn = 0
    while time.monotonic() < deadline and turn < max_turns:
        text = conversation[turn % len(conversation)]
        # Each user holds a conversation of len(conversation) turns, then a new one starts:
        # real chats are short, and one endless tracker would measure event replay instead.
        sender = f"{uid}-c{turn // per_conversation}"
        failure = ""
        started = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": text}) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or not body:
                    failure = f"{resp.status} {body!r}"[:300]
        except Exception as exc:  # any failure of the request counts: connection, timeout, not JSON
            failure = f"{type(exc).__name__}: {exc}"[:300]
        elapsed = time.perf_counter() - started
        turn += 1
        if failure:
            where = f"POST {url} sender={sender!r} turn {turn} message={text!r}: {failure}"
            if errors is None:
                print(f"request failed: {where}", file=sys.stderr, flush=True)
                raise RuntimeError(f"bad reply: {where}")
            errors.append(where)
            await asyncio.sleep(0.1)  # a dead server must not turn the loop into a busy one
            continue
        out.append(elapsed)


def _stats(latencies: list[float], elapsed: float, users: int) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"users": users, "turns": 0, "turns_per_s": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}

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


async def _run(
    url: str,
    users: int,
    seconds: float,
    tag: str,
    conversation: Sequence[str] = CONVERSATION,
    turns_per_user: int | None = None,
) -> dict[str, float]:
    """``users`` closed-loop users for ``seconds`` after one unmeasured warm-up conversation; with
    ``turns_per_user``, each user holds one conversation of that many turns instead (the issue's
    "20 users, 20 turns each"), and the run lasts until all are done (``seconds`` is then a bound)."""
    latencies: list[float] = []
    timeout = aiohttp.ClientTimeout(total=30)
    per_user: dict[str, Any] = {}
    if turns_per_user:
        per_user = {"max_turns": turns_per_user, "turns_per_conversation": turns_per_user}
        seconds = max(seconds, 600.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        # Warm-up: one conversation, not measured.
        await _user(session, url, f"warmup-{tag}", time.monotonic() + 3, [], conversation)
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(_user(session, url, f"{tag}-{i}", deadline, latencies, conversation, **per_user) for i in range(users))
        )
        elapsed = time.monotonic() - started
    return _stats(latencies, elapsed, users)


# ---------------------------------------------------------------- processes and memory


def _proc_table() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, process group, resident KB) of every live process (zombies left out)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            rest = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
            if rest[0] == "Z":
                continue
            table[int(entry.name)] = (int(rest[1]), int(rest[2]), int(rest[21]) * PAGE_KB)
        except (OSError, IndexError, ValueError):
            continue
    return table


def _process_tree(roots: Sequence[int], table: dict[int, tuple[int, int, int]] | None = None) -> dict[int, int]:
    """pid -> resident KB of ``roots``, of every process in their process groups (each was started with
    its own session, so its group id is its pid) and of all their descendants."""
    table = table if table is not None else _proc_table()
    groups = set(roots)
    members = {pid for pid, (_, pgid, _) in table.items() if pid in groups or pgid in groups}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in members} - members
        members |= children
        grew = bool(children)
    return {pid: table[pid][2] for pid in members}


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid``, its process group and its descendants (Rasa may fork helpers)."""
    return sum(_process_tree([pid]).values()) / 1024


def _process_name(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"
    words = raw.split()
    if words and "/" in words[0]:
        words[0] = words[0].rsplit("/", 1)[1]
    # Leave out anything secret-looking: the stock bot's --auth-token.
    shown = []
    for word in words:
        shown.append("…" if shown and shown[-1] in ("--auth-token", "--token") else word)
    words = [w.rsplit("/", 1)[1] if w.startswith("/") and not w.endswith("/") else w for w in shown]
    text = " ".join(words)
    if len(text) > 90:
        port = next((f" … --port {b}" for a, b in itertools.pairwise(words) if a == "--port"), " …")
        text = text[: 90 - len(port)] + port
    return text


# ---------------------------------------------------------------- the bots under test


def _ports() -> Ports:
    return Ports(
        rasa=int(os.environ.get("BENCH_RASA_PORT", "5105")),
        actions=int(os.environ.get("BENCH_ACTION_PORT", "5155")),
    )


@contextlib.contextmanager
def _private_data(tmp: str) -> Iterator[None]:
    """Private catalogue and tracker databases, so the benchmark never touches var/ (restored after)."""
    with overridden(BOT_VAR_DIR=tmp, DATABASE_URL=f"sqlite:///{Path(tmp) / 'bot.db'}"):
        engine = make_engine()
        ensure_schema(engine)
        load_curated(engine=engine)
        engine.dispose()
        yield


@contextlib.contextmanager
def embedded_target(
    model: Path, ports: Ports, record: bool = True, name: str = "ours"
) -> Iterator[tuple[Target, list[subprocess.Popen[bytes]]]]:
    """Our action server and Rasa server (as ``make run``, SQLite tracker store in a temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp, _private_data(tmp):
        procs = start_servers(
            model, ports, log_dir=Path(tmp), tracker_db=Path(tmp) / "tracker.db", record=record, console=False
        )
        try:
            yield Target(name, f"http://{ports.host}:{ports.rasa}", CONVERSATION, [p.pid for p in procs]), procs
        finally:
            stop_servers(procs)


def _production() -> Callable[..., Any]:
    try:
        from bot.runtime.production import start_production
    except Exception as exc:
        raise ProductionUnavailable(f"cannot import bot.runtime.production.start_production: {exc!r}") from exc
    return start_production


@contextlib.contextmanager
def prod_target(model: Path, replicas: int) -> Iterator[Target]:
    """The production stack (bot.runtime.production): nginx in front of ``replicas`` Rasa replicas."""
    start_production = _production()
    with tempfile.TemporaryDirectory(prefix="bench-prod-") as tmp:
        extra: dict[str, Any] = {}
        if "ports" in inspect.signature(start_production).parameters:
            # Spare ports, as the embedded profile's: the balancer there, the replicas from its port + 100.
            extra["ports"] = Ports(
                rasa=int(os.environ.get("BENCH_PROD_PORT", "5305")),
                actions=int(os.environ.get("BENCH_PROD_ACTION_PORT", "5355")),
            )
        try:
            stack = start_production(model, replicas=replicas, log_dir=Path(tmp), console=False, **extra)
        except Exception as exc:
            raise ProductionUnavailable(f"start_production(replicas={replicas}) failed: {exc!r}") from exc
        try:
            pids = [getattr(p, "pid", p) for p in stack.procs]
            yield Target(f"prod×{replicas}", str(stack.balancer_url).rstrip("/"), CONVERSATION, pids)
        finally:
            stack.stop()


@contextlib.contextmanager
def stock_target(model: Path) -> Iterator[Target]:
    """Rasa's stock starter bot (bench/stock_bot.py) on 127.0.0.1:BENCH_STOCK_PORT (5205)."""
    port = int(os.environ.get("BENCH_STOCK_PORT", "5205"))
    proc = stock_bot.start_stock(model, port, secrets.token_urlsafe(24))
    try:
        yield Target("stock", f"http://127.0.0.1:{port}", stock_bot.CONVERSATION, [proc.pid])
    finally:
        stock_bot.stop_stock(proc)


def _ours_factories(args: argparse.Namespace, model: Path | None) -> list[Callable[[], Any]]:
    """Context managers that start our bot, one per profile to measure (none with ``--only stock``)."""
    if args.only == "stock":
        return []
    assert model is not None

    @contextlib.contextmanager
    def embedded() -> Iterator[Target]:
        name = "embedded" if args.profile == "both" else "ours"
        with embedded_target(model, _ports(), name=name) as (target, _):
            yield target

    if args.profile == "embedded":
        return [embedded]
    replicas = [args.replicas] if args.profile == "prod" else sorted({1, args.replicas})
    prods = [lambda n=n: prod_target(model, n) for n in replicas]
    return prods if args.profile == "prod" else [embedded, *prods]


# ---------------------------------------------------------------- the original plain mode


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
    with embedded_target(model, ports, record=record) as (target, procs):
        loads = [asyncio.run(_run(target.url, u, seconds, f"u{u}-{time.monotonic_ns()}")) for u in users]
        return {
            "parse_ms": asyncio.run(_parse_ms(target.base)),
            "loads": loads,
            "rasa_rss_mb": _rss_mb(procs[1].pid),
            "actions_rss_mb": _rss_mb(procs[0].pid),
        }


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


def print_load(r: dict[str, float], label: str = "") -> None:
    """One line per concurrency level."""
    print(
        f"{label}users={r['users']:>3}  turns={r['turns']:>5}  turns/s={r['turns_per_s']:7.1f}  "
        f"p50={r['p50_ms']:6.1f} ms  p95={r['p95_ms']:6.1f} ms  p99={r['p99_ms']:6.1f} ms",
        flush=True,
    )


# ---------------------------------------------------------------- side by side under load

Loads = dict[str, dict[int, list[dict[str, float]]]]


def load_rounds(
    targets: Sequence[Target], users: Sequence[int], seconds: float, rounds: int, turns_per_user: int | None = None
) -> Loads:
    """At each concurrency, each target in turn (same client, same duration), ``rounds`` times."""
    loads: Loads = {t.name: {u: [] for u in users} for t in targets}
    for n in range(1, rounds + 1):
        for u in users:
            for t in targets:
                tag = f"{t.name}-r{n}-u{u}-{time.monotonic_ns()}"
                result = asyncio.run(_run(t.url, u, seconds, tag, t.conversation, turns_per_user))
                loads[t.name][u].append(result)
                print_load(result, f"round {n}  {t.name:<9}")
    return loads


def _median_of(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in results)


def print_table(loads: Loads, ref: str, other: str, rounds: int) -> None:
    """users | ref turns/s | other turns/s | ratio | ref p95 | other p95 | p95 ratio (ratios: other / ref)."""
    print(f"\n{other} against {ref}, median of {rounds} round(s); ratio = {other} / {ref}")
    header = (
        f"{'users':>5} | {ref + ' turns/s':>16} | {other + ' turns/s':>16} | {'ratio':>6} | "
        f"{ref + ' p95 ms':>15} | {other + ' p95 ms':>15} | {'p95 ratio':>9}"
    )
    print(header)
    print("-" * len(header))
    for u in loads[ref]:
        a_tps, b_tps = _median_of(loads[ref][u], "turns_per_s"), _median_of(loads[other][u], "turns_per_s")
        a_p95, b_p95 = _median_of(loads[ref][u], "p95_ms"), _median_of(loads[other][u], "p95_ms")
        print(
            f"{u:>5} | {a_tps:>16.1f} | {b_tps:>16.1f} | {b_tps / a_tps if a_tps else float('nan'):>6.2f} | "
            f"{a_p95:>15.1f} | {b_p95:>15.1f} | {b_p95 / a_p95 if a_p95 else float('nan'):>9.2f}"
        )


def _print_memory(targets: Sequence[Target]) -> None:
    for t in targets:
        tree = _process_tree(t.pids)
        print(f"resident memory, {t.name}: {sum(tree.values()) / 1024:.0f} MB in {len(tree)} process(es)")


# ---------------------------------------------------------------- one long conversation


def _checkpoints(turns: int) -> list[int]:
    points = [t for t in CHECKPOINTS if t <= turns]
    return points if turns in points else [*points, turns]


def _window(latencies: list[float], turn: int) -> float:
    """Median latency (ms) of WINDOW turns around ``turn`` (1-based), inside turns 2..len, turn 1 left out."""
    start = max(2, min(turn - WINDOW // 2, len(latencies) - WINDOW + 1))
    return statistics.median(latencies[start - 1 : start - 1 + WINDOW]) * 1000


async def _long_conversation(t: Target, turns: int, sender: str) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await _user(
            session, t.url, sender, time.monotonic() + LONG_CONVERSATION_TIMEOUT_S, latencies, t.conversation,
            max_turns=turns, turns_per_conversation=turns,
        )  # fmt: skip
    if len(latencies) < turns:
        raise RuntimeError(f"{t.name}: only {len(latencies)} of {turns} turns in {LONG_CONVERSATION_TIMEOUT_S} s")
    return latencies


def long_conversations(targets: Sequence[Target], turns: int, rounds: int) -> dict[str, dict[int, list[float]]]:
    """One user, one sender, ``turns`` turns; each target in turn, ``rounds`` times with new senders."""
    points = _checkpoints(turns)
    windows: dict[str, dict[int, list[float]]] = {t.name: {p: [] for p in points} for t in targets}
    for n in range(1, rounds + 1):
        for t in targets:
            # Warm-up: one short conversation, not measured.
            asyncio.run(_run(t.url, 1, 0.0, f"warmup-long-{t.name}-{time.monotonic_ns()}", t.conversation))
            latencies = asyncio.run(_long_conversation(t, turns, f"long-{t.name}-r{n}-{time.monotonic_ns()}"))
            shown = []
            for p in points:
                windows[t.name][p].append(_window(latencies, p))
                shown.append(f"turn {p}: {windows[t.name][p][-1]:.1f} ms")
            print(f"round {n}  {t.name:<9} " + "  ".join(shown), flush=True)
    return windows


def print_long(windows: dict[str, dict[int, list[float]]], turns: int, rounds: int) -> None:
    points = _checkpoints(turns)
    print(f"\none conversation of {turns} turns; median of {WINDOW} turns around each, median of {rounds} round(s)")
    header = f"{'bot':<9} | " + " | ".join(f"{'turn ' + str(p) + ' ms':>12}" for p in points) + f" | {'last/2':>6}"
    print(header)
    print("-" * len(header))
    for name, by_point in windows.items():
        values = [statistics.median(by_point[p]) for p in points]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"{name:<9} | " + " | ".join(f"{v:>12.1f}" for v in values) + f" | {ratio:>6.2f}")


# ---------------------------------------------------------------- soak


async def _soak(t: Target, users: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    samples: list[tuple[float, dict[int, int]]] = []
    started = time.monotonic()
    deadline = started + seconds

    async def sampler() -> None:
        while True:
            samples.append((time.monotonic() - started, _process_tree(t.pids)))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(SAMPLE_EVERY_S, remaining))

    # Enough turns never to stop a user before the deadline, yet a bound.
    max_turns = max(MAX_TURNS_PER_USER, int(seconds * 200))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        users_done = [
            _user(
                session,
                t.url,
                f"soak-{t.name}-{i}-{time.monotonic_ns()}",
                deadline,
                latencies,
                t.conversation,
                errors=errors,
                max_turns=max_turns,
            )
            for i in range(users)
        ]
        await asyncio.gather(sampler(), *users_done)
    elapsed = time.monotonic() - started
    samples.append((elapsed, _process_tree(t.pids)))
    return {"load": _stats(latencies, elapsed, users), "errors": errors, "samples": samples}


def print_soak(t: Target, result: dict[str, Any], seconds: float) -> None:
    load, errors, samples = result["load"], result["errors"], result["samples"]
    print(
        f"\nsoak {t.name}: {load['users']} users for {seconds:.0f} s: turns={load['turns']}  errors={len(errors)}  "
        f"turns/s={load['turns_per_s']:.1f}  p95={load['p95_ms']:.1f} ms  p50={load['p50_ms']:.1f} ms"
    )
    for line in errors[:5]:
        print(f"  error: {line}")
    if len(errors) > 5:
        print(f"  … and {len(errors) - 5} more")
    warmup = min(SOAK_WARMUP_S, seconds / 3)
    warm_at, warm = next(((s, m) for s, m in samples if s >= warmup), samples[-1])
    end_at, end = samples[-1]
    print(f"resident memory per process, after warm-up (t={warm_at:.0f} s) and at the end (t={end_at:.0f} s):")
    flagged = 0
    for pid in sorted(set(warm) | set(end)):
        before, after = warm.get(pid), end.get(pid)
        if before is None or after is None:
            state = "started after warm-up" if before is None else "gone before the end"
            print(f"  {pid:>7}  {(before or after or 0) / 1024:7.1f} MB  ({state})  {_process_name(pid)}")
            continue
        change = (after - before) / before if before else 0.0
        flag = "  << grew more than 5 %" if change > RSS_GROWTH_FLAG else ""
        flagged += bool(flag)
        print(
            f"  {pid:>7}  {before / 1024:7.1f} -> {after / 1024:7.1f} MB  {change * 100:+6.1f} %{flag}  "
            f"{_process_name(pid)}"
        )
    print(f"{flagged} process(es) grew more than 5 % after warm-up" if flagged else "no process grew more than 5 %")


# ---------------------------------------------------------------- main


def _targets_mode(args: argparse.Namespace) -> int:
    """--baseline, --only, --profile prod|both, --conversation-length and --soak."""
    stock_model = stock_bot.ensure_stock_model() if args.baseline == "stock" or args.only == "stock" else None
    model = None if args.only == "stock" else ensure_model()
    factories = _ours_factories(args, model)
    if args.profile != "embedded" and args.only != "stock":
        _production()  # fail early, before starting anything
    parts = ["REST webhook", "127.0.0.1"]
    if stock_model:
        parts.append("stock = Rasa's `rasa init` bot (in-memory tracker store, no action server)")
    if model:
        parts.append(f"ours = model {model.name}")
    print("; ".join(parts))
    with contextlib.ExitStack() as outer:
        stock = outer.enter_context(stock_target(stock_model)) if stock_model else None
        if args.soak:
            for factory in factories or [None]:
                with factory() if factory else contextlib.nullcontext() as ours:
                    for t in [x for x in (stock if args.soak_stock else None, ours) if x is not None]:
                        print_soak(t, asyncio.run(_soak(t, args.users[0], args.soak)), args.soak)
                args.soak_stock = False  # the stock bot once, not once per profile
            return 0
        phases: list[Loads] = []
        names: list[str] = []
        for factory in factories or [None]:
            with factory() if factory else contextlib.nullcontext() as ours:
                targets = [x for x in (stock, ours) if x is not None]
                if ours is not None:
                    names.append(ours.name)
                if args.conversation_length:
                    print_long(long_conversations(targets, args.conversation_length, args.rounds),
                               args.conversation_length, args.rounds)  # fmt: skip
                else:
                    phases.append(load_rounds(targets, args.users, args.seconds, args.rounds, args.turns_per_user))
                    _print_memory(targets)
        if args.conversation_length:
            return 0
        if stock is not None:
            for loads, name in zip(phases, names, strict=False):
                print_table(loads, "stock", name, args.rounds)
        if len(names) > 1:
            merged: Loads = {name: loads[name] for loads, name in zip(phases, names, strict=True)}
            for name in names[1:]:
                print_table(merged, names[0], name, args.rounds)
        if (stock is None or not names) and len(names) <= 1:  # no table: the medians per bot
            for loads in phases:
                for name, by_users in loads.items():
                    for u, results in by_users.items():
                        print(f"{name}: users={u} median of {len(results)} round(s): "
                              f"turns/s={_median_of(results, 'turns_per_s'):.1f}  "
                              f"p95={_median_of(results, 'p95_ms'):.1f} ms")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--record-cost",
        action="store_true",
        help="run twice, without and with the record of conversations (event broker), and print the difference",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate this many times (--record-cost, --baseline, --profile, "
        "--conversation-length); figures are medians over rounds"
    )  # fmt: skip
    parser.add_argument("--baseline", choices=["stock"], help="also measure Rasa's stock `rasa init` bot, same run")
    parser.add_argument("--only", choices=["stock"], help="measure only the stock bot (no model of ours needed)")
    parser.add_argument(
        "--profile", choices=["embedded", "prod", "both"], default="embedded",
        help="our bot as `make run` starts it (embedded), behind nginx (prod, bot.runtime.production), or both",
    )  # fmt: skip
    parser.add_argument("--replicas", type=int, default=2, help="Rasa replicas of --profile prod|both")
    parser.add_argument(
        "--turns-per-user", type=int, default=None,
        help="each user holds ONE conversation of this many turns and stops (the issue's protocol: 20)",
    )  # fmt: skip
    parser.add_argument(
        "--conversation-length", type=int, metavar="N",
        help="one user, one conversation of N turns: latency of turns 2, 10, 50, 100 and the ratio last/2",
    )  # fmt: skip
    parser.add_argument(
        "--soak", type=float, metavar="SECONDS",
        help="--users[0] users for SECONDS: errors counted, every process's memory sampled every 10 s",
    )  # fmt: skip
    args = parser.parse_args()
    if args.conversation_length is not None and args.conversation_length < WINDOW + 1:
        parser.error(f"--conversation-length must be at least {WINDOW + 1}")
    if args.soak is not None and args.soak <= 0:
        parser.error("--soak needs a positive number of seconds")
    if args.rounds < 1 or args.replicas < 1 or min(args.users) < 1:
        parser.error("--rounds, --replicas and --users must be at least 1")
    if args.record_cost and (args.baseline or args.only or args.profile != "embedded" or args.soak):
        parser.error("--record-cost measures the embedded profile alone")
    if args.soak and args.conversation_length:
        parser.error("--soak and --conversation-length are separate modes")
    if args.soak and len(args.users) > 1:
        print(f"--soak: {args.users[0]} users (the first --users value)")
    args.soak_stock = args.only == "stock" or args.baseline == "stock"
    if args.baseline or args.only or args.profile != "embedded" or args.conversation_length or args.soak:
        try:
            return _targets_mode(args)
        except ProductionUnavailable as exc:
            print(f"--profile {args.profile}: the production stack is not available: {exc}", file=sys.stderr)
            return 2
    model = ensure_model()
    ports = _ports()
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
