"""10,000 malformed and hostile requests against every way in; prints the answers' status counts.

Starts its own action server and Rasa server (spare ports, a temporary folder,
Telegram and Zalo enabled with secrets of its own; their outgoing calls go to a
closed local port, so nothing leaves the machine), then sends a seeded random mix
of bodies to the REST, Telegram, Zalo and one-door webhooks (with valid secrets
and signatures) and to the action server (with its token). Prints, per target,
how many answers were 2xx, 4xx and 5xx, and whether any fuzzed personal data
reached a log. Traffic goes to 127.0.0.1 only; the loop is bounded in count.

    python bench/fuzz_bench.py [--requests 10000] [--seed 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.catalog.loader import load_curated
from bot.channels.zalo import signature as zalo_signature
from bot.db import make_engine
from bot.db.schema import ensure_schema
from bot.dossiers.demo import seed_demo
from bot.dossiers.watcher import sign_webhook
from bot.runtime.action_server import TOKEN_HEADER
from bot.runtime.model import ensure_model
from bot.runtime.runner import Ports, start_servers, stop_servers
from bot.settings import settings

PERSONAL = ["0912345678", "001099012345", "nguyenvana@example.com"]
WORDS = ["xin chào", "đăng ký tạm trú cần giấy tờ gì", "6789", "tra cứu hồ sơ 000.00.00.H99-261120-0001",
         '/ask_documents{"procedure_code": "1.004222", "case": "²"}', "/EXTERNAL_dossier_update{}", "\ud800",
         "a" * 5000, "１２３４", *PERSONAL]  # fmt: skip
SECRETS = {
    "ONEDOOR_WEBHOOK_SECRET": "bench-onedoor",
    "TELEGRAM_BOT_TOKEN": "1:bench",
    "TELEGRAM_SECRET_TOKEN": "bench-telegram",
    "ZALO_APP_ID": "77",
    "ZALO_APP_SECRET": "bench-zalo",
    "ZALO_OA_SECRET_KEY": "bench-oa",
    "ZALO_REFRESH_TOKEN": "r0",
    "ZALO_ACCESS_TOKEN": "a0",
    "ACTION_SERVER_TOKEN": "bench-actions",
}


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -1, 2**64, 1.5])
    if kind in (2, 3):
        return rng.choice(WORDS)
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(20)))
    if kind == 5:
        return str(rng.randrange(100))
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["sender", "message", "metadata", "code", "status", "text", "next_action", "tracker", "x"]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randrange(5))}


def _body(rng: random.Random, shaped: dict[str, Any]) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.choice([b"", b"[" * 100_000, b"{", b"null", bytes(rng.randrange(256) for _ in range(64))])
    if roll < 0.4:
        return json.dumps(_value(rng)).encode()
    mutated = {k: (v if rng.random() < 0.7 else _value(rng)) for k, v in shaped.items()}
    return json.dumps(mutated).encode()


def _request(rng: random.Random, base: str, actions: str) -> tuple[str, str, bytes, dict[str, str]]:
    """(target name, url, body, headers) for one fuzzed request."""
    target = rng.choice(["rest", "telegram", "zalo", "onedoor", "actions"])
    now = int(time.time())
    if target == "rest":
        body = _body(rng, {"sender": f"fz{rng.randrange(50)}", "message": rng.choice(WORDS)})
        return target, f"{base}/webhooks/rest/webhook", body, {}
    if target == "telegram":
        message = {"message_id": 1, "date": now, "text": rng.choice(WORDS), "from": {"id": 5, "is_bot": False},
                   "chat": {"id": rng.randrange(1, 99), "type": "private"}}  # fmt: skip
        shaped = {"update_id": rng.randrange(10**6), "message": message}
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_SECRET_TOKEN"]}
        return target, f"{base}/webhooks/telegram_ptb/webhook", _body(rng, shaped), headers
    if target == "zalo":
        stamp = str(now * 1000)
        shaped = {"app_id": SECRETS["ZALO_APP_ID"], "event_name": "user_send_text", "timestamp": stamp,
                  "sender": {"id": str(rng.randrange(99))},
                  "message": {"text": rng.choice(WORDS), "msg_id": str(rng.random())}}  # fmt: skip
        body = _body(rng, shaped)
        try:
            stamp = str(json.loads(body).get("timestamp") or "")
        except Exception:  # not an object: the signature still covers the body
            stamp = ""
        try:
            mac = zalo_signature(SECRETS["ZALO_APP_ID"], body, stamp, SECRETS["ZALO_OA_SECRET_KEY"])
        except UnicodeEncodeError:  # a fuzzed timestamp (a lone surrogate) cannot be signed: send it unsigned
            mac = "mac=0"
        headers = {"X-ZEvent-Signature": mac}
        return target, f"{base}/webhooks/zalo/webhook", body, headers
    if target == "onedoor":
        body = _body(rng, {"code": "000.00.00.H99-261102-0003", "status": rng.randrange(12)})
        headers = {"X-Onedoor-Signature": sign_webhook(body, SECRETS["ONEDOOR_WEBHOOK_SECRET"], now)}
        return target, f"{base}/webhooks/onedoor/status", body, headers
    shaped = {"next_action": rng.choice(["action_answer_procedure", "action_dossier_status", "validate_dossier_form",
              "action_notify_dossier_update", "nope"]), "sender_id": "x",
              "tracker": {"sender_id": "x", "events": [],
                          "latest_message": {"text": rng.choice(WORDS), "entities": []}},
              "domain": {}}  # fmt: skip
    return target, f"{actions}/webhook", _body(rng, shaped), {TOKEN_HEADER: SECRETS["ACTION_SERVER_TOKEN"]}


async def _fire(requests: list[tuple[str, str, bytes, dict[str, str]]], workers: int) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    queue: asyncio.Queue[tuple[str, str, bytes, dict[str, str]]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            target, url, body, headers = queue.get_nowait()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    outcome = f"{resp.status // 100}xx"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                outcome = f"error:{type(exc).__name__}"
            counts.setdefault(target, Counter())[outcome] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await asyncio.gather(*(worker(session) for _ in range(workers)))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    model = ensure_model()
    ports = Ports(
        rasa=int(os.environ.get("BENCH_RASA_PORT", "5106")),
        actions=int(os.environ.get("BENCH_ACTION_PORT", "5156")),
    )
    with tempfile.TemporaryDirectory() as tmp:
        closed = "http://127.0.0.1:9"  # the discard port: nothing listens, so channel replies fail locally
        os.environ.update(SECRETS)
        os.environ.update({"BOT_VAR_DIR": tmp, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bot.db'}"})
        os.environ.update({"TELEGRAM_API_BASE_URL": f"{closed}/bot", "ZALO_API_BASE": closed})
        os.environ["ZALO_OAUTH_BASE"] = closed
        settings.cache_clear()
        engine = make_engine()
        ensure_schema(engine)
        load_curated(engine=engine)
        seed_demo(engine)
        engine.dispose()
        procs = start_servers(model, ports, log_dir=Path(tmp) / "log", tracker_db=Path(tmp) / "tracker.db")
        try:
            rng = random.Random(args.seed)
            base, actions = f"http://{ports.host}:{ports.rasa}", f"http://{ports.host}:{ports.actions}"
            batch = [_request(rng, base, actions) for _ in range(args.requests)]
            started = time.perf_counter()
            counts = asyncio.run(_fire(batch, args.workers))
            elapsed = time.perf_counter() - started
        finally:
            stop_servers(procs)
        logs = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (Path(tmp) / "log").glob("*.log"))
    total: Counter[str] = Counter()
    print(f"{args.requests} fuzzed requests in {elapsed:.0f} s ({args.requests / elapsed:.0f}/s), seed {args.seed}")
    for target in sorted(counts):
        total.update(counts[target])
        print(f"  {target:<8} " + "  ".join(f"{k}={v}" for k, v in sorted(counts[target].items())))
    print("  total    " + "  ".join(f"{k}={v}" for k, v in sorted(total.items())))
    leaked = [item for item in PERSONAL if item in logs]
    print(f"personal data in logs: {', '.join(leaked) if leaked else 'none'}")
    return 1 if total.get("5xx") or leaked or any(k.startswith("error") for k in total) else 0


if __name__ == "__main__":
    sys.exit(main())
